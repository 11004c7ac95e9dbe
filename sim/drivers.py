"""Yearly drivers of inflow and job-finding: unemployment, state-pension age, asylum permits, WW."""

from __future__ import annotations

from sim.parameters import Drivers


def driver(drivers: Drivers, name: str, year: int) -> float:
    """Value of a driver in a year; years outside the list take the nearest listed year's value."""
    values = getattr(drivers, name)
    index = min(max(year - drivers.years[0], 0), len(drivers.years) - 1)
    return float(values[index])


def unemployment_pct(drivers: Drivers, year: int) -> float:
    return driver(drivers, "unemployment_pct", year)


def state_pension_age(drivers: Drivers, year: int) -> float:
    """AOW age in force in a year, in years (65.083 = 65 years and 1 month)."""
    return driver(drivers, "state_pension_age_years", year)
