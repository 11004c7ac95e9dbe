"""Replications (sim/replications.py): the same results on every executor and in any completion
order; failures kept apart; an interrupt, from a signal or disguised by compiled code, stops the
run without a folder; workers end with their parent; a scheduler that is not Dask is one error.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.replications as replications
from cli import app
from sim.replications import (
    ExecutorError,
    ProcessExecutor,
    ReplicationTask,
    SerialExecutor,
    check_dask_scheduler,
    make_executor,
    replication_seeds,
    run_replications,
    run_task,
    worker_count,
)
from sim.scenario import with_overrides

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

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


@pytest.mark.unit
def test_replication_i_uses_the_ith_spawned_child_of_the_root_seed(short):
    children = replication_seeds(5, REPS)
    # run_task builds the child itself; the same child gives the same draws
    rebuilt = [np.random.SeedSequence(5, spawn_key=(i,)) for i in range(REPS)]
    for child, again in zip(children, rebuilt, strict=True):
        assert (child.generate_state(4) == again.generate_state(4)).all()


@pytest.mark.unit
def test_replications_differ_from_each_other(serial):
    december = serial.yearly[serial.yearly["year"] == 2015]["caseload_december"]
    assert december.nunique() > 1


@pytest.mark.unit
def test_completion_order_does_not_change_the_results(short, serial):
    _assert_same(run_replications(short, seed=5, reps=REPS, executor=ReversedExecutor()), serial)


@pytest.mark.cli
def test_local_processes_give_the_serial_results(short, serial):
    executor = ProcessExecutor(2)
    try:
        _assert_same(run_replications(short, seed=5, reps=REPS, executor=executor), serial)
    finally:
        executor.close()


@pytest.mark.unit
def test_a_subset_of_replications_matches_the_full_run(short, serial):
    # replication 2 alone is replication 2 of the full run: seeds do not depend on how many run
    alone = run_replications(short, seed=5, reps=REPS, replications=[2])
    expected = serial.yearly[serial.yearly["replication"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.yearly, expected)


@pytest.mark.unit
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


@pytest.mark.unit
def test_what_comes_back_does_not_grow_with_the_number_of_clients(short):
    # results are small tables; a region four times larger sends back the same number of bytes (within 5%)
    big = with_overrides(short, {"region": {"initial_stock": 4 * short.region.initial_stock}})
    outputs = [run_task(ReplicationTask(s, 5, 0)) for s in (short, big)]
    sizes = [len(pickle.dumps((o.yearly, o.monthly))) for o in outputs]
    assert sizes[1] < 1.05 * sizes[0]
    assert sizes[0] < 200_000


@pytest.mark.unit
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


@pytest.mark.cli
def test_cli_on_a_dask_local_cluster_gives_the_serial_results(tmp_path, serial):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--parameter-draws",
            "0",
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


@pytest.mark.cli
def test_a_bad_scheduler_address_is_one_error_line_and_no_output(tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "never"
    result = CliRunner().invoke(
        app,
        ["run", "--parameter-draws", "0", "baseline", "--until", "2014", "--scheduler", "nonsense", "--out", str(out)],
    )
    assert result.exit_code == 2
    assert "--scheduler" in result.output and "nonsense" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


# -- executors: failures, interrupts, workers ------------------------------------------------------


@pytest.mark.unit
def test_an_interrupt_disguised_by_compiled_code_stops_the_serial_executor():
    """Compiled code turns a KeyboardInterrupt into a SystemError: that is an interrupt, not a failed replication."""

    def disguised(item):
        if item == 1:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise SystemError("returned a result with an exception set") from exc
        return item

    done = []
    with pytest.raises(KeyboardInterrupt):
        for i, result in SerialExecutor().map_unordered(disguised, [0, 1, 2]):
            done.append((i, result))
    assert done == [(0, 0)]  # replication 2 never ran


@pytest.mark.unit
def test_a_failed_replication_is_reported_and_the_others_go_on():
    def failing(item):
        if item == 1:
            raise ValueError("bad")
        return item

    results = list(SerialExecutor().map_unordered(failing, [0, 1, 2]))
    assert [i for i, _ in results] == [0, 1, 2] and isinstance(results[1][1], ValueError)


@pytest.mark.unit
def test_no_more_workers_than_replications():
    assert isinstance(make_executor(None, tasks=1), SerialExecutor)
    assert worker_count(16, tasks=3) == 3 and worker_count(None, tasks=10**6) == (os.cpu_count() or 1)
    with pytest.raises(ExecutorError, match="--workers"):
        worker_count(10**6)


# -- interrupted runs: a real `caseload run` process and a real signal -----------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


DRIVER = textwrap.dedent("""
    import os, sys, time
    import pandas as pd
    import sim.replications as replications

    mode = sys.argv[1]
    if mode in ("run", "compiled"):
        original_task = replications.run_task

        def task(t):
            # the handshake: the test signals once it reads this (one write, so two workers' lines never mix)
            os.write(1, f"running {os.getpid()}\\n".encode())
            if mode == "run":
                return original_task(t)  # the signal lands wherever the replication is
            try:
                time.sleep(60)
            except KeyboardInterrupt as exc:
                # what compiled code makes of an interrupt that lands inside it
                raise SystemError("CPUDispatcher(<function f>) returned a result with an exception set") from exc

        replications.run_task = task
    else:
        original_csv = pd.DataFrame.to_csv

        def slow(self, *args, **kwargs):
            original_csv(self, *args, **kwargs)
            print("writing", flush=True)
            time.sleep(60)

        pd.DataFrame.to_csv = slow
    sys.argv = ["caseload", *sys.argv[2:]]
    from cli import main

    main()
""")


def _reset_sigint() -> None:
    # a shell starts background jobs with SIGINT ignored; a user at a terminal has the default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.cli
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(("moment", "workers"), [("run", 1), ("compiled", 1), ("run", 2), ("write", 1)])
def test_interrupted_run_leaves_no_folder(tmp_path, signum, moment, workers):
    """A signal during a replication (in any code, compiled included) or while writing: exit 130, one line, no folder."""
    out = tmp_path / "out"
    args = ["run", "--parameter-draws", "0", "baseline", "--seed", "5", "--out", str(out), "--workers", str(workers)]
    args += ["--until", "2060", "--reps", "4"] if moment != "write" else ["--until", "2014"]
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "write" if moment == "write" else moment, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_reset_sigint,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = proc.stdout.readline().split()
        assert first[:1] == (["writing"] if moment == "write" else ["running"]), str(first) + proc.stderr.read()
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines() == ["error: interrupted; no output folder was written"], stderr
    assert _leftovers(tmp_path) == [], "an interrupted run left a folder behind"


@pytest.mark.cli
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_pool_workers_end_with_their_parent(tmp_path):
    """A parent killed outright (SIGKILL, no clean-up) takes its worker processes with it."""
    args = [
        "run",
        "--parameter-draws",
        "0",
        "baseline",
        "--until",
        "2060",
        "--reps",
        "4",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "out"),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "running", first
        worker = int(first[1])
        assert worker != proc.pid
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(worker), "a worker outlived its killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.invariants
def test_a_pool_first_used_from_a_thread_that_ends_keeps_its_workers(short_baseline):
    """Linux's death signal follows the thread that forked a worker: a pool started by a job's
    thread (a web app's) must outlive that thread, and a caller that stops reading midway leaves
    the pool usable, its unstarted replications dropped."""
    import threading

    executor = replications.ProcessExecutor(2)
    tasks = [replications.ReplicationTask(short_baseline, 42, i) for i in range(2)]
    try:
        first: dict = {}
        thread = threading.Thread(target=lambda: first.update(executor.map_unordered(replications.run_task, tasks)))
        thread.start()
        thread.join()
        assert sorted(first) == [0, 1] and not any(isinstance(r, Exception) for r in first.values())
        # read one result of six, then stop
        running = executor.map_unordered(replications.run_task, tasks * 3)
        next(running)
        running.close()
        again = dict(executor.map_unordered(replications.run_task, tasks))
        for i in (0, 1):
            pd.testing.assert_frame_equal(again[i].yearly, first[i].yearly)
    finally:
        executor.close()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- a Dask scheduler that is not one --------------------------------------------------------------


class _FakeServer:
    """A TCP service on loopback that sends `greeting` (or nothing) to each client."""

    def __init__(self, greeting: bytes | None) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.greeting, self.clients = greeting, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)
            if self.greeting is not None:
                conn.sendall(self.greeting)
                if not self.greeting:
                    conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.clients:
            conn.close()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.cli
@pytest.mark.parametrize(
    "greeting", [b"SSH-2.0-OpenSSH_9.2\r\n", b"\xff" * 64, b""], ids=["ssh", "huge-length", "closes"]
)
def test_a_service_that_is_not_dask_is_one_error_line(tmp_path, greeting):
    server = _FakeServer(greeting)
    try:
        result = invoke(
            "run", "baseline", "--until", 2014, "--reps", 2, "--scheduler", server.address, "--out", tmp_path / "out"
        )
    finally:
        server.close()
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --scheduler:") and len(result.output.strip().splitlines()) == 1
    assert "not as a Dask scheduler" in result.output and _leftovers(tmp_path) == []


@pytest.mark.unit
def test_a_service_that_never_answers_is_given_up_on_in_bounded_time():
    server = _FakeServer(None)
    started = time.monotonic()
    try:
        with pytest.raises(ExecutorError, match="did not answer as a Dask scheduler within 0.5 s"):
            check_dask_scheduler(server.address, timeout=0.5)
    finally:
        server.close()
    assert time.monotonic() - started < 10


@pytest.mark.unit
def test_a_real_dask_scheduler_passes_the_check():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        check_dask_scheduler(cluster.scheduler_address, timeout=5)


def _die(_item) -> None:
    os._exit(3)  # a worker killed outright (out of memory, a signal, an import that fails under spawn)


@pytest.mark.cli
def test_workers_that_die_give_one_error_that_says_why_not_a_failure_per_replication():
    executor = ProcessExecutor(2)
    try:
        with pytest.raises(ExecutorError, match='if __name__ == "__main__":') as caught:
            list(executor.map_unordered(_die, [1, 2, 3]))
    finally:
        executor.close()
    assert "--workers 1" in str(caught.value)


@pytest.mark.unit
def test_the_main_guard_is_found_wherever_the_script_puts_it():
    import ast

    script = textwrap.dedent(
        """
        import caseload
        def main():
            caseload.run("baseline", reps=4)
        if __name__ == "__main__":
            main()
            main()
        if "__main__" == __name__:
            main()
        if __name__ == "other":
            main()
        main()
        """
    )
    ranges = replications._guarded_lines(ast.parse(script))
    guarded = {line for first, last in ranges for line in range(first, last + 1)}
    assert guarded == {6, 7, 9}  # the calls inside either spelling of the guard, not the others


@pytest.mark.unit
def test_the_guard_check_passes_where_no_script_is_run_again():
    replications.check_main_guard("fork")  # fork copies the parent: nothing runs again
    replications.check_main_guard("spawn")  # called from a test, not from a script's top level
