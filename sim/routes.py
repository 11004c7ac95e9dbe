"""Routes and trajectories: reviews that move clients between routes, and the trajectory basket.

- Direct mediation lasts under a month; 1A mediation (bemiddeling) is reviewed after 3 months
  and moves on to a development route (ontwikkelroute) when there is no work.
- The development route lasts at most 24 months, then participation.
- Participation (participatie) has a talk about once a year; a client whose diagnosed distance is
  back under 24 months returns to re-integration.
- Trajectories are bought from the basket (de 'korf') for the development and 2B routes, and
  for participation where the policy says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from sim.calendar import DAYS_PER_MONTH
from sim.clients import Category, ClientTable, Route, category_of, route_of
from sim.parameters import TARGET_GROUPS, Policy, Scenario

_DIRECT, _MEDIATION, _DEVELOPMENT, _PARTICIPATION = Route.DIRECT, Route.MEDIATION, Route.DEVELOPMENT, Route.PARTICIPATION


@dataclass(frozen=True)
class RouteChanges:
    ids: np.ndarray
    new_route: np.ndarray


def review_routes(
    table: ClientTable, ids: np.ndarray, day: float, scenario: Scenario, policy: Policy,
    u_review: np.ndarray, u_rediagnosis: np.ndarray,
) -> RouteChanges:
    """Route changes at the end of a month for clients on benefit `ids`; applies them to the table."""
    tr = scenario.trajectories
    route = table.route[ids]
    months_on_route = (day - table.route_start_day[ids]) / DAYS_PER_MONTH
    p_review = -np.expm1(-policy.participation_review_contacts_per_year / 12.0)
    due = (
        ((route == _DIRECT) & (months_on_route >= tr.direct_mediation_months))
        | ((route == _MEDIATION) & (months_on_route >= tr.mediation_review_months))
        | ((route == _DEVELOPMENT) & (months_on_route >= tr.development_route_max_months))
        | ((route == _PARTICIPATION) & (u_review < p_review))
    )
    reviewed = ids[due]
    old = route[due]
    z = ndtri(np.clip(u_rediagnosis[due], 1e-12, 1 - 1e-12))
    diagnosed = np.maximum(0.0, table.distance_true[reviewed] + scenario.chain.diagnosis_error_sd_months * z)
    category = category_of(diagnosed, table.sheltered[reviewed], table.community_service[reviewed])
    indicated = route_of(category, np.full(len(reviewed), 99.0))
    # 1A without work after 3 months moves to a development route, or further if the review says so;
    # after two years of development: participation; participation: back when the distance is short
    target = np.where(indicated == _MEDIATION, _DEVELOPMENT, indicated)
    target = np.where(old == _DIRECT, indicated, target)
    target = np.where(old == _DEVELOPMENT, _PARTICIPATION, target).astype(np.int8)
    category = np.where((target == _DEVELOPMENT) & (category == Category.C1A), Category.C1B, category)
    category = np.where((target == _PARTICIPATION) & (category < Category.C2A), Category.C2A, category)
    table.distance_diag[reviewed] = diagnosed
    moved = target != old
    moved_ids = reviewed[moved]
    table.category[moved_ids] = category[moved]
    table.route[moved_ids] = target[moved]
    table.route_start_day[moved_ids] = day
    return RouteChanges(moved_ids, target[moved])


def trajectory_eligible(route: np.ndarray, policy: Policy, guided: np.ndarray) -> np.ndarray:
    """Who may start a trajectory: development and 2B routes; participation if the policy says so."""
    eligible = (route == _DEVELOPMENT) | (route == Route.SHELTERED)
    participation = route == _PARTICIPATION
    return eligible | (participation & (policy.trajectories_in_participation | guided))


def trajectory_choice_table(scenario: Scenario) -> np.ndarray:
    """Cumulative choice probabilities, target group x trajectory type (uniform if a group has no weight)."""
    basket = scenario.trajectories.basket
    weights = np.array([[t.weights.get(g, 0.0) for t in basket] for g in TARGET_GROUPS])
    totals = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / len(basket))
    probs = np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), uniform)
    return np.cumsum(probs, axis=1)


def choose_trajectories(cumulative: np.ndarray, groups: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Trajectory type per client from the choice table for the client's target group."""
    choice = (u[:, None] >= cumulative[groups]).sum(axis=1)
    return np.minimum(choice, cumulative.shape[1] - 1).astype(np.int16)
