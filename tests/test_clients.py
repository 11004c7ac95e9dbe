"""Clients (sim/clients.py): the column store, target groups, the diagnosis and its routing
table, and the December stock drawn by its shares.

The compiled per-client rules are checked against the array formulas the model used before.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from bands import share_band

from sim.calendar import DAYS_PER_YEAR
from sim.clients import (
    CATEGORY_BOUNDS,
    CATEGORY_BY_BAND,
    Category,
    ClientTable,
    Group,
    Route,
    State,
    add_initial_stock,
    category_of,
    diagnosed_category,
    diagnosed_distance,
    route_of,
    target_group,
)
from sim.parameters import CATEGORIES, DURATION_CLASSES
from sim.scenario import with_overrides

pytestmark = pytest.mark.unit


# -- the column store ----------------------------------------------------------------------------------


class _Two(NamedTuple):
    state: np.ndarray
    route: np.ndarray


class _One(NamedTuple):
    key: np.ndarray


def test_rows_are_added_in_order_and_keep_their_values_when_the_table_grows():
    t = ClientTable(capacity=16)
    first = t.add(10)
    assert first.tolist() == list(range(10)) and t.n == 10
    t.state[first] = State.ON_BENEFIT
    t.distance_true[first] = np.arange(10.0)
    second = t.add(100)  # past the capacity: every column grows
    assert second.tolist() == list(range(10, 110)) and t.n == 110
    assert len(t.view("state")) == 110 and len(t.state) >= 110
    assert (t.view("state")[:10] == State.ON_BENEFIT).all() and (t.view("distance_true")[:10] == np.arange(10.0)).all()
    # new rows hold each column's fill value
    assert (t.view("state")[10:] == -1).all() and np.isnan(t.view("grant_day")[10:]).all()
    assert (t.view("contract_end_day")[10:] == np.inf).all() and (t.view("u_entitlement")[10:] == 1.0).all()
    assert t.in_state(State.ON_BENEFIT).tolist() == list(range(10))


def test_columns_are_the_current_arrays_the_record_names():
    t = ClientTable(capacity=16)
    t.add(3)
    two = t.columns(_Two)
    assert two.state is t.state and two.route is t.route
    assert t.columns(_One).key is t.key  # one name: still a record, not the bare array
    t.add(100)
    assert t.columns(_Two).state is t.state and t.columns(_Two).state is not two.state


# -- target groups, diagnosis, categories and routes -----------------------------------------------------


def test_target_group_is_refugee_first_then_by_age():
    age = np.array([18.0, 26.999, 27.0, 49.99, 50.0, 70.0, np.nan, 30.0])
    refugee = np.array([False, False, False, False, False, False, False, True])
    group = np.where(age < 27, Group.YOUNG, np.where(age >= 50, Group.OLDER, Group.OTHER))
    assert [target_group(a, r) for a, r in zip(age, refugee, strict=True)] == np.where(
        refugee, Group.REFUGEE, group
    ).tolist()


def test_a_diagnosis_is_the_true_distance_plus_its_error_never_below_zero():
    assert diagnosed_distance(10.0, 2.0, 1.5) == 13.0
    assert diagnosed_distance(10.0, 0.0, 3.0) == 10.0
    assert diagnosed_distance(1.0, 2.0, -1.0) == 0.0


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
    assert [diagnosed_category(d, s, c) for d, s, c in zip(distance, sheltered, community, strict=True)] == expected


def test_category_of_is_the_array_formula():
    rng = np.random.default_rng(6)
    distance = np.concatenate([rng.uniform(0, 80, 2000), CATEGORY_BOUNDS])
    sheltered, community = rng.random(len(distance)) < 0.5, rng.random(len(distance)) < 0.5
    expected = CATEGORY_BY_BAND[np.searchsorted(CATEGORY_BOUNDS, distance, side="right")]
    expected = np.where((expected == Category.C2A) & sheltered, Category.C2B, expected)
    expected = np.where((expected == Category.C3B) & community, Category.C3A, expected)
    assert np.array_equal(category_of(distance, sheltered, community), expected)


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
    assert route_of(np.array([Category.C1A])).tolist() == [Route.MEDIATION]  # no distance given: never direct


# -- the December stock ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stock(baseline):
    """A large stock of the shipped region's make-up, drawn at day 0 with a pension age of 67."""
    region = with_overrides(baseline, {"region": {"initial_stock": 40_000}}).region
    table = ClientTable(capacity=region.initial_stock)
    ids = add_initial_stock(table, region, np.random.default_rng(3), 0.0, 67.0)
    return region, table, ids


def test_the_stock_is_drawn_by_its_category_and_duration_shares(stock):
    region, t, ids = stock
    n = len(ids)
    assert n == region.initial_stock and ids.tolist() == list(range(n))
    categories = np.bincount(t.category[ids], minlength=len(CATEGORIES))
    for code, name in enumerate(CATEGORIES):
        p = region.stock_category_shares[name]
        assert abs(categories[code] / n - p) < share_band(p, n), name
    years = -t.spell_start_day[ids] / DAYS_PER_YEAR
    durations = np.bincount(np.searchsorted([1.0, 2.0, 4.0], years, side="right"), minlength=len(DURATION_CLASSES))
    for code, name in enumerate(DURATION_CLASSES):
        p = region.stock_duration_shares[name]
        assert abs(durations[code] / n - p) < share_band(p, n), name
    refugees = t.refugee[ids].mean()
    assert abs(refugees - region.refugee_share_of_stock) < share_band(region.refugee_share_of_stock, n)


def test_the_stock_is_on_benefit_on_the_route_of_its_category(stock):
    region, t, ids = stock
    assert (t.state[ids] == State.ON_BENEFIT).all() and (t.key[ids] == ids).all()
    assert (t.route[ids] == route_of(t.category[ids])).all()
    assert (t.sheltered[ids] == (t.category[ids] == Category.C2B)).all()
    assert (t.community_service[ids] == (t.category[ids] == Category.C3A)).all()
    # its distances lie in its category's band and the diagnosis is exact
    assert (category_of(t.distance_true[ids], t.sheltered[ids], t.community_service[ids]) == t.category[ids]).all()
    assert (t.distance_diag[ids] == t.distance_true[ids]).all()
    # notified, granted and on the current spell since the same day, and on its route no longer
    assert (t.grant_day[ids] == t.spell_start_day[ids]).all() and (
        t.notification_day[ids] == t.spell_start_day[ids]
    ).all()
    assert (t.route_start_day[ids] >= t.spell_start_day[ids]).all() and (t.route_start_day[ids] <= 0).all()


def test_nobody_in_the_stock_is_under_18_at_the_spell_start_or_past_the_pension_age(stock):
    _, t, ids = stock
    age = -t.birth_day[ids] / DAYS_PER_YEAR
    age_at_start = (t.spell_start_day[ids] - t.birth_day[ids]) / DAYS_PER_YEAR
    assert (age < 67.0).all() and (age_at_start >= 18.0 - 1e-9).all()


def test_an_empty_stock_adds_nobody(baseline):
    region = with_overrides(baseline, {"region": {"initial_stock": 0}}).region
    table = ClientTable()
    assert len(add_initial_stock(table, region, np.random.default_rng(0), 0.0, 67.0)) == 0 and table.n == 0
