"""Money the model books (sim/money.py): benefit euros are full-benefit client-months times the
monthly benefit, trajectory euros the prices of the trajectories started, in the month they start."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calendar import DAYS_PER_MONTH, Calendar
from sim.model import run
from sim.money import benefit_client_months, benefit_spending_eur, trajectory_prices, trajectory_spending_eur
from sim.scenario import with_overrides

# -- the rules, on small inputs ----------------------------------------------------------------------


@pytest.mark.unit
def test_client_months_are_days_on_benefit_times_the_benefit_share():
    days = np.array([DAYS_PER_MONTH, DAYS_PER_MONTH, 0.5 * DAYS_PER_MONTH, 0.0])
    share = np.array([1.0, 0.5, 1.0, 1.0])
    assert benefit_client_months(days, share) == pytest.approx(2.0, rel=1e-15)
    assert benefit_client_months(np.empty(0), np.empty(0)) == 0.0


@pytest.mark.unit
def test_benefit_spending_is_client_months_times_a_twelfth_of_the_yearly_benefit(baseline):
    scenario = with_overrides(baseline, {"money": {"benefit_eur_per_full_year": 18_000.0}})
    assert benefit_spending_eur(scenario, 10.0) == 15_000.0
    assert benefit_spending_eur(scenario, 0.0) == 0.0


@pytest.mark.unit
def test_trajectory_spending_is_the_price_of_each_start(baseline):
    prices = trajectory_prices(baseline)
    assert prices.tolist() == [t.price_eur for t in baseline.trajectories.basket]
    started = np.array([0, 0, len(prices) - 1], dtype=np.int16)
    assert trajectory_spending_eur(prices, started) == 2 * prices[0] + prices[-1]
    assert trajectory_spending_eur(prices, np.empty(0, dtype=np.int16)) == 0.0


# -- the same rules in a run's tables ----------------------------------------------------------------


@pytest.mark.invariants
def test_benefit_euros_are_client_months_times_the_monthly_benefit(short_run, short_baseline):
    y = short_run.yearly.iloc[1:]
    per_month = short_baseline.money.benefit_eur_per_full_year / 12.0
    expected = y["benefit_client_months"].astype(float) * per_month
    assert np.allclose(y["benefit_spending_eur"].astype(float), expected, rtol=1e-12)


@pytest.mark.invariants
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


@pytest.mark.invariants
def test_a_dearer_benefit_scales_euros_and_leaves_client_months_alone(short_baseline, short_run):
    dearer = with_overrides(short_baseline, {"money": {"benefit_eur_per_full_year": 18000.0}})
    other = run(dearer, 7).yearly.iloc[1:]
    base = short_run.yearly.iloc[1:]
    assert (other["benefit_client_months"] == base["benefit_client_months"]).all()
    ratio = other["benefit_spending_eur"].astype(float) / base["benefit_spending_eur"].astype(float)
    assert np.allclose(ratio, 18000.0 / short_baseline.money.benefit_eur_per_full_year, rtol=1e-12)
