"""What a policy (beleid) does, and which policy is in force when.

A policy is a combination of levers (sim/parameters.LEVERS), each a table of its own that a
scenario file can set alone or take from another policy (`based_on`, or a lever given as a
policy's name; resolved by sim/parameters.resolve_policies). The levers act in these places,
and only there:

- `door`: the gatekeeper stops a share of the notifications (`PolicySchedule.gatekeeper_share_on`,
  applied in sim/intake.py, where those stopped are refused, find other means or apply again);
- `served`: which clients a work consultant serves (`served_route_mask`, then
  sim/consultants.clients_to_serve);
- `staffing`: the size of the team of work consultants (sim/consultants.team_size), recomputed
  as `team_due` says;
- `contact`: the income consultants' contacts with the unserved, the participation talk
  (`participation_review_chance`) and the extra guidance of a share of participation clients
  for the first calendar months of the policy (`participation_guidance_on`);
- `trajectories`: which routes may start a trajectory (`trajectory_routes`) and the yearly
  ceiling of their spending (sim/model.py keeps the year's account);
- `aftercare`: the share of temporary workers kept in work when a contract ends (sim/work.py).

Each month end (sim/model.py) asks `PolicySchedule.in_force_on` for the policy in force and
hands the month step (sim/month_step.py) what its `PolicyRules` say. `describe` says what a
policy assumes in plain words, for reports.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.calendar import Calendar
from sim.clients import Route
from sim.parameters import ROUTE_NAMES, Policy, Scenario, Staffing
from sim.shocks import describe_shock

_N_ROUTES = Route.PARTICIPATION + 1
ROUTE_CODES = {
    "direct": Route.DIRECT,
    "mediation": Route.MEDIATION,
    "development": Route.DEVELOPMENT,
    "sheltered": Route.SHELTERED,
    "participation": Route.PARTICIPATION,
}
assert tuple(ROUTE_CODES) == ROUTE_NAMES


def _route_mask(names: list[str]) -> np.ndarray:
    mask = np.zeros(_N_ROUTES, dtype=bool)
    mask[[ROUTE_CODES[n] for n in names]] = True
    return mask


def served_route_mask(policy: Policy) -> np.ndarray:
    """Per route, whether its clients may have a work consultant (lever `served`)."""
    return _route_mask(policy.served.routes)


def trajectory_routes(policy: Policy) -> np.ndarray:
    """Per route, whether its clients may start a trajectory from the basket (lever
    `trajectories`; guided participation clients may also, see participation_guidance_on)."""
    return _route_mask(policy.trajectories.routes)


def participation_review_chance(policy: Policy) -> float:
    """Chance in a month that a participation client has the talk that reviews the route: the
    policy's talks a year as a constant rate (about one a year, docs/domain.md)."""
    return -np.expm1(-policy.contact.participation_review_contacts_per_year / 12.0)


def add_months(date: dt.date, months: float) -> dt.date:
    """The date `months` calendar months after `date` (a fraction of a month as that share of
    the month it falls in; the day of the month kept, or the month's last day)."""
    whole = int(months)
    year, month = divmod(date.month - 1 + whole, 12)
    year, month = date.year + year, month + 1
    next_first = dt.date(year + month // 12, month % 12 + 1, 1)
    length = (next_first - dt.date(year, month, 1)).days
    moved = dt.date(year, month, min(date.day, length))
    return moved + dt.timedelta(days=round((months - whole) * length))


def guidance_end_day(policy: Policy, start: dt.date, calendar: Calendar) -> float:
    """The day the policy's extra guidance ends: `guidance_months` calendar months after the
    policy came into force (two years in the 2021 proposal, docs/domain.md)."""
    return calendar.day(add_months(start, policy.contact.guidance_months))


def participation_guidance_on(guidance_end: float, month_start: float) -> bool:
    """Whether the extra guidance runs in the month that starts on `month_start` (whole
    calendar months: 24 months from 1 January 2021 are the months of 2021 and 2022)."""
    return month_start < guidance_end


def team_due(staffing: Staffing, months_in_force: int) -> bool:
    """Whether the team is (re)computed in the policy's month `months_in_force` (0 = its first):
    a norm-following team every `review_months`; the other rules every month (they do not move)."""
    return staffing.rule != "norm" or months_in_force % staffing.review_months == 0


@dataclass(frozen=True)
class PolicyRules:
    """What the month step looks up for one policy, made once a run rather than every month."""

    name: str
    policy: Policy
    review_chance: float  # participation_review_chance
    trajectory_routes: np.ndarray  # trajectory_routes
    served_routes: np.ndarray  # served_route_mask

    @classmethod
    def of(cls, name: str, policy: Policy) -> PolicyRules:
        """The rules of the scenario's policy `name`."""
        return cls(
            name, policy, participation_review_chance(policy), trajectory_routes(policy), served_route_mask(policy)
        )


class InForce(NamedTuple):
    """The policy in force on a day, the day its period started, and the end of its guidance."""

    rules: PolicyRules
    start_day: float
    guidance_end_day: float


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
        self._in_force = [
            InForce(
                rules[p.policy], calendar.day(p.start), guidance_end_day(scenario.policies[p.policy], p.start, calendar)
            )
            for p in schedule
        ]
        self._gatekeeper = np.array([scenario.policies[p.policy].door.gatekeeper_share for p in schedule])

    def in_force_on(self, day: float) -> InForce:
        """The policy in force on `day` (policy_periods_on for one day, by bisect, as a numpy
        call costs more for a single value)."""
        return self._in_force[max(bisect.bisect_right(self._start_days, day) - 1, 0)]

    def gatekeeper_share_on(self, days: np.ndarray) -> np.ndarray:
        """Share of notifications the gatekeeper stops, under the policy in force on each day
        (36% under the broad policy, none under focus: docs/domain.md)."""
        return self._gatekeeper[policy_periods_on(self._start_day_array, days)]


# -- in plain words ---------------------------------------------------------------------------------


def _routes_in_words(routes: list[str]) -> str:
    words = {
        "direct": "direct mediation",
        "mediation": "1A mediation",
        "development": "development routes",
        "sheltered": "2B's sheltered route",
        "participation": "participation",
    }
    shown = [words[r] for r in ROUTE_NAMES if r in routes]
    return ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1] if shown else "no route"


def describe_levers(policy: Policy, money_per_fte: float) -> dict[str, str]:
    """Each lever of `policy` in one plain sentence, keyed by lever."""
    served = policy.served
    if served.max_distance_months >= 1000 and len(served.routes) == len(ROUTE_NAMES):
        who = "everyone, whatever the distance"
    else:
        distance = (
            "any distance"
            if served.max_distance_months >= 1000
            else f"a diagnosed distance up to {served.max_distance_months:g} months"
        )
        who = f"clients with {distance} on {_routes_in_words(served.routes)}"
    staffing = policy.staffing
    if staffing.rule == "fixed":
        team = f"a fixed team of {staffing.work_consultants:g} FTE, at most {staffing.caseload_norm:g} clients each"
    elif staffing.rule == "norm":
        ceiling = (
            f", at most {staffing.max_work_consultants:g} FTE" if staffing.max_work_consultants is not None else ""
        )
        team = (
            f"a team that follows its caseload norm of {staffing.caseload_norm:g} clients per consultant "
            f"(recomputed every {staffing.review_months} months{ceiling})"
        )
    else:
        fte = staffing.budget_eur_per_year / money_per_fte
        team = (
            f"the team a staff budget of EUR {staffing.budget_eur_per_year:,.0f} a year pays "
            f"({fte:.1f} FTE at EUR {money_per_fte:,.0f}), at most {staffing.caseload_norm:g} clients each"
        )
    door = policy.door.gatekeeper_share
    contact = policy.contact
    guidance = (
        f"; {contact.guidance_share:.0%} of participation clients guided with {contact.guidance_contacts_per_year:g} "
        f"contacts a year for its first {contact.guidance_months:g} months"
        if contact.guidance_share > 0
        else ""
    )
    ceiling = policy.trajectories.yearly_budget_eur
    return {
        "door": f"a gatekeeper stops {door:.0%} of notifications" if door > 0 else "no gatekeeper",
        "served": f"work consultants serve {who}",
        "staffing": team,
        "contact": f"the unserved have {contact.unserved_contacts_per_year:g} income consultant contacts a year{guidance}",
        "trajectories": f"trajectories on {_routes_in_words(policy.trajectories.routes)}"
        + (f", at most EUR {ceiling:,.0f} a year" if ceiling is not None else ", no yearly ceiling"),
        "aftercare": f"aftercare keeps {policy.aftercare.retention_share:.0%} of temporary workers in work",
    }


def describe(scenario: Scenario) -> list[str]:
    """What the scenario assumes, period by period, in plain words."""
    lines = []
    schedule = scenario.policy_schedule
    for i, period in enumerate(schedule):
        last = schedule[i + 1].start - dt.timedelta(days=1) if i + 1 < len(schedule) else None
        if i == 0:
            when = f"until {last}" if last else "throughout"
        else:
            when = f"{period.start} to {last}" if last else f"from {period.start}"
        levers = describe_levers(scenario.policies[period.policy], scenario.money.work_consultant_eur_per_fte_year)
        lines.append(f"{when}: {period.policy}: " + "; ".join(levers.values()))
    for name, shock in scenario.shocks.items():
        lines.append(f"shock {name} from {shock.start} to {shock.end}: {describe_shock(shock)}")
    return lines
