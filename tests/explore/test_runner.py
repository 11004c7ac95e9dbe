"""The explorer's comparisons (caseload/explore/runner.py): the numbers of `caseload compare`, each
replication run once, a job given up when a newer one comes."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("tomli_w", reason="the explorer's extra is not installed: pip install -e '.[explore]'")

import caseload  # noqa: E402
from caseload.explore.levers import Settings, build  # noqa: E402
from caseload.explore.runner import CachingExecutor, Request, Runner, Stage, scenario_key  # noqa: E402
from sim.replications import ReplicationTask, SerialExecutor, run_task  # noqa: E402
from sim.scenario import with_overrides  # noqa: E402

pytestmark = pytest.mark.invariants


class Counting(SerialExecutor):
    """A serial executor that counts the tasks it runs."""

    def __init__(self) -> None:
        self.ran = 0

    def map_unordered(self, fn, items):
        self.ran += len(items)
        yield from super().map_unordered(fn, items)


@pytest.fixture(scope="module")
def sides():
    reference, _ = build(Settings("focus", until=2020))
    scenario, text = build(Settings("focus", until=2020, changes={"door.gatekeeper_share": 0.3}))
    return reference, scenario, text


def test_a_replication_runs_once_and_comes_back_the_same(short_baseline):
    inner = Counting()
    executor = CachingExecutor(inner)
    tasks = [ReplicationTask(short_baseline, 42, i) for i in range(2)]
    first = dict(executor.map_unordered(run_task, tasks))
    again = dict(executor.map_unordered(run_task, tasks))
    assert inner.ran == 2 and executor.hits == 2
    for i in range(2):
        pd.testing.assert_frame_equal(first[i].yearly, again[i].yearly)
    # a changed setting is another replication; a changed name is not
    other = with_overrides(short_baseline, {"work": {"other_exit_per_month": 0.01}})
    renamed = with_overrides(short_baseline, {"name": "renamed"})
    assert scenario_key(other) != scenario_key(short_baseline) == scenario_key(renamed)
    dict(executor.map_unordered(run_task, [ReplicationTask(other, 42, 0), ReplicationTask(renamed, 42, 0)]))
    assert inner.ran == 3


def test_the_page_has_the_numbers_of_caseload_compare(sides, tmp_path):
    reference, scenario, text = sides
    runner = Runner(workers=1)
    shown = runner.compare(Request(reference, scenario, reps=3, seed=7))
    path = tmp_path / f"{scenario.scenario.name}.toml"
    path.write_text(text, encoding="utf-8")
    command = caseload.compare(
        caseload.scenario("focus", until=2020), path, reps=3, seed=7, attribution=False, executor=SerialExecutor()
    )
    pd.testing.assert_frame_equal(shown.table, command.table)
    pd.testing.assert_frame_equal(shown.break_even, command.break_even)
    # the same request again is answered from memory
    assert runner.compare(Request(reference, scenario, reps=3, seed=7)) is shown


def test_a_changed_lever_runs_only_its_own_side(sides):
    reference, scenario, _ = sides
    inner = Counting()
    runner = Runner(workers=1)
    runner.executor = CachingExecutor(inner)
    runner.compare(Request(reference, scenario, reps=2))
    assert inner.ran == 4
    changed, _ = build(Settings("focus", until=2020, changes={"door.gatekeeper_share": 0.4}))
    runner.compare(Request(reference, changed, reps=2))
    assert inner.ran == 6


def test_a_job_runs_its_stages_in_order_and_stops_when_given_up(sides):
    reference, scenario, _ = sides
    runner = Runner(workers=1)
    job = runner.start(
        [
            Stage("live", Request(reference, scenario, reps=2)),
            Stage("split", Request(reference, scenario, reps=2, attribution=True)),
        ]
    )
    assert job.wait(120)
    assert all(s.result is not None and s.error is None for s in job.stages)
    assert job.stages[1].result.attribution is not None
    assert job.running is None

    given_up = runner.start([Stage("live", Request(reference, scenario, reps=6, seed=3))])
    given_up.cancel()
    assert given_up.wait(120)
    stage = given_up.stages[0]
    assert stage.error is None  # given up is not a failure
    assert stage.result is None or stage.done == stage.total  # it stopped, or had finished first


def test_a_failing_comparison_is_said_in_the_stage_not_raised(sides):
    reference, _, _ = sides
    runner = Runner(workers=1)
    job = runner.start([Stage("live", Request(reference, reference, reps=2))])
    assert job.wait(60)
    assert "named twice" in job.stages[0].error
