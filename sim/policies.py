"""Policies as data: which policy is in force on a date (beleid: 'breed' 2015-2018, 'focus' from 2019)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.parameters import Scenario


def policy_period_on(scenario: Scenario, date: dt.date) -> tuple[str, dt.date]:
    """Name and start date of the policy in force on `date` (the first period also covers before it)."""
    current = scenario.policy_schedule[0]
    for period in scenario.policy_schedule:
        if period.start <= date:
            current = period
    return current.policy, current.start


def policy_periods_on(period_start_days: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Index of the policy period in force on each day, for many days at once (as policy_period_on)."""
    return np.maximum(np.searchsorted(period_start_days, days, side="right") - 1, 0)
