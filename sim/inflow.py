"""Inflow: notifications (meldingen) as a Poisson process driven by observed drivers.

The yearly rate is not a free number per year (docs/model.md): it is a base rate made elastic to
unemployment (part of it, the WW route, to unemployment a WW maximum earlier), plus the extra
inflow groups of docs/domain.md (refugees with status, shorter WW, former Wajong/WSW), times the
within-year cycle and any shock. Newcomers are keyed per arrival (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import numpy as np
from scipy.special import pdtrik

from sim.calendar import DAYS_PER_YEAR
from sim.clients import ClientTable, State
from sim.compiled import compiled
from sim.drivers import driver, unemployment_pct, unemployment_pct_at
from sim.parameters import Inflow, Scenario
from sim.randomness import Streams, keyed_uniform, normal_quantile
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
        u_then = (
            unemployment_pct_at(scenario.drivers, lost_job)
            + effect_on(scenario.shocks, _date(lost_job)).unemployment_pct_add
        )
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
_GENERAL, _REFUGEE, _SHELTERED = range(len(_COMPONENTS))
# one keyed stream per personal attribute of a newcomer
_ARRIVAL_STREAMS = (
    "arrival_day",
    "age_class",
    "age",
    "distance",
    "sheltered_distance",
    "sheltered",
    "community_service",
    "entitlement",
    "dream_job",
    "dream_job_days",
    "guided",
    "diagnosis",
    "reapply",
    "reapply_delay",
)
(
    _DAY,
    _AGE_CLASS,
    _AGE,
    _DISTANCE,
    _SHELTERED_DISTANCE,
    _SHELTERED_DRAW,
    _COMMUNITY,
    _ENTITLEMENT,
    _DREAM,
    _DREAM_DAYS,
    _GUIDED,
    _DIAGNOSIS,
    _REAPPLY,
    _REAPPLY_DELAY,
) = range(len(_ARRIVAL_STREAMS))
_AGE_RANGES = {"under27": (18.0, 27.0), "27_49": (27.0, 50.0), "50plus": (50.0, 64.0)}
_WAITING = State.WAITING_MEETING


@compiled
def arrival_key(month_index: int, component: int, k: int) -> int:
    """Random key of a month's k-th newcomer of one component (k = 0, 1, ...).

    Arrival k of a month and component is the same person (same draws) whatever the rate, so a
    small change of a rate adds or drops a newcomer at the end and leaves everyone else as is.
    The start stock has keys below 2**40 (its row numbers).
    """
    return ((month_index + 1) << 42) + (component << 40) + k


def poisson_count(u: float, mean: float) -> int:
    """The Poisson(mean) quantile at u: monotone in the mean, so common random numbers hold for counts."""
    return 0 if mean <= 0 else max(0, int(math.ceil(pdtrik(u, mean))))


class NewcomerRules(NamedTuple):
    """Who the newcomers are (scenario parameters as compiled code reads them), made once a run."""

    age_cdf: np.ndarray  # cumulative age-class shares, normalised
    age_low: np.ndarray  # years, by age class
    age_high: np.ndarray
    log_distance_mu: float  # lognormal distance: mean of the log
    log_distance_sigma: float
    refugee_distance_extra_months: float
    sheltered_share: float
    community_service_share: float
    max_distance_months: float


def newcomer_rules(scenario: Scenario) -> NewcomerRules:
    """The scenario's NewcomerRules."""
    inflow, region = scenario.inflow, scenario.region
    shares = inflow.newcomer_age_shares
    cdf = np.cumsum([shares[k] for k in shares])
    sigma = inflow.newcomer_distance_sd_log
    return NewcomerRules(
        age_cdf=cdf / cdf[-1],
        age_low=np.array([_AGE_RANGES[k][0] for k in shares]),
        age_high=np.array([_AGE_RANGES[k][1] for k in shares]),
        log_distance_mu=float(math.log(inflow.newcomer_distance_mean_months) - sigma**2 / 2),
        log_distance_sigma=float(sigma),
        refugee_distance_extra_months=float(inflow.refugee_newcomer_distance_extra_months),
        sheltered_share=float(region.sheltered_share),
        community_service_share=float(region.community_service_share),
        max_distance_months=float(scenario.distance.max_months),
    )


def add_notifications(
    table: ClientTable,
    scenario: Scenario,
    streams: Streams,
    month_index: int,
    rates_per_year: dict[str, float],
    start_day: float,
    end_day: float,
    shock: ShockEffect,
    rules: NewcomerRules | None = None,
) -> np.ndarray:
    """Create the month's notified clients with their personal draws; ids in order of arrival.

    Every draw is keyed on the newcomer (`arrival_key`), none comes from a sequence, so the
    newcomers and their draws stay put when rates change (calibration, shocks, policies).
    `rules`: newcomer_rules(scenario), if the caller keeps them.
    """
    span = end_day - start_day
    count_base = streams.bases(("notification_count",), month_index)[0]
    counts = np.array(
        [
            poisson_count(keyed_uniform(count_base, c), rates_per_year[name] * span / DAYS_PER_YEAR)
            for c, name in enumerate(_COMPONENTS)
        ]
    )
    ids = table.add(int(counts.sum()))
    _newcomers(
        ids,
        month_index,
        counts,
        streams.bases(_ARRIVAL_STREAMS, month_index),
        start_day,
        span,
        float(shock.newcomer_distance_shift_months),
        rules or newcomer_rules(scenario),
        table.columns(NewcomerColumns),
    )
    return ids


class NewcomerColumns(NamedTuple):
    """The client table's columns `_newcomers` writes (sim/clients.ClientTable)."""

    key: np.ndarray
    notification_day: np.ndarray
    birth_day: np.ndarray
    refugee: np.ndarray
    sheltered: np.ndarray
    community_service: np.ndarray
    distance_true: np.ndarray
    u_entitlement: np.ndarray
    u_dream: np.ndarray
    u_dream_days: np.ndarray
    u_guided: np.ndarray
    u_reapply: np.ndarray
    u_reapply_delay: np.ndarray
    z_diag: np.ndarray
    state: np.ndarray


@compiled
def _newcomers(ids, month_index, counts, bases, start_day, span, distance_shift, r, c):
    """Draw the newcomers' attributes and write them to rows `ids` (columns `c`) in order of arrival."""
    n = len(ids)
    keys = np.empty(n, np.int64)
    kinds = np.empty(n, np.int64)
    at = 0
    for component in range(len(counts)):
        for k in range(counts[component]):
            keys[at] = arrival_key(month_index, component, k)
            kinds[at] = component
            at += 1
    days = np.empty(n)
    for j in range(n):
        days[j] = start_day + keyed_uniform(bases[_DAY], keys[j]) * span
    order = np.argsort(days, kind="mergesort")  # stable: table rows in order of arrival
    for rank in range(n):
        j = order[rank]
        key, kind, day = keys[j], kinds[j], days[j]
        u_age_class = keyed_uniform(bases[_AGE_CLASS], key)
        age_class = 0
        while age_class < len(r.age_cdf) and r.age_cdf[age_class] <= u_age_class:
            age_class += 1
        age_class = min(age_class, len(r.age_cdf) - 1)
        low, high = r.age_low[age_class], r.age_high[age_class]
        age = low + keyed_uniform(bases[_AGE], key) * (high - low)
        z = normal_quantile(keyed_uniform(bases[_DISTANCE], key))
        distance = np.exp(r.log_distance_mu + r.log_distance_sigma * z) + distance_shift
        if kind == _REFUGEE:
            distance = distance + r.refugee_distance_extra_months
        elif kind == _SHELTERED:
            distance = 24 + keyed_uniform(bases[_SHELTERED_DISTANCE], key) * 24
        sheltered = kind == _SHELTERED or (
            keyed_uniform(bases[_SHELTERED_DRAW], key) < r.sheltered_share and distance >= 24 and distance < 48
        )
        i = ids[rank]
        c.key[i] = key
        c.notification_day[i] = day
        c.birth_day[i] = day - age * DAYS_PER_YEAR
        c.refugee[i] = kind == _REFUGEE
        c.sheltered[i] = sheltered
        c.community_service[i] = keyed_uniform(bases[_COMMUNITY], key) < r.community_service_share
        c.distance_true[i] = min(max(distance, 0.0), r.max_distance_months)
        c.u_entitlement[i] = keyed_uniform(bases[_ENTITLEMENT], key)
        c.u_dream[i] = keyed_uniform(bases[_DREAM], key)
        c.u_dream_days[i] = keyed_uniform(bases[_DREAM_DAYS], key)
        c.u_guided[i] = keyed_uniform(bases[_GUIDED], key)
        c.u_reapply[i] = keyed_uniform(bases[_REAPPLY], key)
        c.u_reapply_delay[i] = keyed_uniform(bases[_REAPPLY_DELAY], key)
        c.z_diag[i] = normal_quantile(keyed_uniform(bases[_DIAGNOSIS], key))
        c.state[i] = _WAITING
