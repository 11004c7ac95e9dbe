"""Policies as data: which policy is in force on a date (beleid: 'breed' 2015-2018, 'focus' from 2019)."""

from __future__ import annotations

import numpy as np


def policy_periods_on(period_start_days: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Index of the policy period in force on each day (the first period also covers before it)."""
    return np.maximum(np.searchsorted(period_start_days, days, side="right") - 1, 0)
