"""The model against theory and extremes: Little's law, the weekly meeting as a queue, switched-off parts.

Every tolerance is derived from the run's own sample size (Poisson or binomial counts, batch
means: tests/bands.py; Student t over replications); none is fitted to one run. Seeds are fixed.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from bands import count_band, mean_band, poisson_band, rate_band, se_band
from scipy import stats
from verification_scenarios import NO_RETURNS, baseline, flat_hazards, steady_state

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.clients import Exit, Route, State
from sim.model import Model, run
from sim.replications import replication_seeds
from sim.scenario import load, with_overrides

pytestmark = pytest.mark.theory

ORIGIN = dt.date(2014, 1, 1)


def day_of(year: int) -> float:
    return float((dt.date(year, 1, 1) - ORIGIN).days)


def spells(events: pd.DataFrame, run_end_day: float) -> pd.DataFrame:
    """Spells on assistance from the event log: start (granted or return) to exit, censored at run end."""
    starts = events[events["event"].isin(["granted", "return"])].sort_values(["client", "day"], kind="stable")
    ends = events[events["event"] == "exit"].sort_values(["client", "day"], kind="stable")
    starts = starts.assign(k=starts.groupby("client").cumcount())[["client", "k", "day"]]
    ends = ends.assign(k=ends.groupby("client").cumcount())[["client", "k", "day"]]
    merged = starts.merge(ends, on=["client", "k"], how="left", suffixes=("", "_end"))
    merged["censored"] = merged["day_end"].isna()
    merged["months"] = (merged["day_end"].fillna(run_end_day) - merged["day"]) / DAYS_PER_MONTH
    return merged


# -- Little's law ---------------------------------------------------------------------------------


def test_littles_law_in_a_steady_state():
    """Mean stock = entry rate x mean time on assistance (from the event log), over a long steady run.

    No initial stock, constant drivers and policy; the other-exit hazard of 0.04 a month bounds
    every spell's tail (mean residual at most 25 months), so 8 years reach the steady state and
    10 years after the 16-year window leave few spells censored (counted at their observed
    length; what they miss is at most 25 months each in expectation, added to the band).

    Over the window, time-average stock x length = sum of the spells' time inside it; the
    spells entering in the window sum to that, minus what they spend after it (X_out), plus
    what earlier spells spend in it (X_in). In a steady state the two edge terms have equal
    means, so L = entry rate x mean spell up to (X_in - X_out) / length, whose standard error,
    entries being Poisson and durations independent, is sqrt(sum X_in^2 + sum X_out^2) / length.
    The time-average stock comes from the model's benefit client-months (part-time benefit
    share 1, so a client-month is a client on the caseload for a month); the month-end stock of
    the monthly table is checked too, with the standard error of (month-end - month mean) added.
    """
    warm, window, tail = 8, 16, 10
    other = 0.04
    scenario = steady_state(
        region={"initial_stock": 0},
        inflow={"base_notifications_per_year": 600.0},
        work={"other_exit_per_month": other, "parttime_benefit_share": 1.0},
        simulation={"until_year": 2013 + warm + window + tail},
    )
    result = run(scenario, 3, record_events=True)
    a, b = day_of(2014 + warm), day_of(2014 + warm + window)
    length = (b - a) / DAYS_PER_MONTH
    table = spells(result.events, day_of(scenario.simulation.until_year + 1))
    end = table["day"] + table["months"] * DAYS_PER_MONTH
    entering = (table["day"] >= a) & (table["day"] < b)
    assert entering.sum() > 5000, "the window must hold enough spells for the check to mean something"
    entry_rate = entering.sum() / length
    mean_spell = table.loc[entering, "months"].mean()
    x_out = (end[entering] - b).clip(lower=0) / DAYS_PER_MONTH
    x_in = (end[table["day"] < a].clip(lower=a, upper=b) - a) / DAYS_PER_MONTH
    se_edge = math.sqrt((x_out**2).sum() + (x_in**2).sum()) / length
    censored = table.loc[entering, "censored"].sum() / other / length
    band = se_band(se_edge) + censored

    monthly = result.monthly
    in_window = monthly[(monthly["year"] >= 2014 + warm) & (monthly["year"] < 2014 + warm + window)]
    time_average = in_window["benefit_client_months"].sum() / length
    assert band < 0.05 * time_average, f"band {band:.1f} too wide to test anything (stock {time_average:.0f})"
    assert abs(time_average - entry_rate * mean_spell) <= band, (
        f"mean stock {time_average:.1f} vs entry rate x mean spell {entry_rate * mean_spell:.1f} (band {band:.1f})"
    )
    # month-end stock: a sample of the same stock
    days_in_month = (
        np.array(
            [
                (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.date(y, m, 1)).days
                for y, m in zip(in_window["year"], in_window["month"], strict=True)
            ]
        )
        / DAYS_PER_MONTH
    )
    delta = in_window["caseload"].to_numpy() - in_window["benefit_client_months"].to_numpy() / days_in_month
    yearly_delta = delta.reshape(window, 12).mean(axis=1)
    se_snapshot = yearly_delta.std(ddof=1) / math.sqrt(window)
    month_end = in_window["caseload"].mean()
    assert abs(month_end - entry_rate * mean_spell) <= se_band(math.hypot(se_edge, se_snapshot)) + censored


# -- the weekly information meeting as a queue ----------------------------------------------------


def meeting_scenario(arrivals_per_week: float):
    """Only the meeting binds: no gatekeeper (focus), no extra sessions, desks far above demand."""
    return steady_state(
        region={"initial_stock": 0},
        inflow={"base_notifications_per_year": arrivals_per_week * DAYS_PER_YEAR / 7},
        chain={
            "extra_meetings_max_per_week": 0,
            "diagnosis_talks_per_weekday": 100_000,
            "intakes_per_weekday": 100_000,
        },
        simulation={"until_year": 2015},
    )


def _carryover_moments(arrivals_per_week: float, places: int, support: int = 400) -> tuple[float, float]:
    """E[Q], E[Q^2] of the clients left waiting after a meeting: Q' = max(0, Q + A - places), A ~ Poisson, stationary."""
    pmf = stats.poisson.pmf(np.arange(support), arrivals_per_week)
    q = np.zeros(support)
    q[0] = 1.0
    for _ in range(2000):
        total = np.convolve(q, pmf)[:support]
        new = np.zeros(support)
        new[0] = total[: places + 1].sum()
        new[1 : support - places] = total[places + 1 :]
        if np.abs(new - q).sum() < 1e-14:
            break
        q = new
    k = np.arange(support)
    return float(np.dot(k, q)), float(np.dot(k**2, q))


def test_meeting_below_capacity_keeps_the_wait_under_two_weeks():
    """6 arrivals a week for 12 places: contact after 3 days, then the next Tuesday session.

    A client seated at the first session after contact waits 3 + U(0, 7) days (sessions are 7 days
    apart, arrivals uniform): mean 6.5, at most 10. Only those left over when a week brings more
    than 12 wait a week more: E[Q] a week from the queue's stationary law. Left-overs come in
    clusters (one busy week leaves several), so their count is compound Poisson: variance
    weeks x E[Q^2].
    """
    lam, places = 6.0, 12
    scenario = meeting_scenario(lam)
    events = run(scenario, 1, record_events=True).events
    notified = events[events["event"] == "notified"].set_index("client")["day"]
    seated = events[events["event"] == "information_meeting"].set_index("client")["day"]
    wait = (seated - notified.reindex(seated.index)).to_numpy()
    n = len(wait)
    assert n > 500
    contact = scenario.chain.contact_days
    mean_expected, sd_uniform = contact + 3.5, 7 / math.sqrt(12)
    assert abs(wait.mean() - mean_expected) < mean_band(sd_uniform, n)
    assert np.quantile(wait, 0.99) < 14.0
    mean_q, mean_q2 = _carryover_moments(lam, places)
    weeks = n / lam
    missed = int((wait > contact + 7).sum())
    assert missed <= weeks * mean_q + se_band(math.sqrt(weeks * mean_q2))
    # every client notified at least 2 weeks before the end was seated
    assert len(seated) >= (notified < notified.max() - 14).sum()


def test_meeting_above_capacity_queue_grows_at_the_excess_rate():
    """20 arrivals a week for 12 places, no extra sessions: a fluid queue growing 8 a week.

    While the queue never empties every session seats exactly 12, so the queue after session k
    is Q_0 + (arrivals ready by then) - 12 k: its slope over K weeks is (arrivals) / K - 12, with
    arrivals Poisson(20 K): expected slope 8 a week, standard error sqrt(20 / K).
    """
    lam, places = 20.0, 12
    scenario = meeting_scenario(lam)
    result = run(scenario, 1, record_events=True)
    events = result.events
    seats = np.array(result.meeting_seats)
    assert (seats[2:] == places).all(), "the queue emptied: only the meeting should bind"
    meetings = np.sort(events.loc[events["event"] == "information_meeting", "day"].unique())
    ready = np.sort(events.loc[events["event"] == "notified", "day"].to_numpy() + scenario.chain.contact_days)
    seated = np.sort(events.loc[events["event"] == "information_meeting", "day"].to_numpy())
    queue = np.searchsorted(ready, meetings, side="right") - np.searchsorted(seated, meetings, side="right")
    k0, k1 = 4, len(meetings) - 1
    weeks = k1 - k0
    assert weeks > 90
    slope = (queue[k1] - queue[k0]) / weeks
    se = math.sqrt(lam / weeks)
    assert abs(slope - (lam - places)) < se_band(se), (
        f"queue grew {slope:.2f} a week, expected {lam - places} +- {se_band(se):.2f}"
    )
    # and the fit over all weeks agrees with the two-point slope (linear, not accelerating)
    fitted = np.polyfit(np.arange(k0, k1 + 1), queue[k0 : k1 + 1], 1)[0]
    assert abs(fitted - (lam - places)) < se_band(se)


# -- extremes ---------------------------------------------------------------------------------------


def test_zero_inflow_stock_only_falls_at_the_given_rates():
    """No notifications and no returns: the stock decays as N0 exp(-(work + other) t), exactly binomial."""
    work, other, stock0 = 0.03, 0.01, 2000
    scenario = flat_hazards(
        work,
        other,
        region={"initial_stock": stock0},
        inflow={"base_notifications_per_year": 0.0},
        simulation={"until_year": 2016},
    )
    monthly = run(scenario, 4).monthly
    assert (monthly["notifications"] == 0).all() and (monthly["inflow"] == 0).all()
    stock = np.concatenate([[stock0], monthly["caseload"].to_numpy()])
    assert (np.diff(stock) <= 0).all(), "the stock rose without inflow"
    months = len(monthly)
    survive = math.exp(-(work + other) * months)
    expected = stock0 * survive
    assert abs(stock[-1] - expected) < count_band(stock0, survive)
    # the exits split between work and other in proportion to their hazards (binomial)
    leavers = int(monthly["outflow"].sum())
    to_work = int(monthly["outflow_work_fulltime"].sum())
    p = work / (work + other)
    assert abs(to_work - leavers * p) < count_band(leavers, p)
    assert leavers == to_work + int(monthly["outflow_other"].sum())


def test_zero_inflow_with_the_shipped_hazards_stock_never_rises():
    """The shipped hazards (groups, contact, trajectories, pension), no inflow, no returns."""
    scenario = with_overrides(
        baseline(),
        {
            "inflow": {
                "base_notifications_per_year": 0.0,
                "refugee_notifications_per_permit": 0.0,
                "ww_notifications_per_year_per_month_shorter": 0.0,
                "wajong_wsw_notifications_per_year": 0.0,
            },
            "returns": NO_RETURNS,
            "simulation": {"until_year": 2017},
        },
    )
    monthly = run(scenario, 5).monthly
    assert (monthly["inflow"] == 0).all()
    stock = np.concatenate([[scenario.region.initial_stock], monthly["caseload"].to_numpy()])
    assert (np.diff(stock) <= 0).all()
    assert stock[-1] < stock[0]


def test_no_exits_to_work_stock_grows_by_inflow_minus_other_exits():
    """base_work 0: no job of any kind; the stock changes by exactly inflow - other exits.

    Only the other-exit hazard is left (no education, no pension), so the other exits are
    Poisson with mean hazard x client-months (up to the within-month timing of the exit day,
    at most a fraction `hazard` of the mean).
    """
    other = 0.01
    scenario = flat_hazards(
        0.0,
        other,
        region={"initial_stock": 1500},
        inflow={"base_notifications_per_year": 600.0},
        simulation={"until_year": 2017},
    )
    monthly = run(scenario, 6).monthly
    for column in (
        "outflow_work_fulltime",
        "outflow_work_temporary",
        "outflow_self_employment",
        "placements_parttime",
        "outflow_education",
        "outflow_pension",
    ):
        assert (monthly[column] == 0).all(), column
    previous = monthly["caseload"].shift(1).fillna(scenario.region.initial_stock)
    assert (monthly["caseload"] == previous + monthly["inflow"] - monthly["outflow_other"]).all()
    assert (monthly["returns"] == 0).all()
    assert monthly["caseload"].iloc[-1] > scenario.region.initial_stock
    expected = other * monthly["benefit_client_months"].sum()
    observed = monthly["outflow_other"].sum()
    assert abs(observed - expected) < poisson_band(expected) + other * expected


def test_no_contact_job_finding_falls_to_the_no_contact_rate():
    """No work consultants (caseload infinite, contact 0) and no income-consultant contact.

    With the contact effect switched on (1.0) but no contact, job-finding is the base rate for
    everyone: exits to work ~ Poisson(base x client-months). With the shipped staff, the same
    clients find work clearly more often: the check has power.
    """
    work, other = 0.02, 0.005
    scenario = flat_hazards(
        work,
        other,
        region={"initial_stock": 1500},
        inflow={"base_notifications_per_year": 400.0},
        contact={"contact_effect_max": 1.0, "contact_saturation_per_year": 6.0},  # a strong, quick effect: power
        simulation={"until_year": 2016},
    )
    no_contact = with_overrides(
        scenario,
        {
            "policies": {
                "focus": {
                    "staffing": {"rule": "fixed", "work_consultants": 0.0},
                    "contact": {"unserved_contacts_per_year": 0.0},
                }
            }
        },
    )
    monthly = run(no_contact, 8).monthly
    assert monthly["clients_served"].eq(0).all()
    assert not np.isfinite(monthly["work_consultant_caseload"].astype(float)).any()  # no staff: no finite caseload
    expected = work * monthly["benefit_client_months"].sum()
    observed = monthly["outflow_work_fulltime"].sum()
    assert abs(observed - expected) < poisson_band(expected) + (work + other) * expected
    with_contact = run(scenario, 8).monthly
    rate_with = with_contact["outflow_work_fulltime"].sum() / with_contact["benefit_client_months"].sum()
    assert rate_with > work + rate_band(work, with_contact["benefit_client_months"].sum())


def test_all_clients_in_1a_under_focus_nobody_enters_participation_by_diagnosis():
    """Stock all 1A, newcomers at ~0 distance, exact diagnosis, no drift: participation only by the two-year cap.

    docs/domain.md routes a 1A client without work after 3 months to a development route, and a
    development route ends after 24 months in participation. So the model's answer is: nobody
    is diagnosed into participation, and nobody gets there within the first 24 months; later, only
    clients whose two years of development ran out do.
    """
    scenario = steady_state(
        region={
            "initial_stock": 800,
            "stock_category_shares": {"1a": 1.0, "1b": 0.0, "1c": 0.0, "2a": 0.0, "2b": 0.0, "3a": 0.0, "3b": 0.0},
        },
        inflow={
            "base_notifications_per_year": 400.0,
            "newcomer_distance_mean_months": 0.01,
            "newcomer_distance_sd_log": 0.01,
            "refugee_newcomer_distance_extra_months": 0.0,
        },
        chain={"diagnosis_error_sd_months": 0.0},
        distance={"inactivity_drift_months_per_month": 0.0},
        simulation={"until_year": 2019},
    )
    result = run(scenario, 9, record_events=True)
    monthly, events = result.monthly, result.events
    early = monthly[monthly["year"] < 2016]  # the stock's 1A clients may be up to 3 months into mediation
    assert (early["stock_participation"] == 0).all()
    for cat in ("1c", "2a", "2b", "3a", "3b"):
        assert (early[f"stock_{cat}"] == 0).all(), cat
    granted = events[(events["event"] == "granted") & (events["day"] > 0)]
    assert not (granted["detail"] == Route.PARTICIPATION).any()
    to_participation = events[(events["event"] == "route_change") & (events["detail"] == Route.PARTICIPATION)]
    to_development = events[(events["event"] == "route_change") & (events["detail"] == Route.DEVELOPMENT)]
    assert len(to_participation) > 0, "the horizon must reach the two-year cap for the last part to test anything"
    # for each move to participation, the latest move to development of the same client before it
    paired = pd.merge_asof(
        to_participation[["day", "client"]].sort_values("day"),
        to_development[["day", "client"]].rename(columns={"day": "development_day"}).sort_values("development_day"),
        left_on="day",
        right_on="development_day",
        by="client",
        allow_exact_matches=False,
    )
    assert paired["development_day"].notna().all(), "someone entered participation without a development route"
    months_in_development = (paired["day"] - paired["development_day"]) / DAYS_PER_MONTH
    assert (months_in_development >= scenario.trajectories.development_route_max_months - 1e-9).all()


# -- monotonicity with common random numbers --------------------------------------------------------

REPS = 5
SEEDS = replication_seeds(2024, REPS)
T_ONE_SIDED = stats.t.ppf(1 - 0.005, REPS - 1)  # 0.5% one-sided per comparison


def _paired(scenarios: list, metric) -> np.ndarray:
    """metric per (level, replication); every level uses the same seeds (common random numbers)."""
    return np.array([[metric(run(s, seed).yearly.set_index("year")) for seed in SEEDS] for s in scenarios])


def _assert_never_smaller(values: np.ndarray, labels: list) -> None:
    for i in range(len(values) - 1):
        diff = values[i + 1] - values[i]
        se = diff.std(ddof=1) / math.sqrt(len(diff))
        assert diff.mean() >= -T_ONE_SIDED * se, (
            f"{labels[i + 1]} < {labels[i]}: mean difference {diff.mean():.1f} (se {se:.1f})"
        )
    # the ends differ clearly, so the comparisons have power
    diff = values[-1] - values[0]
    assert diff.mean() > T_ONE_SIDED * diff.std(ddof=1) / math.sqrt(len(diff)), "no detectable effect end to end"


@pytest.fixture(scope="module")
def small_baseline():
    return with_overrides(
        baseline(), {"region": {"initial_stock": 400}, "inflow": {"base_notifications_per_year": 220.0}}
    )


def test_more_work_consultants_never_fewer_exits_to_work(small_baseline):
    levels = [0.0, 3.0, 9.0, 20.0]
    scenarios = [
        with_overrides(
            small_baseline,
            {
                "policies": {
                    name: {"staffing": {"rule": "fixed", "work_consultants": k}} for name in ("broad", "focus")
                },
                "simulation": {"until_year": 2015},
            },
        )
        for k in levels
    ]

    def exits_to_work(y):
        later = y.iloc[1:]
        return float(
            (later["outflow_work_fulltime"] + later["outflow_work_temporary"] + later["outflow_self_employment"]).sum()
        )

    _assert_never_smaller(_paired(scenarios, exits_to_work), levels)


def test_larger_inflow_never_smaller_december_stock(small_baseline):
    levels = [100.0, 220.0, 400.0]
    scenarios = [
        with_overrides(
            small_baseline, {"inflow": {"base_notifications_per_year": k}, "simulation": {"until_year": 2015}}
        )
        for k in levels
    ]
    _assert_never_smaller(_paired(scenarios, lambda y: float(y["caseload_december"].iloc[-1])), levels)


def test_stronger_corona_shock_never_smaller_2020_stock(small_baseline):
    # from the December 2018 stock, to keep it short; the shipped shock sits between none and strong
    sizes = {"none": (1.0, 1.0, 0.0), "shipped": (1.22, 0.70, 6.0), "strong": (1.5, 0.5, 12.0)}
    scenarios = [
        with_overrides(
            small_baseline,
            {
                "simulation": {"start_year": 2018, "until_year": 2020},
                "shocks": {
                    "corona": {
                        "start": "2020-03-01",
                        "end": "2021-07-01",
                        "inflow_multiplier": inflow,
                        "work_multiplier": work,
                        "newcomer_distance_shift_months": shift,
                    }
                },
            },
        )
        for inflow, work, shift in sizes.values()
    ]
    _assert_never_smaller(_paired(scenarios, lambda y: float(y.loc[2020, "caseload_december"])), list(sizes))


def test_state_pension_exits_happen_exactly_at_the_pension_age():
    """No other exit at all: everyone who leaves, leaves on the day they reach the pension age in force."""
    pension_age = 66.0
    scenario = flat_hazards(
        0.0,
        0.0,
        drivers={"state_pension_age_years": [pension_age]},
        region={"initial_stock": 1000, "stock_age_shares": {"under27": 0.0, "27_49": 0.0, "50plus": 1.0}},
        inflow={"base_notifications_per_year": 0.0},
        simulation={"until_year": 2016},
    )
    model = Model(scenario, 12)
    model.run()
    t = model.table
    left = t.view("state") == State.LEFT
    assert left.sum() > 0 and (t.view("exit_reason")[left] == Exit.PENSION).all()
    expected_day = t.view("birth_day")[left] + pension_age * DAYS_PER_YEAR
    assert np.allclose(t.view("exit_day")[left], np.maximum(expected_day, 0.0))
    # and everyone who reached the age before the end has left
    reached = t.view("birth_day") + pension_age * DAYS_PER_YEAR < model.calendar.end_day
    assert (reached == left).all()


# -- causality with common random numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "changed", "first_month"),
    [("baseline", "broad", (2019, 1)), ("focus", "focus-corona", (2020, 3))],
)
def test_a_change_from_a_date_leaves_everything_before_it_unchanged(reference, changed, first_month):
    """Same seed, two shipped scenarios that differ from a date on: identical months before it."""
    a = run(with_overrides(load(reference).scenario, {"simulation": {"until_year": first_month[0]}}), 31).monthly
    b = run(with_overrides(load(changed).scenario, {"simulation": {"until_year": first_month[0]}}), 31).monthly
    before = (a["year"] * 100 + a["month"]) < first_month[0] * 100 + first_month[1]
    pd.testing.assert_frame_equal(a.loc[before], b.loc[before])
    assert not a.loc[~before, "caseload"].equals(b.loc[~before, "caseload"]), "the change had no effect at all"
