"""The budget view of yearly tables (sim/analysis/budget.py): the grant, the BUIG balance, total
spending, discounting and the break-even year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.budget import break_even_year, budget_columns, discount_factors, state_grant_eur
from sim.scenario import with_overrides

pytestmark = pytest.mark.unit


def test_budget_balance_is_grant_minus_benefit_spending_only_where_a_grant_is_given(short_baseline, short_run):
    scenario = with_overrides(short_baseline, {"money": {"state_grant_eur_per_year": {"2019": 20_000_000.0}}})
    assert state_grant_eur(scenario, 2019) == 20_000_000.0 and state_grant_eur(scenario, 2018) is None
    b = budget_columns(short_run.yearly, scenario).set_index("year")
    assert b.loc[2019, "buig_balance_eur"] == pytest.approx(20_000_000.0 - float(b.loc[2019, "benefit_spending_eur"]))
    assert b.drop(index=2019)["buig_balance_eur"].isna().all()
    total = b["benefit_spending_eur"].astype(float) + b["trajectory_spending_eur"].astype(float)
    assert np.allclose(b["total_spending_eur"].dropna(), total.dropna())


def test_budget_columns_add_to_a_copy_and_keep_the_rows(short_baseline):
    yearly = pd.DataFrame(
        {"year": [2019, 2020], "benefit_spending_eur": [10.0, 12.0], "trajectory_spending_eur": [1.0, 0.5]}
    )
    scenario = with_overrides(short_baseline, {"money": {"state_grant_eur_per_year": {"2020": 11.0}}})
    out = budget_columns(yearly, scenario)
    assert list(yearly.columns) == ["year", "benefit_spending_eur", "trajectory_spending_eur"]  # untouched
    assert out["total_spending_eur"].tolist() == [11.0, 12.5]
    assert np.isnan(out["state_grant_eur"].iloc[0]) and out["state_grant_eur"].iloc[1] == 11.0
    assert np.isnan(out["buig_balance_eur"].iloc[0]) and out["buig_balance_eur"].iloc[1] == -1.0  # a deficit


def test_discount_factors():
    f = discount_factors(np.array([2019, 2020, 2021]), 2019, 0.05)
    assert f == pytest.approx([1.0, 1 / 1.05, 1 / 1.05**2])
    assert (discount_factors(np.array([2019, 2030]), 2019, 0.0) == 1.0).all()
    with pytest.raises(ValueError, match="above -1"):
        discount_factors(np.array([2019]), 2019, -1.0)


@pytest.mark.parametrize(
    ("cumulative", "expected"),
    [
        ([-5, -2, 1, 3], 2021),  # turns positive in 2021 and stays
        ([1, 2, 3, 4], 2019),  # positive from the start
        ([-1, 2, -1, 3], 2022),  # dips back: break-even is when it stays positive
        ([-3, -2, -1, -0.5], None),  # never within the horizon
        ([1, 2, 0, 0], None),  # ends at zero: not paid for
    ],
)
def test_break_even_year(cumulative, expected):
    assert break_even_year(np.array([2019, 2020, 2021, 2022]), np.array(cumulative, dtype=float)) == expected


def test_no_years_never_break_even():
    assert break_even_year(np.array([], dtype=int), np.array([])) is None
