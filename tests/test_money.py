"""Money the model books (sim/money.py): benefit euros are full-benefit client-months times the
monthly benefit of the year (indexed), owed from the day of notification; trajectory euros the
prices of the trajectories started, in the month they start; staff euros the team's FTE-months,
the contacts and the placements at their prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calendar import DAYS_PER_MONTH, Calendar
from sim.model import run
from sim.money import (
    STAFF_COLUMNS,
    back_pay_client_months,
    benefit_client_months,
    benefit_price,
    benefit_spending_eur,
    staff_spending_eur,
    trajectory_prices,
    trajectory_spending_eur,
)
from sim.scenario import load, with_overrides
from tests.bands import count_band

# -- the rules, on small inputs ----------------------------------------------------------------------


@pytest.mark.unit
def test_client_months_are_days_on_benefit_times_the_benefit_share():
    days = np.array([DAYS_PER_MONTH, DAYS_PER_MONTH, 0.5 * DAYS_PER_MONTH, 0.0])
    share = np.array([1.0, 0.5, 1.0, 1.0])
    assert benefit_client_months(days, share) == pytest.approx(2.0, rel=1e-15)
    assert benefit_client_months(np.empty(0), np.empty(0)) == 0.0


@pytest.mark.unit
def test_benefit_spending_is_client_months_times_a_twelfth_of_the_years_indexed_benefit(baseline):
    scenario = with_overrides(baseline, {"money": {"benefit_eur_per_full_year": 18_000.0}})
    price_year = scenario.money.benefit_price_year
    assert benefit_spending_eur(scenario, 10.0, price_year) == 15_000.0
    assert benefit_spending_eur(scenario, 0.0, price_year) == 0.0
    rise = 1 + scenario.money.benefit_indexation_per_year
    assert benefit_price(scenario.money, price_year + 2) == pytest.approx(18_000.0 * rise**2, rel=1e-14)
    assert benefit_price(scenario.money, price_year - 5) == pytest.approx(18_000.0 / rise**5, rel=1e-14)
    flat = with_overrides(scenario, {"money": {"benefit_indexation_per_year": 0.0}})
    assert benefit_price(flat.money, 2030) == 18_000.0


@pytest.mark.unit
def test_benefit_is_owed_from_notification_and_for_the_young_after_their_search_weeks(baseline):
    money = baseline.money
    notified = np.array([100.0, 100.0, 100.0, 100.0])
    born = notified - np.array([40.0, 20.0, 20.0, 40.0]) * 365.25  # 40, 20, 20, 40 years old
    start = np.array([130.0, 130.0, 120.0, 100.0])
    # 30 days; a young person 30 - 28; one whose benefit starts within the search weeks: none; none
    expected = (30.0 + 2.0) / DAYS_PER_MONTH
    assert back_pay_client_months(money, notified, born, start) == pytest.approx(expected, rel=1e-14)
    off = with_overrides(baseline, {"money": {"benefit_from_notification": False}}).money
    assert back_pay_client_months(off, notified, born, start) == 0.0
    assert back_pay_client_months(money, np.empty(0), np.empty(0), np.empty(0)) == 0.0


@pytest.mark.unit
def test_staff_spending_is_fte_months_contacts_and_placements_at_their_prices(baseline):
    money, focus = baseline.money, baseline.policies["focus-participation"]
    items = staff_spending_eur(money, focus, team_fte=9.0, unserved=600, guided=120, placements=30)
    assert list(items) == STAFF_COLUMNS
    assert items["work_consultant_spending_eur"] == pytest.approx(9.0 * money.work_consultant_eur_per_fte_year / 12)
    contacts = focus.contact
    assert items["income_consultant_spending_eur"] == pytest.approx(
        600 * contacts.unserved_contacts_per_year / 12 * money.income_consultant_eur_per_contact
    )
    assert items["guidance_spending_eur"] == pytest.approx(
        120 * contacts.guidance_contacts_per_year / 12 * money.guidance_eur_per_contact
    )
    assert items["aftercare_spending_eur"] == 30 * money.aftercare_eur_per_placement
    without = focus.model_copy(update={"aftercare": focus.aftercare.model_copy(update={"retention_share": 0.0})})
    assert staff_spending_eur(money, without, 9.0, 600, 120, 30)["aftercare_spending_eur"] == 0.0


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
    per_month = np.array([benefit_price(short_baseline.money, int(year)) for year in y["year"]]) / 12.0
    expected = y["benefit_client_months"].astype(float) * per_month
    assert np.allclose(y["benefit_spending_eur"].astype(float), expected, rtol=1e-12)


@pytest.mark.invariants
def test_paying_from_notification_adds_client_months_and_leaves_the_caseload_alone(short_baseline, short_run):
    late = run(with_overrides(short_baseline, {"money": {"benefit_from_notification": False}}), 7).yearly.iloc[1:]
    base = short_run.yearly.iloc[1:]
    assert (late["caseload_december"] == base["caseload_december"]).all()
    extra = base["benefit_client_months"].astype(float) - late["benefit_client_months"].astype(float)
    # every benefit granted pays at most its wait (notification to benefit) back; the waits are weeks
    assert (extra > 0).all()
    granted = base["inflow"].astype(float) - base["returns"].astype(float)
    assert (extra <= granted * base["wait_days_mean"].astype(float) * 1.5 / DAYS_PER_MONTH).all()


@pytest.mark.invariants
def test_staff_euros_follow_the_team_and_the_guided(short_baseline, short_run):
    monthly = short_run.monthly
    cost = short_baseline.money.work_consultant_eur_per_fte_year
    assert np.allclose(monthly["work_consultant_spending_eur"], monthly["work_consultants"] * cost / 12, rtol=1e-12)
    # a team twice as dear costs exactly twice as much, and nothing else moves
    dearer = with_overrides(short_baseline, {"money": {"work_consultant_eur_per_fte_year": 2 * cost}})
    other = run(dearer, 7).monthly
    assert np.allclose(other["work_consultant_spending_eur"], 2 * monthly["work_consultant_spending_eur"], rtol=1e-12)
    assert (other["caseload"] == monthly["caseload"]).all()
    assert (monthly["guidance_spending_eur"] == 0).all()  # no guidance before 2021


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


@pytest.mark.invariants
def test_guidance_euros_follow_the_guided_clients():
    scenario = with_overrides(load("focus-participation").scenario, {"simulation": {"until_year": 2021}})
    monthly = run(scenario, 3).monthly
    policy = scenario.policies["focus-participation"]
    per_client = policy.contact.guidance_contacts_per_year / 12 * scenario.money.guidance_eur_per_contact
    guided = monthly["guidance_spending_eur"] / per_client
    in_2021 = monthly["year"] == 2021
    assert (guided[~in_2021] == 0).all()
    assert np.allclose(guided, guided.round(), atol=1e-9)  # whole clients
    share = policy.contact.guidance_share
    stock = monthly.loc[in_2021, "stock_participation"]
    # guided at the month's start against the month-end stock: a month moves a few clients
    assert (abs(guided[in_2021] - share * stock) <= count_band(int(stock.max()), share) + 0.05 * stock).all()
