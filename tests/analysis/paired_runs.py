"""Paired replications of two shipped scenarios, shared by the comparison and sensitivity tests."""

from __future__ import annotations

from sim.analysis.comparison import run_paired
from sim.replications import make_executor
from sim.scenario import load, with_overrides

REPS = 8
YEARS = (2019, 2020)


def paired_runs():
    """focus and broad to 2020 (the policies differ from 2019), REPS paired replications."""
    scenarios = {n: with_overrides(load(n).scenario, {"simulation": {"until_year": 2020}}) for n in ("focus", "broad")}
    executor = make_executor(2)
    try:
        yearlies, failures = run_paired(scenarios, 5, REPS, executor)
    finally:
        executor.close()
    assert not failures
    return scenarios, yearlies
