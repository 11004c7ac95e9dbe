"""What a policy (beleid) does, and which policy is in force when.

A scenario names its policies ('broad' 2015-2018, 'focus' from 2019, and variants such as
'focus-participation'; docs/domain.md 'The two policies to compare') and a schedule of periods:
each policy is in force from its period's start until the next period starts, and the first
also covers the days before it. A policy acts in these places, and only there:

- at the door: the gatekeeper stops a share of the notifications (`PolicySchedule.gatekeeper_share_on`,
  applied in sim/intake.py);
- the work consultants: their number, caseload norm and whom they serve, and the contacts of the
  unserved and of the guided (sim/consultants.assign_consultants and contact_levels read these
  fields of the policy in force);
- the participation route: how often its talk reviews the route (`participation_review_chance`),
  whether its clients may start trajectories (`trajectory_routes`), and the extra guidance of a
  share of them for the first months after the policy starts (`participation_guidance_on`).

Each month end (sim/model.py) asks `PolicySchedule.in_force_on` for the policy in force and
hands the month step (sim/month_step.py) what its `PolicyRules` say.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.calendar import DAYS_PER_MONTH, Calendar
from sim.clients import Route
from sim.parameters import Policy, Scenario

_N_ROUTES = Route.PARTICIPATION + 1


def participation_review_chance(policy: Policy) -> float:
    """Chance in a month that a participation client has the talk that reviews the route: the
    policy's talks a year as a constant rate (about one a year, docs/domain.md)."""
    return -np.expm1(-policy.participation_review_contacts_per_year / 12.0)


def trajectory_routes(policy: Policy) -> np.ndarray:
    """Per route, whether its clients may start a trajectory from the basket: the development and
    2B routes always, participation if the policy buys them for it (docs/domain.md 'The two
    policies to compare'; guided participation clients may also, see participation_guidance_on)."""
    routes = np.zeros(_N_ROUTES, dtype=bool)
    routes[[Route.DEVELOPMENT, Route.SHELTERED]] = True
    routes[Route.PARTICIPATION] = policy.trajectories_in_participation
    return routes


def participation_guidance_on(policy: Policy, policy_start_day: float, day: float) -> bool:
    """Whether the policy's extra guidance of participation clients runs on `day`: for its first
    `participation_guidance_months` months after the policy came into force (two years in the
    2021 proposal, docs/domain.md)."""
    return bool((day - policy_start_day) / DAYS_PER_MONTH <= policy.participation_guidance_months)


@dataclass(frozen=True)
class PolicyRules:
    """What the month step looks up for one policy, made once a run rather than every month."""

    name: str
    policy: Policy
    review_chance: float  # participation_review_chance
    trajectory_routes: np.ndarray  # trajectory_routes

    @classmethod
    def of(cls, name: str, policy: Policy) -> PolicyRules:
        """The rules of the scenario's policy `name`."""
        return cls(name, policy, participation_review_chance(policy), trajectory_routes(policy))


class InForce(NamedTuple):
    """The policy in force on a day and the day its period started."""

    rules: PolicyRules
    start_day: float


def policy_periods_on(period_start_days: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Index of the policy period in force on each day (the first period also covers before it)."""
    return np.maximum(np.searchsorted(period_start_days, days, side="right") - 1, 0)


class PolicySchedule:
    """A scenario's policy schedule on the simulation clock: which policy is in force on a day."""

    def __init__(self, scenario: Scenario, calendar: Calendar) -> None:
        schedule = scenario.policy_schedule
        self._start_days = [calendar.day(p.start) for p in schedule]
        self._start_day_array = np.array(self._start_days)
        rules = {name: PolicyRules.of(name, policy) for name, policy in scenario.policies.items()}
        self._rules = [rules[p.policy] for p in schedule]
        self._gatekeeper = np.array([scenario.policies[p.policy].gatekeeper_share for p in schedule])

    def in_force_on(self, day: float) -> InForce:
        """The policy in force on `day` and its period's start day (policy_periods_on for one day,
        by bisect, as a numpy call costs more for a single value)."""
        period = max(bisect.bisect_right(self._start_days, day) - 1, 0)
        return InForce(self._rules[period], self._start_days[period])

    def gatekeeper_share_on(self, days: np.ndarray) -> np.ndarray:
        """Share of notifications the gatekeeper stops, under the policy in force on each day
        (36% under the broad policy, none under focus: docs/domain.md)."""
        return self._gatekeeper[policy_periods_on(self._start_day_array, days)]
