"""Participation as an outcome (meedoen): whether a client on the participation route is active in
volunteering, informal care or another useful activity.

Each month a participation client who is not active starts an activity at a hazard that rises
linearly with their contacts a year (the contact level's, sim/consultants.contact_levels), and
an active one stops at a constant hazard. The start hazard's two parts are not guessed: they
follow in closed form from the scenario's `participation` block (activity_rates): the long-run
share active with the income consultant's contacts, how long an activity lasts, and the one
observation in the sources, the share active after 1.5 years of a participation consultant
(docs/domain.md 'Evidence', source 002). A client leaving the route or assistance stops.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy.optimize import brentq

from sim.compiled import compiled
from sim.parameters import Participation


def share_active_after(months: float, start_share: float, start_per_month: float, end_per_month: float) -> float:
    """Share active after `months` at constant hazards, starting from `start_share`: the two-state
    chain's closed form, s* + (s0 - s*) exp(-(start + end) months), s* = start / (start + end)."""
    total = start_per_month + end_per_month
    if total <= 0:
        return start_share
    steady = start_per_month / total
    return steady + (start_share - steady) * math.exp(-total * months)


class ActivityRates(NamedTuple):
    """The start hazard of an activity, per month: base + per_contact x contacts a year."""

    base: float
    per_contact: float
    end: float


def activity_rates(p: Participation) -> ActivityRates:
    """The start hazard's parts that reproduce `p`: the long-run share active at the usual contacts,
    and the share after the trial's months at its contacts, starting from that long-run share."""
    end = p.end_per_month
    usual = end * p.share_active_income_consultant / (1 - p.share_active_income_consultant)

    def miss(start: float) -> float:
        return share_active_after(p.trial_months, p.share_active_income_consultant, start, end) - p.trial_share_active

    high = usual
    while miss(high) < 0:  # the share rises with the start rate, towards 1
        high *= 2
        if high > 1e6:
            raise ValueError("participation.trial_share_active: no start rate reaches it within trial_months")
    trial = brentq(miss, usual, high, xtol=1e-15)
    per_contact = (trial - usual) / (p.trial_contacts_per_year - p.usual_contacts_per_year)
    base = max(usual - per_contact * p.usual_contacts_per_year, 0.0)
    return ActivityRates(base=base, per_contact=per_contact, end=end)


@compiled
def activity_start_hazard(rates: ActivityRates, contacts_per_year: float) -> float:
    """Monthly hazard that a participation client with `contacts_per_year` starts an activity."""
    return rates.base + rates.per_contact * contacts_per_year
