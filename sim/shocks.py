"""Shocks (such as corona from March 2020): time-bounded multipliers and shifts, as data.

A shock acts in full from its start, fades linearly to none over its last `fade_months`, and is
scaled by its `strength`: together its weight on a date. At weight w a multiplier m acts as
m ** w (so it stays positive and half a shock of x0.64 is x0.8) and a shift s as w x s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sim.calendar import DAYS_PER_MONTH
from sim.parameters import Shock


@dataclass(frozen=True)
class ShockEffect:
    """Combined effect of all shocks active on a date."""

    inflow_multiplier: float = 1.0
    work_multiplier: float = 1.0
    newcomer_distance_shift_months: float = 0.0
    unemployment_pct_add: float = 0.0


def weight_on(shock: Shock, date: dt.date) -> float:
    """Share of the shock's effects acting on `date`: 0 outside [start, end), else its strength,
    times the share of the fade still to go in its last fade_months."""
    if not shock.start <= date < shock.end:
        return 0.0
    left = (shock.end - date).days / DAYS_PER_MONTH
    fade = min(1.0, left / shock.fade_months) if shock.fade_months > 0 else 1.0
    return shock.strength * fade


def effect_on(shocks: Mapping[str, Shock], date: dt.date) -> ShockEffect:
    """Multiply the multipliers and add the shifts of the shocks active on `date`, each at its weight."""
    inflow, work, shift, unemployment = 1.0, 1.0, 0.0, 0.0
    for shock in shocks.values():
        w = weight_on(shock, date)
        if w == 0.0:
            continue
        inflow *= shock.inflow_multiplier**w
        work *= shock.work_multiplier**w
        shift += w * shock.newcomer_distance_shift_months
        unemployment += w * shock.unemployment_pct_add
    return ShockEffect(inflow, work, shift, unemployment)


def describe_shock(shock: Shock) -> str:
    """A shock's effects and time shape in plain words (at full weight, then how it fades and scales)."""
    parts = []
    if shock.inflow_multiplier != 1.0:
        parts.append(f"inflow x{shock.inflow_multiplier:.3g}")
    if shock.work_multiplier != 1.0:
        parts.append(f"job-finding x{shock.work_multiplier:.3g}")
    if shock.newcomer_distance_shift_months:
        parts.append(f"newcomers {shock.newcomer_distance_shift_months:+g} months")
    if shock.unemployment_pct_add:
        parts.append(f"unemployment {shock.unemployment_pct_add:+g} points")
    if shock.fade_months:
        parts.append(f"fading over its last {shock.fade_months:g} months")
    if shock.strength != 1.0:
        parts.append(f"at strength {shock.strength:g}")
    return ", ".join(parts) or "no effect"
