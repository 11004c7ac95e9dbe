"""Inflow: notifications (meldingen) as a Poisson process driven by observed drivers.

The yearly rate is not a free number per year (MODEL.md): it is a base rate made elastic to
unemployment, plus the extra inflow groups of DOMAIN.md (refugees with status, shorter WW,
former Wajong/WSW), times the within-year cycle and any shock.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from sim.calendar import DAYS_PER_YEAR
from sim.clients import ClientTable, State
from sim.drivers import driver, unemployment_pct, unemployment_pct_at
from sim.parameters import Scenario
from sim.shocks import ShockEffect, effect_on

WW_MONTHS_BEFORE_2016 = 38.0  # drivers.csv: maximum WW duration before the 2016 cuts


def notification_rates_per_year(scenario: Scenario, year: int, month: int, shock: ShockEffect) -> dict[str, float]:
    """Notifications a year by component (general, refugee, sheltered) for one month."""
    inflow = scenario.inflow
    u = unemployment_pct(scenario.drivers, year) + shock.unemployment_pct_add
    ww_months = driver(scenario.drivers, "ww_max_months", year)
    market = _market(inflow, u) ** inflow.elasticity_inflow
    if inflow.ww_exhaustion_share > 0:
        # those whose WW ends now lost their job a WW maximum ago, in that time's labour market
        # (the WW maximum of this year stands in for the one of the year they lost it)
        lost_job = year + (month - 0.5) / 12 - ww_months / 12
        u_then = unemployment_pct_at(scenario.drivers, lost_job) + effect_on(scenario.shocks, _date(lost_job)).unemployment_pct_add
        share = inflow.ww_exhaustion_share
        market = (1.0 - share) * market + share * _market(inflow, u_then) ** inflow.elasticity_inflow
    general = inflow.base_notifications_per_year * market
    general += inflow.ww_notifications_per_year_per_month_shorter * max(0.0, WW_MONTHS_BEFORE_2016 - ww_months)
    sheltered = inflow.wajong_wsw_notifications_per_year if year >= inflow.wajong_wsw_from_year else 0.0
    # permits of the year before: housing in a municipality follows the permit
    refugee = inflow.refugee_notifications_per_permit * driver(scenario.drivers, "asylum_permits", year - 1)
    season = 1.0 + inflow.seasonality_amplitude * math.cos(2 * math.pi * (month - inflow.seasonality_peak_month) / 12)
    factor = season * shock.inflow_multiplier
    return {"general": general * factor, "refugee": refugee * factor, "sheltered": sheltered * factor}


def _market(inflow, unemployment_pct: float) -> float:
    return max(unemployment_pct, 0.1) / inflow.reference_unemployment_pct


def _date(time_years: float) -> dt.date:
    """The date at a point in time in years (2015.5 = about 2 July 2015)."""
    year = math.floor(time_years)
    return dt.date(year, 1, 1) + dt.timedelta(days=int((time_years - year) * 365))


def expected_notifications(scenario: Scenario) -> float:
    """Expected notifications over the whole run (burn-in included), shocks applied as the run does."""
    sim = scenario.simulation
    total = 0.0
    for year in range(sim.start_year + 1 - sim.burn_in_years, sim.until_year + 1):
        for month in range(1, 13):
            shock = effect_on(scenario.shocks, dt.date(year, month, 15))
            total += sum(notification_rates_per_year(scenario, year, month, shock).values()) / 12
    return total


def add_notifications(
    table: ClientTable,
    scenario: Scenario,
    rng: np.random.Generator,
    rates_per_year: dict[str, float],
    start_day: float,
    end_day: float,
    shock: ShockEffect,
) -> np.ndarray:
    """Create the month's notified clients with their personal draws; ids in order of arrival."""
    span = end_day - start_day
    counts = {k: int(rng.poisson(v * span / DAYS_PER_YEAR)) for k, v in rates_per_year.items()}
    n = sum(counts.values())
    # draw every personal attribute even when n == 0 so streams stay aligned across scenarios
    days = start_day + rng.random(n) * span
    kind = np.repeat(np.arange(3), [counts["general"], counts["refugee"], counts["sheltered"]])
    order = np.argsort(days, kind="stable")
    days, kind = days[order], kind[order]
    inflow, region = scenario.inflow, scenario.region
    ids = table.add(n)
    rows = slice(table.n - n, table.n)  # the new ids are consecutive rows: slices write faster
    age_keys = list(inflow.newcomer_age_shares)
    p = np.array([inflow.newcomer_age_shares[k] for k in age_keys])
    # what rng.choice(len(p), n, p=p / p.sum()) does, without its checks (the same numbers)
    cdf = (p / p.sum()).cumsum()
    cdf /= cdf[-1]
    age_class = cdf.searchsorted(rng.random(n), side="right")
    low = np.array([{"under27": 18, "27_49": 27, "50plus": 50}[k] for k in age_keys], dtype=float)
    high = np.array([{"under27": 27, "27_49": 50, "50plus": 64}[k] for k in age_keys], dtype=float)
    ages = low[age_class] + rng.random(n) * (high - low)[age_class]
    sigma = inflow.newcomer_distance_sd_log
    mu = math.log(inflow.newcomer_distance_mean_months) - sigma**2 / 2
    distance = rng.lognormal(mu, sigma, n) + shock.newcomer_distance_shift_months
    is_refugee, is_sheltered = kind == 1, kind == 2
    distance = np.where(is_refugee, distance + inflow.refugee_newcomer_distance_extra_months, distance)
    distance = np.where(is_sheltered, 24 + rng.random(n) * 24, distance)
    sheltered = is_sheltered | (rng.random(n) < region.sheltered_share) & (distance >= 24) & (distance < 48)
    community = rng.random(n) < region.community_service_share
    personal = rng.random((n, 6))
    z_diag = rng.standard_normal(n)
    table.notification_day[rows] = days
    table.birth_day[rows] = days - ages * DAYS_PER_YEAR
    table.refugee[rows] = is_refugee
    table.sheltered[rows] = sheltered
    table.community_service[rows] = community
    table.distance_true[rows] = np.clip(distance, 0.0, scenario.distance.max_months)
    # column 0 is no longer used (it was a separate gatekeeper draw); kept so the other columns stay put
    table.u_entitlement[rows] = personal[:, 1]
    table.u_dream[rows] = personal[:, 2]
    table.u_dream_days[rows] = personal[:, 3]
    table.u_guided[rows] = personal[:, 4]
    table.z_diag[rows] = z_diag
    table.state[rows] = State.WAITING_MEETING
    return ids
