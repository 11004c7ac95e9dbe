"""Policies as data: which policy is in force on a date (beleid: 'breed' 2015-2018, 'focus' from 2019)."""

from __future__ import annotations

import datetime as dt

from sim.parameters import Policy, Scenario


def policy_period_on(scenario: Scenario, date: dt.date) -> tuple[str, dt.date]:
    """Name and start date of the policy in force on `date` (the first period also covers before it)."""
    current = scenario.policy_schedule[0]
    for period in scenario.policy_schedule:
        if period.start <= date:
            current = period
    return current.policy, current.start


def policy_on(scenario: Scenario, date: dt.date) -> Policy:
    """The policy in force on `date`."""
    return scenario.policies[policy_period_on(scenario, date)[0]]
