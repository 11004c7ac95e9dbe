"""Money: euros are client-months times prices; the budget view (grant, balance, discounting, break-even)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.budget import break_even_year, budget_columns, discount_factors, state_grant_eur
from sim.calendar import Calendar
from sim.model import run
from sim.money import trajectory_prices
from sim.scenario import with_overrides


def test_benefit_euros_are_client_months_times_the_monthly_benefit(short_run, short_baseline):
    y = short_run.yearly.iloc[1:]
    per_month = short_baseline.money.benefit_eur_per_full_year / 12.0
    expected = y["benefit_client_months"].astype(float) * per_month
    assert np.allclose(y["benefit_spending_eur"].astype(float), expected, rtol=1e-12)


def test_trajectory_euros_are_the_prices_of_the_trajectories_started(short_run, short_baseline):
    events = short_run.events
    started = events[events["event"] == "trajectory_start"]
    prices = trajectory_prices(short_baseline)
    calendar = Calendar.for_years(short_baseline.simulation.start_year + 1, short_baseline.simulation.until_year)
    # started at a month end: book in the month that ends, not the next day
    years = calendar.years_of(started["day"].to_numpy() - 0.5)
    booked = pd.Series(prices[started["detail"].to_numpy()]).groupby(years).sum()
    y = short_run.yearly.iloc[1:].set_index("year")
    assert np.allclose(y["trajectory_spending_eur"].astype(float).to_numpy(), booked.reindex(y.index).to_numpy())
    counts = pd.Series(1, index=years).groupby(level=0).sum()
    assert (y["trajectories_started"].astype(int) == counts.reindex(y.index)).all()


def test_a_dearer_benefit_scales_euros_and_leaves_client_months_alone(short_baseline, short_run):
    dearer = with_overrides(short_baseline, {"money": {"benefit_eur_per_full_year": 18000.0}})
    other = run(dearer, 7).yearly.iloc[1:]
    base = short_run.yearly.iloc[1:]
    assert (other["benefit_client_months"] == base["benefit_client_months"]).all()
    ratio = other["benefit_spending_eur"].astype(float) / base["benefit_spending_eur"].astype(float)
    assert np.allclose(ratio, 18000.0 / short_baseline.money.benefit_eur_per_full_year, rtol=1e-12)


def test_budget_balance_is_grant_minus_benefit_spending_only_where_a_grant_is_given(short_baseline, short_run):
    scenario = with_overrides(short_baseline, {"money": {"state_grant_eur_per_year": {"2019": 20_000_000.0}}})
    assert state_grant_eur(scenario, 2019) == 20_000_000.0 and state_grant_eur(scenario, 2018) is None
    b = budget_columns(short_run.yearly, scenario).set_index("year")
    assert b.loc[2019, "buig_balance_eur"] == pytest.approx(20_000_000.0 - float(b.loc[2019, "benefit_spending_eur"]))
    assert b.drop(index=2019)["buig_balance_eur"].isna().all()
    total = b["benefit_spending_eur"].astype(float) + b["trajectory_spending_eur"].astype(float)
    assert np.allclose(b["total_spending_eur"].dropna(), total.dropna())


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
