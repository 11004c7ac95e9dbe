"""Replications: the same results on every executor and in any completion order; failures kept apart."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.replications as replications
from cli import app
from sim.replications import (
    ProcessExecutor,
    ReplicationTask,
    SerialExecutor,
    replication_seeds,
    run_replications,
    run_task,
)
from sim.scenario import with_overrides

REPS = 3


@pytest.fixture(scope="module")
def short(baseline):
    return with_overrides(baseline, {"simulation": {"until_year": 2015}})


@pytest.fixture(scope="module")
def serial(short):
    return run_replications(short, seed=5, reps=REPS, executor=SerialExecutor())


class ReversedExecutor:
    """Completes the tasks last-first, as a slow first worker would."""

    def map_unordered(self, fn, items):
        for i in reversed(range(len(items))):
            yield i, fn(items[i])

    def close(self) -> None:
        pass


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.yearly, b.yearly)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)


def test_replication_i_uses_the_ith_spawned_child_of_the_root_seed(short):
    children = replication_seeds(5, REPS)
    # run_task builds the child itself; the same child gives the same draws
    rebuilt = [np.random.SeedSequence(5, spawn_key=(i,)) for i in range(REPS)]
    for child, again in zip(children, rebuilt, strict=True):
        assert (child.generate_state(4) == again.generate_state(4)).all()


def test_replications_differ_from_each_other(serial):
    december = serial.yearly[serial.yearly["year"] == 2015]["caseload_december"]
    assert december.nunique() > 1


def test_completion_order_does_not_change_the_results(short, serial):
    _assert_same(run_replications(short, seed=5, reps=REPS, executor=ReversedExecutor()), serial)


def test_local_processes_give_the_serial_results(short, serial):
    executor = ProcessExecutor(2)
    try:
        _assert_same(run_replications(short, seed=5, reps=REPS, executor=executor), serial)
    finally:
        executor.close()


def test_a_subset_of_replications_matches_the_full_run(short, serial):
    # replication 2 alone is replication 2 of the full run: seeds do not depend on how many run
    alone = run_replications(short, seed=5, reps=REPS, replications=[2])
    expected = serial.yearly[serial.yearly["replication"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.yearly, expected)


def test_a_failed_replication_is_reported_with_seed_and_scenario_and_the_others_kept(short, serial, monkeypatch):
    def fail_on_one(task: ReplicationTask):
        if task.replication == 1:
            raise FloatingPointError("hazard is NaN")
        return run_task(task)

    monkeypatch.setattr(replications, "run_task", fail_on_one)
    result = run_replications(short, seed=5, reps=REPS, executor=SerialExecutor())
    assert [o.replication for o in result.outputs] == [0, 2]
    assert result.failures == [
        {
            "scenario": short.name,
            "seed": 5,
            "replication": 1,
            "error": "FloatingPointError: hazard is NaN",
        }
    ]
    kept = serial.yearly[serial.yearly["replication"] != 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(result.yearly, kept)


def test_what_comes_back_does_not_grow_with_the_number_of_clients(short):
    # results are small tables; a region four times larger sends back the same number of bytes (within 5%)
    big = with_overrides(short, {"region": {"initial_stock": 4 * short.region.initial_stock}})
    outputs = [run_task(ReplicationTask(s, 5, 0)) for s in (short, big)]
    sizes = [len(pickle.dumps((o.yearly, o.monthly))) for o in outputs]
    assert sizes[1] < 1.05 * sizes[0]
    assert sizes[0] < 200_000


def test_an_output_travels_compressed_and_arrives_whole(short):
    output = run_task(ReplicationTask(short, 5, 0, record_events=True))
    sent = pickle.dumps(output)
    assert len(sent) < len(pickle.dumps((output.yearly, output.monthly, output.events)))
    back = pickle.loads(sent)
    for name in ("yearly", "monthly", "events"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(output, name), check_exact=True)
    assert (back.replication, back.client_events, back.kernel_events) == (
        output.replication,
        output.client_events,
        output.kernel_events,
    )


def test_cli_on_a_dask_local_cluster_gives_the_serial_results(tmp_path, serial):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "baseline",
            "--until",
            "2015",
            "--seed",
            "5",
            "--reps",
            str(REPS),
            "--scheduler",
            "local",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out / "yearly.csv")
    expected = pd.read_csv(_csv(serial.yearly, tmp_path / "serial.csv"))
    pd.testing.assert_frame_equal(written, expected)


def _csv(frame: pd.DataFrame, path):
    frame.to_csv(path, index=False)
    return path


def test_a_bad_scheduler_address_is_one_error_line_and_no_output(tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "never"
    result = CliRunner().invoke(
        app, ["run", "baseline", "--until", "2014", "--scheduler", "nonsense", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "--scheduler" in result.output and "nonsense" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
