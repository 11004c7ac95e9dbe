"""Leaving assistance: job-finding and other hazards, the labour market, job types, temporary
contracts, part-time work.

Hazards are per month and constant within a month (distance, contact and the market move
monthly), so competing risks are exact for a month: P(leave) = 1 - exp(-h * exposure) and the
reason is drawn in proportion to the hazards (docs/model.md 'A client's hazards').

Jobs end here too: a temporary contract's length is drawn here (contract_months; who comes
back when it ends is sim/returns.py), and a part-time job, which kept the client on a partial
benefit, may end (parttime_job_ends).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.clients import Exit, Group, Route
from sim.compiled import compiled
from sim.drivers import unemployment_pct
from sim.parameters import DISTANCE_GROUPS, TARGET_GROUPS, Scenario, Work
from sim.shocks import ShockEffect


def base_work_table(work: Work) -> np.ndarray:
    """Base job-finding hazard by distance group, in DISTANCE_GROUPS order."""
    return np.array([work.base_work_per_month[g] for g in DISTANCE_GROUPS])


def group_multiplier_table(work: Work) -> np.ndarray:
    """Job-finding multiplier by target group, in TARGET_GROUPS order."""
    return np.array([work.work_multiplier_by_group[g] for g in TARGET_GROUPS])


def base_hazard_table(work: Work) -> np.ndarray:
    """Job-finding hazard before scarring, contact, trajectory and market, flat by
    (distance group, target group, route, part-time): see hazard_class for the index.

    Multiplied in the order work_hazard always used, so a client's hazard is the same number.
    """
    base = base_work_table(work)[:, None, None, None]
    group_mult = group_multiplier_table(work)[None, :, None, None]
    route_mult = np.ones(N_ROUTES)
    route_mult[Route.DIRECT] = work.route_multiplier_direct
    route_mult[Route.SHELTERED] = work.route_multiplier_sheltered
    parttime_mult = np.array([1.0, work.parttime_work_multiplier])
    return (base * group_mult * route_mult[None, None, :, None] * parttime_mult[None, None, None, :]).ravel()


N_ROUTES = Route.PARTICIPATION + 1
_N_GROUPS = len(TARGET_GROUPS)


@compiled
def hazard_class(distance_true: float, group: int, route: int, parttime: bool) -> int:
    """Index into base_hazard_table: ((distance group x groups + group) x routes + route) x 2 + part-time,
    with distance groups under 3 months, 3-24, 24-48 and 48 and over."""
    distance_group = 0
    if distance_true >= 3.0:
        distance_group = 1
    if distance_true >= 24.0:
        distance_group = 2
    if distance_true >= 48.0:
        distance_group = 3
    return ((distance_group * _N_GROUPS + group) * N_ROUTES + route) * 2 + np.int64(parttime)


@compiled
def work_hazard(
    base_hazard: float,
    scarring_per_year: float,
    years_on: float,
    contact_multiplier: float,
    trajectory_multiplier: float,
    market_multiplier: float,
) -> float:
    """Job-finding hazard per month of a client (`base_hazard` from base_hazard_table): scarred by
    years on benefit, raised by contact, a trajectory and the market."""
    scarring = np.exp(-scarring_per_year * years_on)
    return base_hazard * scarring * contact_multiplier * trajectory_multiplier * market_multiplier


def market_multiplier(scenario: Scenario, unemployment_pct: float) -> float:
    """(u / u_ref) ** -elasticity_work: job-finding rises as unemployment falls (elasticity calibrated,
    docs/calibration.md)."""
    ratio = max(unemployment_pct, 0.1) / scenario.inflow.reference_unemployment_pct
    return ratio ** (-scenario.work.elasticity_work)


def labour_market_multiplier(scenario: Scenario, year: int, shock: ShockEffect) -> float:
    """Job-finding multiplier of the labour market in a month: market_multiplier at the year's
    unemployment (the driver, drivers.csv) plus the shocks' addition, times the shocks' own work
    multiplier (corona, docs/domain.md 'Corona')."""
    unemployment = unemployment_pct(scenario.drivers, year) + shock.unemployment_pct_add
    return float(market_multiplier(scenario, unemployment) * shock.work_multiplier)


JOB_PARTTIME = 0  # a job that does not end assistance: the client stays on a partial benefit
JOB_CODES = np.array([Exit.WORK_FULLTIME, Exit.WORK_TEMPORARY, Exit.SELF_EMPLOYMENT, JOB_PARTTIME], dtype=np.int8)


@compiled
def happens(hazard_per_month: float, exposure_months: float, u: float) -> bool:
    """Whether an event at a constant hazard happens within the exposure: P = 1 - exp(-h * exposure)."""
    return u < -np.expm1(-hazard_per_month * exposure_months)


@compiled
def exit_kind(h_work: float, h_education: float, h_other: float, u_kind: float) -> int:
    """Which competing risk it was, in proportion to the hazards: 0 work, 1 education, 2 other."""
    share = u_kind * (h_work + h_education + h_other)
    if share < h_work:
        return 0
    return 1 if share < h_work + h_education else 2


def job_bounds(work: Work) -> np.ndarray:
    """Cumulative shares of full-time, temporary and self-employment among jobs found (the rest:
    part-time jobs that keep assistance), summed in the order job_type expects."""
    full, temp, self_emp = work.fulltime_share, work.temporary_share, work.self_employment_share
    return np.array([full, full + temp, full + temp + self_emp], dtype=np.float64)


@compiled
def job_type(bounds: np.ndarray, parttime: bool, u: float) -> int:
    """Exit reason for a job found, or JOB_PARTTIME for a part-time job that keeps assistance
    (`bounds` from job_bounds).

    A client already working part-time who finds work leaves (the split renormalised without
    the part-time share).
    """
    v = u * (max(bounds[2], 1e-12) if parttime else 1.0)
    job = 0
    while job < 3 and bounds[job] <= v:
        job += 1
    return JOB_CODES[job]


@compiled
def parttime_job_ends(end_per_month: float, exposure_months: float, u: float) -> bool:
    """Whether a part-time job held since the month began ends within the client's months on
    benefit this month: a constant hazard, work.parttime_job_end_per_month (an assumption,
    sim/parameters.py). The client stays on assistance, on the full benefit again."""
    return happens(end_per_month, exposure_months, u)


@compiled
def contract_months(mean_months: float, u: float) -> float:
    """Length of a temporary contract in months: exponential with the scenario's mean."""
    return -mean_months * np.log1p(-u)


class WorkRules(NamedTuple):
    """The scenario's exit and job parameters as compiled code reads them, made once a run."""

    base_hazard: np.ndarray  # base_hazard_table
    scarring_per_year: float
    education_hazard: np.ndarray  # by target group: the young only
    other_exit_per_month: float
    job_bounds: np.ndarray  # job_bounds
    temporary_contract_months_mean: float
    parttime_job_end_per_month: float
    parttime_benefit_share: float


def work_rules(work: Work) -> WorkRules:
    """The scenario's WorkRules."""
    return WorkRules(
        base_hazard=base_hazard_table(work),
        scarring_per_year=float(work.scarring_per_year),
        education_hazard=np.where(np.arange(len(TARGET_GROUPS)) == Group.YOUNG, work.education_per_month_young, 0.0),
        other_exit_per_month=float(work.other_exit_per_month),
        job_bounds=job_bounds(work),
        temporary_contract_months_mean=float(work.temporary_contract_months_mean),
        parttime_job_end_per_month=float(work.parttime_job_end_per_month),
        parttime_benefit_share=float(work.parttime_benefit_share),
    )


EXIT_COLUMNS = {
    Exit.WORK_FULLTIME: "outflow_work_fulltime",
    Exit.WORK_TEMPORARY: "outflow_work_temporary",
    Exit.SELF_EMPLOYMENT: "outflow_self_employment",
    Exit.EDUCATION: "outflow_education",
    Exit.PENSION: "outflow_pension",
    Exit.OTHER: "outflow_other",
}
