"""Yearly drivers of inflow and job-finding: unemployment, state-pension age, asylum permits, WW."""

from __future__ import annotations

import math

from sim.parameters import Drivers


def driver(drivers: Drivers, name: str, year: int) -> float:
    """Value of a driver in a year; years outside the list take the nearest listed year's value."""
    values = getattr(drivers, name)
    index = min(max(year - drivers.years[0], 0), len(drivers.years) - 1)
    return float(values[index])


def unemployment_pct(drivers: Drivers, year: int) -> float:
    return driver(drivers, "unemployment_pct", year)


def unemployment_pct_at(drivers: Drivers, time_years: float) -> float:
    """Unemployment at a point in time (2015.5 = mid-2015): linear between yearly averages, each at mid-year."""
    x = time_years - 0.5
    year = math.floor(x)
    weight = x - year
    return (1.0 - weight) * unemployment_pct(drivers, year) + weight * unemployment_pct(drivers, year + 1)


def state_pension_age(drivers: Drivers, year: int) -> float:
    """AOW age in force in a year, in years (65.083 = 65 years and 1 month)."""
    return driver(drivers, "state_pension_age_years", year)
