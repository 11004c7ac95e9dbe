"""Inflow (sim/inflow.py): the rates from the unemployment driver, the WW lag and shocks; the
monthly Poisson counts; who the newcomers are, keyed per arrival (common random numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bands import mean_band, se_band, share_band

from sim.calendar import DAYS_PER_YEAR
from sim.drivers import unemployment_pct, unemployment_pct_at
from sim.inflow import notification_rates_per_year
from sim.parameters import AGE_CLASSES
from sim.scenario import with_overrides
from sim.shocks import ShockEffect

pytestmark = pytest.mark.unit

NO_SHOCK = ShockEffect()


def _general(scenario, year: int, month: int) -> float:
    rate = notification_rates_per_year(scenario, year, month, NO_SHOCK)["general"]
    inflow = scenario.inflow
    season = 1.0 + inflow.seasonality_amplitude * math.cos(2 * math.pi * (month - inflow.seasonality_peak_month) / 12)
    return rate / season


def _plain(baseline, **inflow):
    """Only the unemployment-driven part: no WW-shortening extra, elasticity 1."""
    return with_overrides(
        baseline,
        {"inflow": {"ww_notifications_per_year_per_month_shorter": 0.0, "elasticity_inflow": 1.0, **inflow}},
    )


def test_without_ww_share_inflow_follows_this_years_unemployment(baseline):
    s = _plain(baseline, ww_exhaustion_share=0.0)
    ref = s.inflow.reference_unemployment_pct
    for year in (2014, 2017, 2019):
        expected = s.inflow.base_notifications_per_year * unemployment_pct(s.drivers, year) / ref
        assert _general(s, year, 6) == pytest.approx(expected)


def test_ww_exhaustion_follows_unemployment_a_ww_maximum_earlier(baseline):
    """All via WW: the 2019 rate (WW maximum 25 months) is the unemployment of mid-2017."""
    s = _plain(baseline, ww_exhaustion_share=1.0)
    ref = s.inflow.reference_unemployment_pct
    # June 2019 is 2019.458; 25 months earlier is 2017.375
    u_then = unemployment_pct_at(s.drivers, 2019 + 5.5 / 12 - 25 / 12)
    assert _general(s, 2019, 6) == pytest.approx(s.inflow.base_notifications_per_year * u_then / ref)
    # falling unemployment reaches the WW route later: in 2017 it still brings more than the direct route
    direct = _plain(baseline, ww_exhaustion_share=0.0)
    assert _general(s, 2017, 6) > _general(direct, 2017, 6)
    assert _general(s, 2014, 6) < _general(direct, 2014, 6)  # the 2011 market was better than 2014's


def test_ww_share_mixes_the_two_routes(baseline):
    mixed = _general(_plain(baseline, ww_exhaustion_share=0.3), 2018, 3)
    direct = _general(_plain(baseline, ww_exhaustion_share=0.0), 2018, 3)
    lagged = _general(_plain(baseline, ww_exhaustion_share=1.0), 2018, 3)
    assert mixed == pytest.approx(0.7 * direct + 0.3 * lagged)


def test_a_shock_reaches_the_ww_route_when_its_job_losers_run_out_of_ww(baseline):
    """A 2020 unemployment shock raises WW-route inflow two years later (WW maximum 24 months)."""
    shock = {"start": "2020-01-01", "end": "2021-01-01", "unemployment_pct_add": 2.0}
    s = _plain(baseline, ww_exhaustion_share=1.0)
    shocked = with_overrides(s, {"shocks": {"crisis": shock}})
    assert _general(shocked, 2022, 6) > _general(s, 2022, 6)
    assert _general(shocked, 2023, 6) == pytest.approx(_general(s, 2023, 6))


def _month_of_newcomers(baseline, rates: dict[str, float], seed: int = 3):
    from sim.clients import ClientTable
    from sim.inflow import add_notifications
    from sim.randomness import Streams

    table = ClientTable()
    ids = add_notifications(table, baseline, Streams(seed), 17, rates, 500.0, 530.4, NO_SHOCK)
    return table, ids


def test_a_higher_rate_adds_newcomers_and_keeps_everyone_elses_draws(baseline):
    """Common random numbers for inflow: newcomers are keyed per arrival, not drawn as a sequence."""
    low_rates = {"general": 900.0, "refugee": 60.0, "sheltered": 20.0}
    high_rates = {k: v * 1.5 for k, v in low_rates.items()}
    low, low_ids = _month_of_newcomers(baseline, low_rates)
    high, high_ids = _month_of_newcomers(baseline, high_rates)
    assert len(high_ids) >= len(low_ids) > 0
    low_keys, high_keys = list(low.key[low_ids]), list(high.key[high_ids])
    assert set(low_keys) <= set(high_keys)
    where = [high_keys.index(k) for k in low_keys]
    for column in ("notification_day", "birth_day", "distance_true", "u_entitlement", "z_diag", "refugee"):
        assert (getattr(low, column)[low_ids] == getattr(high, column)[high_ids][where]).all(), column
    # table rows are in order of arrival
    assert (np.diff(high.notification_day[high_ids]) >= 0).all()


def test_poisson_counts_are_the_poisson_quantiles(baseline):
    from scipy.stats import poisson

    from sim.inflow import poisson_count

    u = np.random.default_rng(5).random(400)
    for mean in (0.4, 7.0, 130.0, 16_000.0):
        assert [poisson_count(x, mean) for x in u] == list(poisson.ppf(u, mean).astype(int))
    assert poisson_count(0.5, 0.0) == 0


def test_monthly_counts_have_the_poisson_mean_and_variance(baseline):
    """Over many months, counts of one component have mean and variance of the rate (4-sigma bands)."""
    from sim.inflow import poisson_count
    from sim.randomness import Streams

    streams, mean, months = Streams(11), 75.0, 2000
    counts = np.array(
        [poisson_count(streams.keyed_uniforms("notification_count", m, np.arange(1))[0], mean) for m in range(months)]
    )
    assert abs(counts.mean() - mean) < mean_band(math.sqrt(mean), months)
    # the sample variance of a Poisson sample has sd about mean * sqrt(2 / months) for a large mean
    assert abs(counts.var(ddof=1) - mean) < se_band(mean * math.sqrt(2 / months))


# -- who the newcomers are ------------------------------------------------------------------------------

# each class's ages at notification, written out rather than read from sim/inflow.py, so a changed range shows
NEWCOMER_AGES = {"under27": (18.0, 27.0), "27_49": (27.0, 50.0), "50plus": (50.0, 64.0)}


@pytest.mark.parametrize(
    "shares",
    [None, {"under27": 0.6, "27_49": 0.1, "50plus": 0.3}, {"under27": 0.0, "27_49": 0.25, "50plus": 0.75}],
    ids=["shipped", "young", "no-young"],
)
def test_newcomers_age_classes_are_drawn_by_their_shares(baseline, shares):
    """The model's own draw (one keyed uniform per newcomer through the cumulative shares, in
    compiled code): each class's share of a large month of newcomers is within its binomial
    band, and every age lies in its class's range."""
    scenario = baseline if shares is None else with_overrides(baseline, {"inflow": {"newcomer_age_shares": shares}})
    shares = scenario.inflow.newcomer_age_shares
    table, ids = _month_of_newcomers(scenario, {"general": 480_000.0, "refugee": 0.0, "sheltered": 0.0})
    n = len(ids)
    assert n > 30_000
    age = (table.notification_day[ids] - table.birth_day[ids]) / DAYS_PER_YEAR
    lows = np.array([NEWCOMER_AGES[c][0] for c in AGE_CLASSES])
    drawn = np.searchsorted(lows[1:], age, side="right")
    for code, name in enumerate(AGE_CLASSES):
        p = shares[name]
        in_class = drawn == code
        assert abs(in_class.mean() - p) <= share_band(p, n), (name, in_class.mean(), p)  # a zero share: none
        low, high = NEWCOMER_AGES[name]
        assert ((age[in_class] >= low - 1e-9) & (age[in_class] < high + 1e-9)).all(), name
    assert (age >= 18.0 - 1e-9).all() and (age < 64.0 + 1e-9).all()


def test_newcomers_are_notified_within_the_month_waiting_for_the_meeting(baseline):
    from sim.clients import State

    table, ids = _month_of_newcomers(baseline, {"general": 900.0, "refugee": 60.0, "sheltered": 20.0})
    days = table.notification_day[ids]
    assert ((days >= 500.0) & (days < 530.4)).all()
    assert (table.state[ids] == State.WAITING_MEETING).all()
    assert table.refugee[ids].sum() > 0 and table.sheltered[ids].sum() > 0
    assert (table.distance_true[ids] >= 0).all() and (table.distance_true[ids] <= baseline.distance.max_months).all()
