"""Leaving assistance: the labour market on job-finding, part-time jobs that end, temporary
contracts' length (sim/work.py, docs/model.md 'A client's hazards'); coming back is tests/test_returns.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bands import mean_band, share_band
from verification_scenarios import CONSTANT_DRIVERS

from sim.randomness import Streams
from sim.scenario import load, with_overrides
from sim.shocks import ShockEffect
from sim.work import (
    JOB_CODES,
    base_hazard_table,
    contract_months,
    exit_kind,
    happens,
    hazard_class,
    job_bounds,
    job_type,
    labour_market_multiplier,
    parttime_job_ends,
    work_hazard,
)

pytestmark = pytest.mark.unit

N = 40_000  # draws per rate check


def _draws(stream: str, month: int, n: int = N) -> np.ndarray:
    return Streams(np.random.SeedSequence(5, spawn_key=(1,))).keyed_uniforms(stream, month, np.arange(n))


@pytest.fixture(scope="module")
def scenario():
    return load("focus").scenario


def _drivers(*unemployment_pct: float) -> dict:
    """Drivers from 2013, one year for each unemployment figure, the rest as CONSTANT_DRIVERS."""
    years = len(unemployment_pct)
    return {
        **{name: values * years for name, values in CONSTANT_DRIVERS.items()},
        "years": list(range(2013, 2013 + years)),
        "unemployment_pct": list(unemployment_pct),
    }


@pytest.mark.parametrize("exposure_months", [1.0, 31 / (365.25 / 12), 0.5])
@pytest.mark.parametrize("end_per_month", [0.03, 0.2])
def test_parttime_jobs_end_at_the_documented_rate(end_per_month, exposure_months):
    ended = np.array([parttime_job_ends(end_per_month, exposure_months, u) for u in _draws("parttime_end", 12)])
    p = 1 - math.exp(-end_per_month * exposure_months)
    assert abs(ended.mean() - p) < share_band(p, N)


def test_no_parttime_job_ends_without_the_hazard_or_without_time():
    u = _draws("parttime_end", 3, 1000)
    assert not any(parttime_job_ends(0.0, 1.0, x) for x in u)
    assert not any(parttime_job_ends(0.5, 0.0, x) for x in u)


def test_the_market_is_neutral_at_the_reference_unemployment(scenario):
    neutral = with_overrides(scenario, {"drivers": _drivers(scenario.inflow.reference_unemployment_pct)})
    assert labour_market_multiplier(neutral, 2017, ShockEffect()) == 1.0


def test_job_finding_falls_with_unemployment_by_the_elasticity(scenario):
    base = {"drivers": _drivers(5.0, 10.0), "inflow": {"reference_unemployment_pct": 5.0}}
    for elasticity in (0.0, 1.0, 2.0):
        s = with_overrides(scenario, {**base, "work": {"elasticity_work": elasticity}})
        assert labour_market_multiplier(s, 2013, ShockEffect()) == 1.0
        assert labour_market_multiplier(s, 2014, ShockEffect()) == pytest.approx(2.0**-elasticity, rel=1e-12)


def test_a_shock_adds_unemployment_and_multiplies_job_finding(scenario):
    s = with_overrides(
        scenario,
        {
            "drivers": _drivers(5.0),
            "inflow": {"reference_unemployment_pct": 5.0},
            "work": {"elasticity_work": 1.0},
        },
    )
    assert labour_market_multiplier(s, 2020, ShockEffect(work_multiplier=0.8)) == pytest.approx(0.8, rel=1e-12)
    assert labour_market_multiplier(s, 2020, ShockEffect(unemployment_pct_add=5.0)) == pytest.approx(0.5, rel=1e-12)
    both = ShockEffect(work_multiplier=0.8, unemployment_pct_add=5.0)
    assert labour_market_multiplier(s, 2020, both) == pytest.approx(0.4, rel=1e-12)


def test_temporary_contracts_last_the_mean_months_on_average():
    months = np.array([contract_months(6.0, u) for u in _draws("contract", 4)])
    # exponential: the standard deviation is the mean
    assert abs(months.mean() - 6.0) < mean_band(6.0, N)
    assert abs((months > 6.0).mean() - math.exp(-1)) < share_band(math.exp(-1), N)


# -- hazards, competing risks and job types ---------------------------------------------------------


def test_hazard_table_is_the_product_in_the_old_order(short_baseline):
    from sim.parameters import DISTANCE_GROUPS, TARGET_GROUPS

    work = short_baseline.work
    rng = np.random.default_rng(3)
    distance, groups = rng.uniform(0, 80, 500), rng.integers(0, 4, 500)
    route, parttime = rng.integers(0, 6, 500), rng.random(500) < 0.3
    base = np.array([work.base_work_per_month[g] for g in DISTANCE_GROUPS])[
        np.searchsorted([3.0, 24.0, 48.0], distance, side="right")
    ]
    group_mult = np.array([work.work_multiplier_by_group[g] for g in TARGET_GROUPS])[groups]
    route_mult = np.where(
        route == 1, work.route_multiplier_direct, np.where(route == 4, work.route_multiplier_sheltered, 1.0)
    )
    parttime_mult = np.where(parttime, work.parttime_work_multiplier, 1.0)
    expected = base * group_mult * route_mult * parttime_mult
    classes = [hazard_class(*client) for client in zip(distance, groups, route, parttime, strict=True)]
    assert np.array_equal(base_hazard_table(work)[classes], expected)


def test_the_work_hazard_is_scarred_by_years_on_and_raised_by_contact_trajectory_and_market():
    assert work_hazard(0.02, 0.1, 0.0, 1.0, 1.0, 1.0) == 0.02
    assert work_hazard(0.02, 0.1, 3.0, 1.0, 1.0, 1.0) == pytest.approx(0.02 * math.exp(-0.3), rel=1e-15)
    assert work_hazard(0.02, 0.0, 3.0, 1.5, 2.0, 0.5) == pytest.approx(0.03, rel=1e-15)


def test_an_event_happens_with_chance_one_minus_exp_of_the_hazard_times_the_exposure():
    u = _draws("exit", 7)
    for hazard, exposure in ((0.05, 1.0), (0.3, 0.5), (2.0, 1.0)):
        p = 1 - math.exp(-hazard * exposure)
        hit = np.array([happens(hazard, exposure, x) for x in u])
        assert abs(hit.mean() - p) < share_band(p, N)
    assert not any(happens(0.0, 1.0, x) for x in u[:1000]) and not any(happens(0.5, 0.0, x) for x in u[:1000])


def test_the_exit_reason_is_drawn_in_proportion_to_the_hazards():
    u = _draws("exit_reason", 2)
    kinds = np.bincount([exit_kind(0.02, 0.01, 0.01, x) for x in u], minlength=3)
    for kind, p in enumerate((0.5, 0.25, 0.25)):
        assert abs(kinds[kind] / N - p) < share_band(p, N)
    assert exit_kind(0.0, 0.0, 0.01, 0.0) == 2 and exit_kind(0.01, 0.0, 0.0, 0.999) == 0


def test_job_type_is_the_array_formula():
    rng = np.random.default_rng(6)
    bounds, u = np.array([0.5, 0.7, 0.75]), np.concatenate([rng.random(2000), [0.5, 0.7, 0.75]])
    assert [job_type(bounds, False, x) for x in u] == JOB_CODES[np.searchsorted(bounds, u, side="right")].tolist()
    assert all(job_type(bounds, True, x) != JOB_CODES[3] for x in u)  # part-timers leave when they find work


def test_job_bounds_are_the_cumulative_job_shares(short_baseline):
    work = short_baseline.work
    full, temp, own = work.fulltime_share, work.temporary_share, work.self_employment_share
    assert job_bounds(work).tolist() == [full, full + temp, full + temp + own]
