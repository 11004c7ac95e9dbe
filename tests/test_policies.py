"""Which policy is in force when, and what its levers switch: the gatekeeper, whom the work
consultants serve, when the team is recomputed, the participation talk, trajectories and the extra
guidance window in calendar months; and each lever in plain words (sim/policies.py)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sim.calendar import Calendar
from sim.clients import Route
from sim.policies import (
    PolicySchedule,
    add_months,
    describe,
    describe_levers,
    participation_guidance_on,
    participation_review_chance,
    policy_periods_on,
    served_route_mask,
    team_due,
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
    assert schedule.in_force_on(0.0) == schedule.in_force_on(-400.0)
    assert schedule.in_force_on(0.0).start_day == 0.0
    assert schedule.in_force_on(starts["focus"] - 0.5).rules.name == "broad"
    assert schedule.in_force_on(starts["focus"]) == schedule.in_force_on(starts["focus"] + 700)
    assert schedule.in_force_on(starts["focus"]).rules.name == "focus"
    last = schedule.in_force_on(calendar.end_day)
    assert (last.rules.name, last.start_day) == ("focus-participation", starts["focus-participation"])
    assert last.rules.policy == focus_participation.policies["focus-participation"]
    assert last.guidance_end_day == calendar.day(dt.date(2023, 1, 1))  # 24 calendar months


def test_the_gatekeeper_share_on_each_day_is_the_share_of_the_policy_in_force(focus_participation, calendar):
    schedule = PolicySchedule(focus_participation, calendar)
    days = np.concatenate([np.random.default_rng(1).uniform(-100, calendar.end_day, 2000), [1825.0, 1826.0, 1826.5]])
    expected = [focus_participation.policies[schedule.in_force_on(d).rules.name].door.gatekeeper_share for d in days]
    assert schedule.gatekeeper_share_on(days).tolist() == expected
    assert set(expected) == {0.36, 0.0}  # broad has the gatekeeper, focus dropped it (docs/domain.md)


def test_periods_on_many_days_are_the_one_day_lookup():
    starts = np.array([0.0, 100.0, 250.0])
    days = np.array([-5.0, 0.0, 99.999, 100.0, 249.0, 250.0, 1e6])
    assert policy_periods_on(starts, days).tolist() == [0, 0, 0, 1, 1, 2, 2]


def _guided_months(scenario, calendar) -> list[tuple[int, int]]:
    schedule = PolicySchedule(scenario, calendar)
    guided = []
    for year, month, start, _ in calendar.month_starts():
        in_force = schedule.in_force_on(start)
        if participation_guidance_on(in_force.guidance_end_day, start) and in_force.rules.policy.contact.guidance_share:
            guided.append((year, month))
    return guided


def test_guidance_runs_the_configured_calendar_months_after_the_policy_starts(focus_participation):
    assert focus_participation.policies["focus-participation"].contact.guidance_months == 24
    guided = _guided_months(focus_participation, Calendar.for_years(2014, 2026))
    assert guided == [(y, m) for y in (2021, 2022) for m in range(1, 13)]


@pytest.mark.parametrize("months", [0.0, 1.0, 6.0, 12.0, 13.0, 24.0, 36.0])
@pytest.mark.parametrize("start", ["2020-01-01", "2021-01-01", "2020-03-01", "2020-07-15"])
def test_the_guidance_window_is_that_many_calendar_months_from_the_start(focus_participation, months, start):
    # no months means no guidance (guidance with a share but no months is refused by the schema)
    contact = {"guidance_months": months} if months > 0 else {"guidance_share": 0.0}
    schedule = [{"start": "2014-01-01", "policy": "focus"}, {"start": start, "policy": "focus-participation"}]
    scenario = with_overrides(
        focus_participation, {"policies": {"focus-participation": {"contact": contact}}, "policy_schedule": schedule}
    )
    guided = _guided_months(scenario, Calendar.for_years(2014, 2026))
    first = dt.date.fromisoformat(start)
    # the months whose first day falls before the end: from the start's month, without a gap
    expected = []
    year, month = first.year, first.month
    end = add_months(first, months)
    while dt.date(year, month, 1) < end and months > 0:
        expected.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if first.day > 1:  # a period starting mid-month: its guidance starts the month after
        expected = [ym for ym in expected if ym != (first.year, first.month)]
    assert guided == expected
    if first.day == 1:
        assert len(guided) == months  # whole calendar months, never one short


def test_add_months_keeps_the_day_or_the_months_last():
    assert add_months(dt.date(2021, 1, 1), 24) == dt.date(2023, 1, 1)
    assert add_months(dt.date(2020, 1, 31), 1) == dt.date(2020, 2, 29)
    assert add_months(dt.date(2020, 11, 15), 2) == dt.date(2021, 1, 15)
    assert add_months(dt.date(2020, 1, 1), 0.5) == dt.date(2020, 1, 17)  # half of January's 31 days, rounded


def test_the_participation_talk_is_a_constant_rate_of_the_policys_talks_a_year(focus_participation):
    focus = focus_participation.policies["focus"]
    assert participation_review_chance(focus) == pytest.approx(1 - math.exp(-1 / 12), rel=1e-15)

    def talks(n):
        return focus.model_copy(
            update={"contact": focus.contact.model_copy(update={"participation_review_contacts_per_year": n})}
        )

    # two talks a year: the chance of none in a month is the square of one talk's
    assert 1 - participation_review_chance(talks(2.0)) == pytest.approx((1 - participation_review_chance(focus)) ** 2)
    assert participation_review_chance(talks(0.0)) == 0


def test_trajectories_and_work_consultants_only_on_the_routes_the_policy_names(focus_participation):
    broad, focus = (focus_participation.policies[name] for name in ("broad", "focus"))
    with_trajectories = {Route.DEVELOPMENT, Route.SHELTERED}
    assert set(np.flatnonzero(trajectory_routes(focus))) == with_trajectories
    assert set(np.flatnonzero(trajectory_routes(broad))) == with_trajectories | {Route.PARTICIPATION}
    everyone = {Route.DIRECT, Route.MEDIATION, Route.DEVELOPMENT, Route.SHELTERED, Route.PARTICIPATION}
    assert set(np.flatnonzero(served_route_mask(broad))) == everyone
    assert set(np.flatnonzero(served_route_mask(focus))) == {Route.DIRECT, Route.MEDIATION, Route.DEVELOPMENT}
    assert not served_route_mask(broad)[Route.NONE]


def test_a_norm_following_team_is_recomputed_every_review_months_the_others_every_month(focus_participation):
    norm = focus_participation.policies["focus"].staffing
    assert norm.rule == "norm" and norm.review_months == 3
    assert [team_due(norm, m) for m in range(7)] == [True, False, False, True, False, False, True]
    fixed = norm.model_copy(update={"rule": "fixed", "work_consultants": 9.0})
    assert all(team_due(fixed, m) for m in range(7))


def test_each_lever_is_described_in_words(focus_participation):
    words = describe_levers(focus_participation.policies["focus-participation"], 80_000.0)
    assert list(words) == ["door", "served", "staffing", "contact", "trajectories", "aftercare"]
    assert words["door"] == "no gatekeeper"
    assert "24 months" in words["served"] and "caseload norm of 80" in words["staffing"]
    assert "30% of participation clients guided with 6 contacts a year" in words["contact"]
    lines = describe(focus_participation)
    assert lines[0].startswith("until 2018-12-31: broad: a gatekeeper stops 36% of notifications")
    assert lines[1].startswith("2019-01-01 to 2020-12-31: focus:")
    assert lines[2].startswith("from 2021-01-01: focus-participation:")
