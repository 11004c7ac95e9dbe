"""Which policy is in force when, and what it switches: the gatekeeper, the participation talk,
trajectories for participation and the extra guidance window (sim/policies.py)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sim.calendar import DAYS_PER_MONTH, Calendar
from sim.clients import Route
from sim.policies import (
    PolicySchedule,
    participation_guidance_on,
    participation_review_chance,
    policy_periods_on,
    trajectory_routes,
)
from sim.scenario import load, with_overrides

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def focus_participation():
    """broad from 2014, focus from 2019, focus-participation (24 months of guidance) from 2021."""
    return load("focus-participation").scenario


@pytest.fixture(scope="module")
def calendar():
    return Calendar.for_years(2014, 2030)


def test_each_period_holds_from_its_start_day_until_the_next(focus_participation, calendar):
    schedule = PolicySchedule(focus_participation, calendar)
    starts = {"focus": calendar.day(dt.date(2019, 1, 1)), "focus-participation": calendar.day(dt.date(2021, 1, 1))}
    assert schedule.in_force_on(-400.0).rules.name == "broad"  # the first period also covers before it
    assert schedule.in_force_on(0.0) == (schedule.in_force_on(-400.0).rules, 0.0)
    assert schedule.in_force_on(starts["focus"] - 0.5).rules.name == "broad"
    assert schedule.in_force_on(starts["focus"]) == (schedule.in_force_on(starts["focus"] + 700).rules, starts["focus"])
    assert schedule.in_force_on(starts["focus"]).rules.name == "focus"
    last = schedule.in_force_on(calendar.end_day)
    assert (last.rules.name, last.start_day) == ("focus-participation", starts["focus-participation"])
    assert last.rules.policy == focus_participation.policies["focus-participation"]


def test_the_gatekeeper_share_on_each_day_is_the_share_of_the_policy_in_force(focus_participation, calendar):
    schedule = PolicySchedule(focus_participation, calendar)
    days = np.concatenate([np.random.default_rng(1).uniform(-100, calendar.end_day, 2000), [1825.0, 1826.0, 1826.5]])
    expected = [focus_participation.policies[schedule.in_force_on(d).rules.name].gatekeeper_share for d in days]
    assert schedule.gatekeeper_share_on(days).tolist() == expected
    assert set(expected) == {0.36, 0.0}  # broad has the gatekeeper, focus dropped it (docs/domain.md)


def test_periods_on_many_days_are_the_one_day_lookup():
    starts = np.array([0.0, 100.0, 250.0])
    days = np.array([-5.0, 0.0, 99.999, 100.0, 249.0, 250.0, 1e6])
    assert policy_periods_on(starts, days).tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_guidance_runs_exactly_the_configured_months_after_the_policy_starts(focus_participation):
    calendar = Calendar.for_years(2014, 2026)
    schedule = PolicySchedule(focus_participation, calendar)
    guided = []
    for year, month, start, end in calendar.month_starts():
        rules, policy_start = schedule.in_force_on(start)
        if participation_guidance_on(rules.policy, policy_start, end) and rules.policy.participation_guidance_share > 0:
            guided.append((year, month))
    months = focus_participation.policies["focus-participation"].participation_guidance_months
    assert months == 24
    assert guided == [(y, m) for y in (2021, 2022) for m in range(1, 13)]


@pytest.mark.parametrize("months", [0.0, 1.0, 6.0, 12.0, 13.0, 24.0, 36.0])
@pytest.mark.parametrize("start_year", [2020, 2021])
def test_the_guidance_window_is_the_first_months_of_the_period_and_never_longer(
    focus_participation, months, start_year
):
    scenario = with_overrides(
        focus_participation,
        {
            "policies": {"focus-participation": {"participation_guidance_months": months}},
            "policy_schedule": [
                {"start": "2014-01-01", "policy": "focus"},
                {"start": f"{start_year}-01-01", "policy": "focus-participation"},
            ],
        },
    )
    calendar = Calendar.for_years(2014, start_year + 4)
    schedule = PolicySchedule(scenario, calendar)
    on = []
    for _, _, start, end in calendar.month_starts():
        rules, policy_start = schedule.in_force_on(start)
        if rules.name == "focus-participation":
            on.append(participation_guidance_on(rules.policy, policy_start, end))
    guided = sum(on)
    assert on == [k < guided for k in range(len(on))]  # from the start, without a gap
    # months are average months (365.25 / 12 days), so a window can end a calendar month early
    assert months - 1 <= guided <= months


def test_the_guidance_window_is_measured_in_average_months_from_the_start(focus_participation):
    policy = focus_participation.policies["focus-participation"]
    start = 1000.0
    window_end = start + policy.participation_guidance_months * DAYS_PER_MONTH
    assert participation_guidance_on(policy, start, start + 1.0)
    assert participation_guidance_on(policy, start, window_end)
    assert not participation_guidance_on(policy, start, window_end + 1e-6)
    assert not participation_guidance_on(
        policy.model_copy(update={"participation_guidance_months": 0.0}), start, start + 1.0
    )


def test_the_participation_talk_is_a_constant_rate_of_the_policys_talks_a_year(focus_participation):
    focus = focus_participation.policies["focus"]
    assert participation_review_chance(focus) == pytest.approx(1 - math.exp(-1 / 12), rel=1e-15)
    twice = focus.model_copy(update={"participation_review_contacts_per_year": 2.0})
    # two talks a year: the chance of none in a month is the square of one talk's
    assert 1 - participation_review_chance(twice) == pytest.approx((1 - participation_review_chance(focus)) ** 2)
    assert participation_review_chance(focus.model_copy(update={"participation_review_contacts_per_year": 0.0})) == 0


def test_trajectories_for_participation_only_where_the_policy_buys_them(focus_participation):
    broad, focus = (focus_participation.policies[name] for name in ("broad", "focus"))
    with_trajectories = {Route.DEVELOPMENT, Route.SHELTERED}
    assert set(np.flatnonzero(trajectory_routes(focus))) == with_trajectories
    assert set(np.flatnonzero(trajectory_routes(broad))) == with_trajectories | {Route.PARTICIPATION}
