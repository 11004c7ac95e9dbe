"""Shocks (such as corona from March 2020): time-bounded multipliers and shifts, as data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sim.parameters import Shock


@dataclass(frozen=True)
class ShockEffect:
    """Combined effect of all shocks active on a date."""

    inflow_multiplier: float = 1.0
    work_multiplier: float = 1.0
    newcomer_distance_shift_months: float = 0.0
    unemployment_pct_add: float = 0.0


def effect_on(shocks: list[Shock], date: dt.date) -> ShockEffect:
    """Multiply the multipliers and add the shifts of the shocks active on `date`."""
    inflow, work, shift, unemployment = 1.0, 1.0, 0.0, 0.0
    for shock in shocks:
        if shock.start <= date < shock.end:
            inflow *= shock.inflow_multiplier
            work *= shock.work_multiplier
            shift += shock.newcomer_distance_shift_months
            unemployment += shock.unemployment_pct_add
    return ShockEffect(inflow, work, shift, unemployment)
