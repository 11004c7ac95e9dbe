"""The sources' mechanisms, as checks the fitted model must pass, not targets it was fitted to.

Report 001 (ch. 3-4, docs/domain.md 'The two policies to compare'): under focus the work
consultants serve category 1 at a lower caseload than under broad, and placements from category 1
rose; the far group, left to the income consultant, hardens. Each check is a paired difference
over replications with common random numbers, against a 4-standard-error band (tests/bands.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.comparison import run_paired
from sim.replications import SerialExecutor
from sim.scenario import load, with_overrides
from tests.bands import se_band

pytestmark = pytest.mark.theory

REPS = 8


@pytest.fixture(scope="module")
def focus_and_broad():
    short = {"simulation": {"until_year": 2025}}
    scenarios = {n: with_overrides(load(n).scenario, short) for n in ("focus", "broad")}
    yearlies, failures = run_paired(scenarios, seed=11, reps=REPS, executor=SerialExecutor())
    assert not failures
    return yearlies


def _paired(yearlies, column: str, years: tuple[int, int], how: str = "sum") -> np.ndarray:
    """Per replication: focus minus broad of `column` over `years` (summed, or the last year's value)."""
    out = []
    for name in ("focus", "broad"):
        y = yearlies[name]
        y = y[(y["year"] >= years[0]) & (y["year"] <= years[1])].sort_values(["replication", "year"])
        grouped = y.groupby("replication")[column]
        out.append((grouped.sum() if how == "sum" else grouped.last()).to_numpy(dtype=float))
    return out[0] - out[1]


def _clearly_above_zero(diff: np.ndarray) -> bool:
    return diff.mean() - se_band(diff.std(ddof=1) / np.sqrt(len(diff))) > 0


def test_focus_serves_category_1_at_a_lower_caseload_than_broad(focus_and_broad):
    caseload = _paired(focus_and_broad, "work_consultant_caseload", (2019, 2021))
    assert _clearly_above_zero(-caseload)


def test_focus_raises_category_1_placements_in_2019_2021(focus_and_broad):
    assert _clearly_above_zero(_paired(focus_and_broad, "placements_category_1", (2019, 2021)))


def test_the_far_group_hardens_more_under_focus(focus_and_broad):
    hardening = _paired(focus_and_broad, "participation_distance_mean", (2025, 2025), how="last")
    assert _clearly_above_zero(hardening)
    assert _clearly_above_zero(_paired(focus_and_broad, "stock_duration_4plus", (2025, 2025), how="last"))
