"""Scenarios for the checks against theory and extremes (shared by the verification tests).

Each is the shipped baseline with a few fields overridden through `with_overrides`, so it stays
a valid scenario of the same schema; none tunes the model, they only switch parts off.
"""

from __future__ import annotations

from typing import Any

from sim.parameters import Scenario
from sim.scenario import load, with_overrides

# one year of drivers: every later year takes these values (constant labour market, no asylum
# permits, WW maximum at its pre-2016 level so no extra WW inflow)
CONSTANT_DRIVERS = {
    "years": [2013],
    "unemployment_pct": [7.3],
    "state_pension_age_years": [67.0],
    "asylum_permits": [0.0],
    "ww_max_months": [38.0],
}

NO_EXTRA_INFLOW = {
    "seasonality_amplitude": 0.0,
    "refugee_notifications_per_permit": 0.0,
    "ww_notifications_per_year_per_month_shorter": 0.0,
    "wajong_wsw_notifications_per_year": 0.0,
    "reference_unemployment_pct": 7.3,  # = the constant unemployment: the market factor is 1
}


def baseline() -> Scenario:
    return load("baseline").scenario


def steady_state(**overrides: Any) -> Scenario:
    """Constant drivers, one policy (focus) throughout, no shocks, no seasonality, no extra groups;
    benefits paid from the day they start, so a benefit client-month is a month on the caseload
    (the checks read exposure from it)."""
    scenario = with_overrides(
        baseline(),
        {
            "drivers": CONSTANT_DRIVERS,
            "inflow": NO_EXTRA_INFLOW,
            "policy_schedule": [{"start": "2014-01-01", "policy": "focus"}],
            "shocks": {},
            "money": {"benefit_from_notification": False},
        },
    )
    return with_overrides(scenario, overrides) if overrides else scenario


NO_RETURNS = {
    "share_after_temporary": 0.0,
    "share_after_work": 0.0,
    "share_after_education": 0.0,
    "share_after_other": 0.0,
}
"""The `returns` block of a run in which no leaver comes back."""


def flat_hazards(work_per_month: float, other_per_month: float, **overrides: Any) -> Scenario:
    """Steady state in which every client on benefit has the same constant exit hazards.

    Job-finding is `work_per_month` whatever the distance, target group, route, duration,
    contact, trajectory or market; every job is full-time (leaves); no leaver comes back and no
    newcomer brings a part-time job; the other exit is `other_per_month`; no education exits, nobody reaches the state-pension age (80,
    and a stock under 50). Distance, contact and routes still move, but cannot change a hazard.
    """
    scenario = steady_state(
        drivers={"state_pension_age_years": [80.0]},
        region={"stock_age_shares": {"under27": 0.3, "27_49": 0.7, "50plus": 0.0}},
        work={
            "base_work_per_month": dict.fromkeys(("close", "near", "far", "very_far"), work_per_month),
            "work_multiplier_by_group": dict.fromkeys(("young", "older", "refugee", "other"), 1.0),
            "elasticity_work": 0.0,
            "scarring_per_year": 0.0,
            "route_multiplier_direct": 1.0,
            "route_multiplier_sheltered": 1.0,
            "fulltime_share": 1.0,
            "temporary_share": 0.0,
            "self_employment_share": 0.0,
            "education_per_month_young": 0.0,
            "other_exit_per_month": other_per_month,
        },
        contact={"contact_effect_max": 0.0},
        trajectories={"start_per_month": 0.0},
        returns=NO_RETURNS,
        inflow={"newcomer_parttime_share": 0.0},
    )
    return with_overrides(scenario, overrides) if overrides else scenario
