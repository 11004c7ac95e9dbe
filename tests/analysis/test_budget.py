"""The budget view of yearly tables (sim/analysis/budget.py): spending per budget, the grant and
the safety net, the BUIG balance, total spending, discounting and the break-even year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.budget import (
    BUDGETS,
    break_even_year,
    budget_columns,
    discount_factors,
    safety_net_eur,
    state_grant_eur,
)
from sim.parameters import Scenario

pytestmark = pytest.mark.unit


def with_money(scenario: Scenario, **money) -> Scenario:
    """The scenario with these money fields replaced whole (a grant table is not merged)."""
    return scenario.model_copy(update={"money": scenario.money.model_copy(update=money)})


def test_budget_balance_is_grant_minus_benefit_spending_only_where_a_grant_is_given(short_baseline, short_run):
    scenario = with_money(
        short_baseline, state_grant_eur_per_year={"2019": 20_000_000.0}, state_grant_indexed_after_last=False
    )
    assert state_grant_eur(scenario, 2019) == 20_000_000.0 and state_grant_eur(scenario, 2018) is None
    b = budget_columns(short_run.yearly, scenario).set_index("year")
    assert b.loc[2019, "buig_balance_eur"] == pytest.approx(20_000_000.0 - float(b.loc[2019, "benefit_spending_eur"]))
    assert b.drop(index=2019)["buig_balance_eur"].isna().all()
    flows = b.drop(index=short_baseline.simulation.start_year)  # the start year has only its stock
    items = [column for columns in BUDGETS.values() for column in columns]
    assert np.allclose(flows["total_spending_eur"], flows[items].astype(float).sum(axis=1))
    for budget, columns in BUDGETS.items():
        assert np.allclose(flows[f"{budget}_spending_eur"], flows[columns].astype(float).sum(axis=1))
    assert (flows["staff_spending_eur"] > 0).all()
    assert b.loc[short_baseline.simulation.start_year, ["total_spending_eur", "staff_spending_eur"]].isna().all()


def test_the_last_grant_is_indexed_as_the_benefit_only_when_asked(short_baseline):
    grants = {"2017": 10.0, "2018": 12.0}
    on = with_money(short_baseline, state_grant_eur_per_year=grants, state_grant_indexed_after_last=True)
    rise = 1 + on.money.benefit_indexation_per_year
    assert state_grant_eur(on, 2016) is None and state_grant_eur(on, 2017) == 10.0
    assert state_grant_eur(on, 2021) == pytest.approx(12.0 * rise**3, rel=1e-14)
    off = with_money(on, state_grant_indexed_after_last=False)
    assert state_grant_eur(off, 2021) is None and state_grant_eur(off, 2018) == 12.0


def test_the_safety_net_pays_half_of_the_middle_band_and_all_above_it(short_baseline):
    money = with_money(short_baseline, safety_net=True).money
    grant = np.full(5, 100.0)
    deficit = np.array([-3.0, 5.0, 10.0, 12.5, 20.0])
    # own risk 7.5, half from 7.5 to 12.5, all above 12.5
    assert safety_net_eur(money, grant, deficit).tolist() == pytest.approx([0.0, 0.0, 1.25, 2.5, 10.0])
    assert (safety_net_eur(with_money(short_baseline, safety_net=False).money, grant, deficit) == 0).all()


def test_budget_columns_add_to_a_copy_and_keep_the_rows(short_baseline):
    yearly = pd.DataFrame(
        {"year": [2019, 2020], "benefit_spending_eur": [10.0, 12.0], "trajectory_spending_eur": [1.0, 0.5]}
    )
    scenario = with_money(short_baseline, state_grant_eur_per_year={"2020": 11.0}, state_grant_indexed_after_last=False)
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
