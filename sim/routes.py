"""Routes and trajectories: reviews that move clients between routes, and the trajectory basket.

- Direct mediation lasts under a month; 1A mediation (bemiddeling) is reviewed after 3 months
  and moves on to a development route (ontwikkelroute) when there is no work.
- The development route lasts at most 24 months, then participation.
- Participation (participatie) has a talk about once a year; a client returns to re-integration
  when the distance has really shrunk: the new diagnosis is under 24 months and the true distance
  is at least `trajectories.participation_return_min_fall_months` below what it was when the
  participation route began, so one review's diagnosis error does not undo the 24-month limit.
- Trajectories are bought from the basket (de 'korf') for the development and 2B routes, and
  for participation where the policy says so (which routes, under which policy, and the yearly
  ceiling of their spending: sim/policies.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.clients import Category, Route
from sim.compiled import compiled
from sim.parameters import TARGET_GROUPS, Scenario

_DIRECT, _MEDIATION, _DEVELOPMENT, _PARTICIPATION = (
    Route.DIRECT,
    Route.MEDIATION,
    Route.DEVELOPMENT,
    Route.PARTICIPATION,
)


def _route_after_review(old: int, indicated: int) -> int:
    """The route a review leads to, from the client's route and the one the new diagnosis indicates.

    1A without work after 3 months moves to a development route, or further if the review says so;
    after two years of development: participation; participation: back when the distance is short.
    """
    if old == _DEVELOPMENT:
        return _PARTICIPATION
    if old == _DIRECT:
        return indicated
    return _DEVELOPMENT if indicated == _MEDIATION else indicated


def _category_on_route(route: int, category: int) -> int:
    """Category kept with a route: 1A on a development route counts as 1B, participation at least 2A."""
    if route == _DEVELOPMENT and category == Category.C1A:
        return Category.C1B
    if route == _PARTICIPATION and category < Category.C2A:
        return Category.C2A
    return category


_ROUTES, _CATEGORIES = range(_PARTICIPATION + 1), range(Category.C3B + 1)
# the rules above as lookup tables: [old route, indicated route] and [new route, category]
ROUTE_AFTER_REVIEW = np.array([[_route_after_review(o, i) for i in _ROUTES] for o in _ROUTES], dtype=np.int8)
CATEGORY_ON_ROUTE = np.array([[_category_on_route(r, c) for c in _CATEGORIES] for r in _ROUTES], dtype=np.int8)


def review_months_by_route(scenario: Scenario) -> np.ndarray:
    """Months on a route after which it is reviewed, by route (inf: reviewed by talks, or never)."""
    tr = scenario.trajectories
    months = np.full(len(_ROUTES), np.inf)
    months[_DIRECT] = tr.direct_mediation_months
    months[_MEDIATION] = tr.mediation_review_months
    months[_DEVELOPMENT] = tr.development_route_max_months
    return months


def trajectory_choice_table(scenario: Scenario) -> np.ndarray:
    """Cumulative choice probabilities, target group x trajectory type (uniform if a group has no weight)."""
    basket = scenario.trajectories.basket
    weights = np.array([[t.weights.get(g, 0.0) for t in basket] for g in TARGET_GROUPS])
    totals = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / len(basket))
    probs = np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), uniform)
    return np.cumsum(probs, axis=1)


class RouteRules(NamedTuple):
    """Route reviews and trajectories as compiled code reads them, made once a run."""

    review_months: np.ndarray  # review_months_by_route
    diagnosis_error_sd_months: float  # a review re-diagnoses, with the intake diagnosis's error
    trajectory_start_per_month: float
    trajectory_work: np.ndarray  # job-finding multiplier by trajectory type, plus 1 ("none") last
    trajectory_gain: np.ndarray  # distance gain by type, plus 0 ("none") last
    trajectory_months: np.ndarray  # length by type
    trajectory_price: np.ndarray  # EUR by type, for the yearly ceiling (lever trajectories)
    trajectory_choice: np.ndarray  # trajectory_choice_table
    participation_return_min_fall_months: float


def route_rules(scenario: Scenario) -> RouteRules:
    """The scenario's RouteRules."""
    tr = scenario.trajectories
    basket = tr.basket
    return RouteRules(
        review_months=review_months_by_route(scenario),
        diagnosis_error_sd_months=float(scenario.chain.diagnosis_error_sd_months),
        trajectory_start_per_month=float(tr.start_per_month),
        # one entry past the basket for "not in a trajectory", so a client's lookup needs no branch
        trajectory_work=np.array([*(b.work_multiplier for b in basket), 1.0], dtype=np.float64),
        trajectory_gain=np.array([*(b.distance_gain_months_per_month for b in basket), 0.0], dtype=np.float64),
        trajectory_months=np.array([b.duration_months for b in basket], dtype=np.float64),
        trajectory_price=np.array([b.price_eur for b in basket], dtype=np.float64),
        trajectory_choice=trajectory_choice_table(scenario),
        participation_return_min_fall_months=float(tr.participation_return_min_fall_months),
    )


@compiled
def returns_from_participation(distance_true: float, distance_at_start: float, min_fall_months: float) -> bool:
    """Whether a participation client's distance fell enough since the route began to go back to
    re-integration (a route start with no recorded distance never allows it)."""
    return distance_true <= distance_at_start - min_fall_months


@compiled
def choose_trajectory(cumulative: np.ndarray, group: int, u: float) -> int:
    """Trajectory type for a client of target group `group` (`cumulative` from trajectory_choice_table)."""
    n_types = cumulative.shape[1]
    kind = 0
    for k in range(n_types):
        if u >= cumulative[group, k]:
            kind += 1
    return min(kind, n_types - 1)
