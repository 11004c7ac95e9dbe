"""Inflow: notifications (meldingen) as a Poisson process driven by observed drivers.

The yearly rate is not a free number per year (MODEL.md): it is a base rate made elastic to
unemployment (part of it, the WW route, to unemployment a WW maximum earlier), plus the extra
inflow groups of DOMAIN.md (refugees with status, shorter WW, former Wajong/WSW), times the
within-year cycle and any shock. Newcomers are keyed per arrival (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from scipy.special import pdtrik

from sim.calendar import DAYS_PER_YEAR
from sim.clients import ClientTable, State
from sim.drivers import driver, unemployment_pct, unemployment_pct_at
from sim.parameters import Inflow, Scenario
from sim.randomness import Streams, normal_quantile
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


def _market(inflow: Inflow, unemployment_pct: float) -> float:
    """Unemployment relative to the reference rate (floored at 0.1%)."""
    return max(unemployment_pct, 0.1) / inflow.reference_unemployment_pct


def _date(time_years: float) -> dt.date:
    """The date at a point in time in years (2015.5 = about 2 July 2015)."""
    year = math.floor(time_years)
    return dt.date(year, 1, 1) + dt.timedelta(days=int((time_years - year) * 365))


def monthly_notification_rates(scenario: Scenario) -> list[tuple[ShockEffect, dict[str, float]]]:
    """Each month's shock (as on the 15th) and notification rates, burn-in included, in run order."""
    sim = scenario.simulation
    out = []
    for year in range(sim.start_year + 1 - sim.burn_in_years, sim.until_year + 1):
        for month in range(1, 13):
            shock = effect_on(scenario.shocks, dt.date(year, month, 15))
            out.append((shock, notification_rates_per_year(scenario, year, month, shock)))
    return out


def expected_notifications(months: list[tuple[ShockEffect, dict[str, float]]]) -> float:
    """Expected notifications over the months of `monthly_notification_rates`."""
    return sum(sum(rates.values()) / 12 for _, rates in months)


_COMPONENTS = ("general", "refugee", "sheltered")
# one keyed stream per personal attribute of a newcomer (Streams.keyed_block rows)
_ARRIVAL_STREAMS = (
    "arrival_day", "age_class", "age", "distance", "sheltered_distance", "sheltered", "community_service",
    "entitlement", "dream_job", "dream_job_days", "guided", "diagnosis",
)


def arrival_keys(month_index: int, component: int, count: int) -> np.ndarray:
    """Random keys of a month's newcomers of one component: (month + 1, component, k), k = 0, 1, ...

    Arrival k of a month and component is the same person (same draws) whatever the rate, so a
    small change of a rate adds or drops a newcomer at the end and leaves everyone else as is.
    The start stock has keys below 2**40 (its row numbers).
    """
    return ((month_index + 1) << 42) + (component << 40) + np.arange(count, dtype=np.int64)


def poisson_count(u: float, mean: float) -> int:
    """The Poisson(mean) quantile at u: monotone in the mean, so common random numbers hold for counts."""
    return 0 if mean <= 0 else max(0, int(math.ceil(pdtrik(u, mean))))


def add_notifications(
    table: ClientTable,
    scenario: Scenario,
    streams: Streams,
    month_index: int,
    rates_per_year: dict[str, float],
    start_day: float,
    end_day: float,
    shock: ShockEffect,
) -> np.ndarray:
    """Create the month's notified clients with their personal draws; ids in order of arrival.

    Every draw is keyed on the newcomer (`arrival_keys`), none comes from a sequence, so the
    newcomers and their draws stay put when rates change (calibration, shocks, policies).
    """
    span = end_day - start_day
    u_count = streams.keyed_uniforms("notification_count", month_index, np.arange(len(_COMPONENTS)))
    counts = [poisson_count(u_count[c], rates_per_year[name] * span / DAYS_PER_YEAR) for c, name in enumerate(_COMPONENTS)]
    keys = np.concatenate([arrival_keys(month_index, c, n) for c, n in enumerate(counts)])
    kind = np.repeat(np.arange(len(_COMPONENTS)), counts)
    u = streams.keyed_block(_ARRIVAL_STREAMS, month_index, keys)
    (u_day, u_age_class, u_age, u_distance, u_sheltered_distance, u_sheltered, u_community,
     u_entitlement, u_dream, u_dream_days, u_guided, u_diagnosis) = u
    days = start_day + u_day * span
    order = np.argsort(days, kind="stable")  # table rows in order of arrival
    inflow, region = scenario.inflow, scenario.region
    age_keys = list(inflow.newcomer_age_shares)
    cdf = np.cumsum([inflow.newcomer_age_shares[k] for k in age_keys])
    age_class = np.minimum(np.searchsorted(cdf / cdf[-1], u_age_class, side="right"), len(age_keys) - 1)
    low = np.array([{"under27": 18, "27_49": 27, "50plus": 50}[k] for k in age_keys], dtype=float)
    high = np.array([{"under27": 27, "27_49": 50, "50plus": 64}[k] for k in age_keys], dtype=float)
    ages = low[age_class] + u_age * (high[age_class] - low[age_class])
    sigma = inflow.newcomer_distance_sd_log
    mu = math.log(inflow.newcomer_distance_mean_months) - sigma**2 / 2
    distance = np.exp(mu + sigma * normal_quantile(u_distance)) + shock.newcomer_distance_shift_months
    distance = np.where(kind == 1, distance + inflow.refugee_newcomer_distance_extra_months, distance)
    distance = np.where(kind == 2, 24 + u_sheltered_distance * 24, distance)
    sheltered = (kind == 2) | (u_sheltered < region.sheltered_share) & (distance >= 24) & (distance < 48)
    community = u_community < region.community_service_share
    ids = table.add(len(keys))
    rows = slice(table.n - len(keys), table.n)  # the new ids are consecutive rows: slices write faster
    table.key[rows] = keys[order]
    table.notification_day[rows] = days[order]
    table.birth_day[rows] = (days - ages * DAYS_PER_YEAR)[order]
    table.refugee[rows] = (kind == 1)[order]
    table.sheltered[rows] = sheltered[order]
    table.community_service[rows] = community[order]
    table.distance_true[rows] = np.clip(distance, 0.0, scenario.distance.max_months)[order]
    table.u_entitlement[rows] = u_entitlement[order]
    table.u_dream[rows] = u_dream[order]
    table.u_dream_days[rows] = u_dream_days[order]
    table.u_guided[rows] = u_guided[order]
    table.z_diag[rows] = normal_quantile(u_diagnosis)[order]
    table.state[rows] = State.WAITING_MEETING
    return ids
