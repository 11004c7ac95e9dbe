"""Routes and trajectories (sim/routes.py): where a review leads, the category kept with a route,
when a route is reviewed, and the trajectory a client of each target group is given.

The lookup tables the month step reads are checked against the np.where chains the model used
before, and the compiled trajectory choice against its array formula.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.clients import Category, Route
from sim.parameters import TARGET_GROUPS
from sim.routes import (
    CATEGORY_ON_ROUTE,
    ROUTE_AFTER_REVIEW,
    choose_trajectory,
    review_months_by_route,
    route_rules,
    trajectory_choice_table,
)
from sim.scenario import with_overrides

pytestmark = pytest.mark.unit


def test_lookup_tables_give_what_the_np_where_chains_gave():
    old, indicated = np.meshgrid(np.arange(Route.PARTICIPATION + 1), np.arange(Route.PARTICIPATION + 1))
    target = np.where(indicated == Route.MEDIATION, Route.DEVELOPMENT, indicated)
    target = np.where(old == Route.DIRECT, indicated, target)
    target = np.where(old == Route.DEVELOPMENT, Route.PARTICIPATION, target)
    assert np.array_equal(ROUTE_AFTER_REVIEW[old, indicated], target)
    route, category = np.meshgrid(np.arange(Route.PARTICIPATION + 1), np.arange(Category.C3B + 1))
    expected = np.where((route == Route.DEVELOPMENT) & (category == Category.C1A), Category.C1B, category)
    expected = np.where((route == Route.PARTICIPATION) & (expected < Category.C2A), Category.C2A, expected)
    assert np.array_equal(CATEGORY_ON_ROUTE[route, category], expected)


def test_reviews_follow_the_chain_of_docs_domain():
    # 1A without work after its months of mediation moves on to development, not back to mediation
    assert ROUTE_AFTER_REVIEW[Route.MEDIATION, Route.MEDIATION] == Route.DEVELOPMENT
    # two years of development end in participation, whatever the new diagnosis says
    assert set(ROUTE_AFTER_REVIEW[Route.DEVELOPMENT].tolist()) == {Route.PARTICIPATION}
    # direct mediation that did not hold goes where the diagnosis points
    assert ROUTE_AFTER_REVIEW[Route.DIRECT, Route.MEDIATION] == Route.MEDIATION
    # participation with a short distance again comes back to re-integration
    assert ROUTE_AFTER_REVIEW[Route.PARTICIPATION, Route.MEDIATION] == Route.DEVELOPMENT
    assert ROUTE_AFTER_REVIEW[Route.PARTICIPATION, Route.PARTICIPATION] == Route.PARTICIPATION
    # a 1A client on a development route counts as 1B; participation is at least 2A
    assert CATEGORY_ON_ROUTE[Route.DEVELOPMENT, Category.C1A] == Category.C1B
    assert CATEGORY_ON_ROUTE[Route.PARTICIPATION, Category.C1C] == Category.C2A
    assert CATEGORY_ON_ROUTE[Route.PARTICIPATION, Category.C3B] == Category.C3B


def test_routes_are_reviewed_after_their_months_and_participation_by_its_talks(baseline):
    scenario = with_overrides(
        baseline,
        {
            "trajectories": {
                "direct_mediation_months": 0.5,
                "mediation_review_months": 4.0,
                "development_route_max_months": 18.0,
            }
        },
    )
    months = review_months_by_route(scenario)
    assert months[Route.DIRECT] == 0.5 and months[Route.MEDIATION] == 4.0 and months[Route.DEVELOPMENT] == 18.0
    assert np.isinf(months[[Route.NONE, Route.SHELTERED, Route.PARTICIPATION]]).all()


def test_the_choice_table_is_each_groups_cumulative_weights(baseline):
    table = trajectory_choice_table(baseline)
    basket = baseline.trajectories.basket
    assert table.shape == (len(TARGET_GROUPS), len(basket))
    for g, group in enumerate(TARGET_GROUPS):
        weights = np.array([t.weights.get(group, 0.0) for t in basket])
        np.testing.assert_allclose(table[g], np.cumsum(weights / weights.sum()), rtol=1e-12)
    assert np.allclose(table[:, -1], 1.0)


def test_choose_trajectory_is_the_array_formula():
    rng = np.random.default_rng(6)
    u = np.concatenate([rng.random(2000), [0.5, 0.7, 0.75]])
    cumulative = np.cumsum(rng.dirichlet(np.ones(5), size=4), axis=1)
    groups = rng.integers(0, 4, 2000)
    expected = np.minimum((u[:2000, None] >= cumulative[groups]).sum(axis=1), 4)
    assert [choose_trajectory(cumulative, g, x) for g, x in zip(groups, u[:2000], strict=True)] == expected.tolist()


def test_a_group_only_gets_the_trajectories_it_has_weight_for():
    cumulative = np.array([[0.0, 1.0, 1.0], [0.5, 0.5, 1.0]])
    assert {choose_trajectory(cumulative, 0, u) for u in np.linspace(0, 0.999, 50)} == {1}
    assert {choose_trajectory(cumulative, 1, u) for u in np.linspace(0, 0.999, 50)} == {0, 2}
    assert choose_trajectory(cumulative, 1, 1.0) == 2  # never past the last type


def test_route_rules_add_a_none_entry_that_changes_nothing(baseline):
    rules = route_rules(baseline)
    basket = baseline.trajectories.basket
    assert rules.trajectory_work.tolist() == [*(t.work_multiplier for t in basket), 1.0]
    assert rules.trajectory_gain.tolist() == [*(t.distance_gain_months_per_month for t in basket), 0.0]
    assert rules.trajectory_months.tolist() == [t.duration_months for t in basket]
    assert rules.diagnosis_error_sd_months == baseline.chain.diagnosis_error_sd_months
    assert rules.trajectory_start_per_month == baseline.trajectories.start_per_month
