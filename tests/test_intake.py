"""The intake chain: capacity, gatekeeper, routing."""

from __future__ import annotations

import math

import numpy as np

from sim.clients import Category, Route, State, category_of, route_of
from sim.intake import WorkingDayCapacity
from sim.model import Model
from sim.scenario import with_overrides


def test_information_meeting_never_seats_more_than_its_places(short_run, short_baseline):
    assert max(short_run.meeting_seats) <= short_baseline.chain.information_meeting_places
    assert max(short_run.meeting_seats) == short_baseline.chain.information_meeting_places


def test_gatekeeper_share_within_binomial_band(short_baseline):
    # broad policy throughout: every notification faces the 36% gatekeeper
    scenario = with_overrides(short_baseline, {"policy_schedule": [{"start": "2014-01-01", "policy": "broad"}]})
    model = Model(scenario, 5)
    model.run()
    notified = sum(r["notifications"] for r in model.rows)
    stopped = sum(r["gatekept"] for r in model.rows)
    p = scenario.policies["broad"].gatekeeper_share
    band = 4 * math.sqrt(p * (1 - p) / notified)  # 4 standard errors: fails by chance < 1 in 10,000
    assert abs(stopped / notified - p) < band


def test_no_gatekeeper_under_focus(short_run):
    y = short_run.yearly.set_index("year")
    assert y.loc[2019, "gatekept"] == 0
    assert y.loc[2016, "gatekept"] > 0


def test_categories_follow_the_distance_table():
    distance = np.array([0.5, 2.9, 3.0, 11.9, 12.0, 23.9, 24.0, 30.0, 47.9, 48.0, 60.0])
    sheltered = np.array([False] * 7 + [True, False, False, False])
    community = np.array([False] * 10 + [True])
    cats = category_of(distance, sheltered, community)
    expected = [
        Category.C1A,
        Category.C1A,
        Category.C1B,
        Category.C1B,
        Category.C1C,
        Category.C1C,
        Category.C2A,
        Category.C2B,
        Category.C2A,
        Category.C3B,
        Category.C3A,
    ]
    assert cats.tolist() == expected


def test_each_category_goes_to_its_route():
    cats = np.array([Category.C1A, Category.C1B, Category.C1C, Category.C2A, Category.C2B, Category.C3A, Category.C3B])
    routes = route_of(cats, np.full(7, 10.0))
    assert routes.tolist() == [
        Route.MEDIATION,
        Route.DEVELOPMENT,
        Route.DEVELOPMENT,
        Route.PARTICIPATION,
        Route.SHELTERED,
        Route.PARTICIPATION,
        Route.PARTICIPATION,
    ]
    assert route_of(np.array([Category.C1A]), np.array([0.5])).tolist() == [Route.DIRECT]


def test_granted_clients_start_on_the_route_of_their_diagnosis(short_run):
    events = short_run.events
    granted = events[(events["event"] == "granted") & (events["day"] > 0)]
    assert set(granted["detail"].unique()) <= {
        Route.DIRECT,
        Route.MEDIATION,
        Route.DEVELOPMENT,
        Route.SHELTERED,
        Route.PARTICIPATION,
    }


def test_desk_serves_at_most_its_capacity_per_working_day():
    desk = WorkingDayCapacity(per_day=4, weekday_of_day0=0)  # day 0 is a Monday
    days = desk.book(np.zeros(30))
    counts = np.unique(days, return_counts=True)
    assert counts[1].max() == 4
    weekdays = (np.floor(days).astype(int)) % 7
    assert (weekdays < 5).all()
    assert (np.diff(days) >= 0).all()


def test_nobody_seated_before_contact(short_run, short_baseline):
    e = short_run.events
    notified = e[e.event == "notified"].set_index("client")["day"]
    seated = e[e.event == "information_meeting"].set_index("client")["day"]
    wait = seated - notified.reindex(seated.index)
    assert (wait >= short_baseline.chain.contact_days).all()


def test_states_of_turned_away_clients(short_baseline):
    model = Model(short_baseline, 2)
    model.run()
    states = model.table.view("state")
    assert (states == State.GATEKEPT).sum() > 0
    assert (states == State.REFUSED).sum() > 0
