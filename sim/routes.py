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

from sim.calendar import DAYS_PER_MONTH
from sim.clients import Category, ClientTable, Route, category_of, route_of
from sim.parameters import Policy, Scenario, TARGET_GROUPS


@dataclass(frozen=True)
class RouteChanges:
    ids: np.ndarray
    new_route: np.ndarray


def review_routes(
    table: ClientTable, ids: np.ndarray, day: float, scenario: Scenario, policy: Policy,
    u_review: np.ndarray, z_rediagnosis: np.ndarray,
) -> RouteChanges:
    """Route changes at the end of a month for clients on benefit `ids`; applies them to the table."""
    tr, chain = scenario.trajectories, scenario.chain
    route = table.route[ids]
    months_on_route = (day - table.route_start_day[ids]) / DAYS_PER_MONTH
    rediagnosed = np.maximum(0.0, table.distance_true[ids] + chain.diagnosis_error_sd_months * z_rediagnosis)
    new_cat = category_of(rediagnosed, table.sheltered[ids], table.community_service[ids])
    new_route = route_of(new_cat, np.full(len(ids), 99.0))

    direct_done = (route == Route.DIRECT) & (months_on_route >= tr.direct_mediation_months)
    mediation_done = (route == Route.MEDIATION) & (months_on_route >= tr.mediation_review_months)
    development_done = (route == Route.DEVELOPMENT) & (months_on_route >= tr.development_route_max_months)
    p_review = 1.0 - np.exp(-policy.participation_review_contacts_per_year / 12.0)
    participation_review = (route == Route.PARTICIPATION) & (u_review < p_review)

    target = np.full(len(ids), -1, dtype=np.int8)
    target[direct_done] = new_route[direct_done]
    # 1A without work after 3 months moves to a development route, or further if the review says so
    after_mediation = np.where(new_route == Route.MEDIATION, Route.DEVELOPMENT, new_route)
    target[mediation_done] = after_mediation[mediation_done]
    target[development_done] = Route.PARTICIPATION
    back = participation_review & (new_route != Route.PARTICIPATION)
    target[back] = new_route[back]

    moved = target >= 0
    moved &= target != route
    moved_ids = ids[moved]
    if len(moved_ids):
        cat = new_cat[moved]
        to = target[moved]
        cat = np.where((to == Route.DEVELOPMENT) & (cat == Category.C1A), Category.C1B, cat)
        cat = np.where((to == Route.PARTICIPATION) & (cat < Category.C2A), Category.C2A, cat)
        table.category[moved_ids] = cat
        table.route[moved_ids] = to
        table.route_start_day[moved_ids] = day
        table.distance_diag[moved_ids] = rediagnosed[moved]
    # participation clients reviewed but staying keep their route; their diagnosis is refreshed
    stay = participation_review & ~moved
    table.distance_diag[ids[stay]] = rediagnosed[stay]
    return RouteChanges(moved_ids, target[moved])


def trajectory_eligible(route: np.ndarray, policy: Policy, guided: np.ndarray) -> np.ndarray:
    """Who may start a trajectory: development and 2B routes; participation if the policy says so."""
    eligible = (route == Route.DEVELOPMENT) | (route == Route.SHELTERED)
    participation = route == Route.PARTICIPATION
    return eligible | (participation & (policy.trajectories_in_participation | guided))


def choose_trajectories(scenario: Scenario, groups: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Trajectory type per client by the basket's weights for the client's target group."""
    basket = scenario.trajectories.basket
    weights = np.array([[t.weights.get(g, 0.0) for t in basket] for g in TARGET_GROUPS])  # group x type
    totals = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / len(basket))
    probs = np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), uniform)
    cumulative = np.cumsum(probs, axis=1)
    rows = cumulative[groups]
    choice = (u[:, None] >= rows).sum(axis=1)
    return np.minimum(choice, len(basket) - 1).astype(np.int16)
