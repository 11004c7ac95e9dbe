"""Invariants that hold for every valid scenario: checked over random scenarios (Hypothesis),
very long horizons and tiny regions.

- no negative stock or flow;
- every client is in exactly one known state, and the state agrees with the client's history
  in the event log (on benefit exactly when the spells started outnumber the exits);
- flows add up to the stock change every month, stocks by category and duration add up;
- money equals client-months times the price.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from bands import share_band
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verification_scenarios import CONSTANT_DRIVERS, baseline

from sim.calendar import DAYS_PER_MONTH, Calendar
from sim.clients import Exit, State
from sim.model import Model, run
from sim.money import STAFF_COLUMNS, back_pay_client_months, benefit_price
from sim.parameters import CATEGORIES, LEVERS, ROUTE_NAMES, Scenario
from sim.policies import served_route_mask
from sim.results import build_tables, waits_by_grant_year
from sim.returns import COHORT_COLUMNS, cohort_counts
from sim.scenario import load, with_overrides

pytestmark = pytest.mark.invariants

KNOWN_STATES = {v for k, v in vars(State).items() if k.isupper()}
EXIT_REASONS = [
    "outflow_work_fulltime",
    "outflow_work_temporary",
    "outflow_self_employment",
    "outflow_education",
    "outflow_pension",
    "outflow_other",
]
NON_NEGATIVE = [
    "caseload",
    "notifications",
    "gatekept",
    "inflow",
    "returns",
    "outflow",
    *EXIT_REASONS,
    "placements_parttime",
    "trajectories_started",
    "benefit_client_months",
    "benefit_spending_eur",
    "trajectory_spending_eur",
    *(f"stock_{c}" for c in CATEGORIES),
    "stock_participation",
    "stock_parttime",
    "clients_served",
    "in_chain",
    "reapplications",
    "deterred",
    "work_consultants",
    *STAFF_COLUMNS,
    "placements_category_1",
    "placements_category_2",
    "placements_category_3",
]


def check_invariants(model: Model) -> pd.DataFrame:
    """Assert the invariants on a finished model; return its monthly table."""
    sc = model.scenario
    rows = pd.DataFrame(model.rows)
    assert (rows[NON_NEGATIVE] >= 0).all().all(), rows[NON_NEGATIVE].min()[rows[NON_NEGATIVE].min() < 0]

    # flows add up to the stock change, every month
    previous = rows["caseload"].shift(1).fillna(model.initial_stock)
    assert (rows["caseload"] == previous + rows["inflow"] - rows["outflow"]).all()
    assert (rows[EXIT_REASONS].sum(axis=1) == rows["outflow"]).all()
    assert (rows["returns"] <= rows["inflow"]).all() and (rows["gatekept"] <= rows["notifications"]).all()
    assert (rows[[f"stock_{c}" for c in CATEGORIES]].sum(axis=1) == rows["caseload"]).all()
    durations = ["stock_duration_lt1", "stock_duration_1_2", "stock_duration_2_4", "stock_duration_4plus"]
    assert (rows[durations].sum(axis=1) == rows["caseload"]).all()
    for part in ("stock_participation", "stock_parttime"):
        assert (rows[part] <= rows["caseload"]).all(), part
    # consultants are assigned among those on benefit during the month (leavers included)
    assert (rows["clients_served"] <= previous + rows["inflow"]).all()

    # money: client-months times the year's price; nobody is paid more than a month, nor for more
    # clients than there were, besides what is owed back to notification when a benefit is granted
    price = np.array([benefit_price(sc.money, int(y)) for y in rows["year"]]) / 12.0
    assert np.allclose(rows["benefit_spending_eur"], rows["benefit_client_months"] * price, rtol=1e-12, atol=1e-6)
    starts = [dt.date(int(y), int(m), 1) for y, m in zip(rows["year"], rows["month"], strict=True)]
    month_len = (
        np.array([((s.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - s).days for s in starts])
        / DAYS_PER_MONTH
    )
    t = model.table
    granted = np.flatnonzero(np.isfinite(t.view("grant_day")))
    month_of = np.searchsorted([m[3] for m in model.calendar.month_starts()], t.grant_day[granted], side="right")
    owed = np.array(
        [
            back_pay_client_months(sc.money, t.notification_day[ids], t.birth_day[ids], t.grant_day[ids])
            for ids in (granted[month_of == k] for k in range(len(rows)))
        ]
    )
    assert (rows["benefit_client_months"] - owed <= (previous + rows["inflow"]) * month_len + 1e-9).all()
    assert (owed >= 0).all() and (sc.money.benefit_from_notification or (owed == 0).all())
    # staff: the team's months at its price; placements by group add up to the jobs found
    fte = sc.money.work_consultant_eur_per_fte_year / 12.0
    assert np.allclose(rows["work_consultant_spending_eur"], rows["work_consultants"] * fte, rtol=1e-12)
    jobs = rows[["outflow_work_fulltime", "outflow_work_temporary", "outflow_self_employment", "placements_parttime"]]
    placed = rows[["placements_category_1", "placements_category_2", "placements_category_3"]]
    assert (placed.sum(axis=1) == jobs.sum(axis=1)).all()
    prices = np.array([t.price_eur for t in sc.trajectories.basket])
    started = rows["trajectories_started"]
    assert (rows["trajectory_spending_eur"] >= started * prices.min() - 1e-6).all()
    assert (rows["trajectory_spending_eur"] <= started * prices.max() + 1e-6).all()

    # every client in exactly one known state, consistent with the tables and the event log
    states = t.view("state")
    assert np.isin(states, list(KNOWN_STATES)).all(), set(np.unique(states)) - KNOWN_STATES
    counts = {s: int((states == s).sum()) for s in KNOWN_STATES}
    assert sum(counts.values()) == t.n
    assert counts[State.ON_BENEFIT] == rows["caseload"].iloc[-1]
    assert counts[State.WAITING_MEETING] + counts[State.IN_INTAKE] == rows["in_chain"].iloc[-1]
    on = states == State.ON_BENEFIT
    assert np.isfinite(t.view("spell_start_day")[on]).all()
    assert np.isin(t.view("category")[on], range(len(CATEGORIES))).all()
    assert (t.view("route")[on] > 0).all()
    assert np.isfinite(t.view("contract_end_day")[states == State.TEMPORARY_WORK]).all()
    left = states == State.LEFT
    assert np.isfinite(t.view("exit_day")[left]).all() and (t.view("exit_reason")[left] > 0).all()
    if model.log.enabled:
        events = model.log.frame()
        per_client = events.groupby("client")["event"].value_counts().unstack(fill_value=0)
        per_client = per_client.reindex(range(t.n), fill_value=0)

        def count(event: str) -> np.ndarray:
            return per_client[event].to_numpy() if event in per_client else np.zeros(t.n, dtype=int)

        balance = count("granted") + count("return") - count("exit")
        assert np.isin(balance, (0, 1)).all(), "a spell closed twice or opened twice"
        assert ((balance == 1) == on).all(), "on benefit exactly when a spell is open"
        # the monthly flows are the event log's, month by month (exits, grants and returns happen
        # inside the month; trajectory starts are stamped at the month's end boundary)
        ends = np.array([end for _, _, _, end in model.calendar.month_starts()])
        months = len(rows)

        def per_month(event: str, side: str, weights=None) -> np.ndarray:
            chosen = events[events["event"] == event]
            if event == "granted":
                chosen = chosen[chosen["client"] >= model.initial_stock]
            index = np.searchsorted(ends, chosen["day"].to_numpy(), side=side)
            return np.bincount(index, weights=None if weights is None else weights(chosen), minlength=months)[:months]

        assert (per_month("exit", "right") == rows["outflow"]).all()
        assert (per_month("granted", "right") + per_month("return", "right") == rows["inflow"]).all()
        assert (per_month("return", "right") == rows["returns"]).all()
        assert (per_month("trajectory_start", "left") == rows["trajectories_started"]).all()
        spending = per_month("trajectory_start", "left", lambda e: prices[e["detail"].to_numpy().astype(int)])
        assert np.allclose(spending, rows["trajectory_spending_eur"], rtol=1e-12, atol=1e-6)
    return rows


def run_model(scenario, seed: int, record_events: bool = True) -> Model:
    model = Model(scenario, seed, record_events)
    model.run()
    return model


# -- random valid scenarios -----------------------------------------------------------------------

shares = st.floats(0.0, 1.0)
rates = st.floats(0.0, 0.3)


@st.composite
def scenarios(draw):
    job_split = [draw(st.floats(0.0, 0.33)) for _ in range(3)]
    rule = draw(st.sampled_from(["fixed", "norm", "budget"]))
    guidance = draw(shares)
    policy = {
        "door": {"gatekeeper_share": draw(shares)},
        "served": {
            "max_distance_months": draw(st.floats(0.0, 200.0)),
            "routes": draw(st.lists(st.sampled_from(ROUTE_NAMES), unique=True)),
        },
        "staffing": {
            "rule": rule,
            "caseload_norm": draw(st.floats(1.0, 300.0)),
            "work_consultants": draw(st.sampled_from([0.0, 0.5, 3.0, 9.0, 40.0])),
            "max_work_consultants": draw(st.none() | st.floats(0.0, 20.0)),
            "budget_eur_per_year": draw(st.floats(0.0, 2e6)),
            "review_months": draw(st.integers(1, 12)),
        },
        "contact": {
            "unserved_contacts_per_year": draw(st.floats(0.0, 12.0)),
            "guidance_share": guidance,
            "guidance_contacts_per_year": draw(st.floats(0.5, 24.0)),
            "guidance_months": draw(st.floats(0.5, 48.0)),
        },
        "trajectories": {
            "routes": draw(st.lists(st.sampled_from(["development", "sheltered", "participation"]), unique=True)),
            "yearly_budget_eur": draw(st.none() | st.floats(0.0, 5e5)),
        },
        "aftercare": {"retention_share": draw(shares)},
    }
    overrides = {
        "region": {"initial_stock": draw(st.integers(0, 120)), "refugee_share_of_stock": draw(shares)},
        "inflow": {
            "base_notifications_per_year": draw(st.floats(0.0, 400.0)),
            "seasonality_amplitude": draw(shares),
            "refused_share": draw(shares),
            "newcomer_distance_mean_months": draw(st.floats(0.1, 60.0)),
            "refugee_notifications_per_permit": draw(st.floats(0.0, 0.01)),
            "gatekept_reapply_share": draw(shares),
            "gatekept_reapply_months": draw(st.floats(0.1, 24.0)),
        },
        "chain": {
            "information_meeting_places": draw(st.integers(0, 30)),
            "extra_meetings_max_per_week": draw(st.integers(0, 2)),
            "diagnosis_talks_per_weekday": draw(st.integers(0, 8)),
            "intakes_per_weekday": draw(st.integers(0, 8)),
            "diagnosis_error_sd_months": draw(st.floats(0.0, 24.0)),
            "dream_job_work_share": draw(shares),
        },
        "work": {
            "base_work_per_month": {g: draw(rates) for g in ("close", "near", "far", "very_far")},
            "scarring_per_year": draw(st.floats(0.0, 2.0)),
            "fulltime_share": job_split[0],
            "temporary_share": job_split[1],
            "self_employment_share": job_split[2],
            "temporary_contract_months_mean": draw(st.floats(0.1, 24.0)),
            "parttime_benefit_share": draw(shares),
            "parttime_job_end_per_month": draw(rates),
            "education_per_month_young": draw(rates),
            "other_exit_per_month": draw(rates),
        },
        "distance": {
            "activation_gain_months_per_month": draw(st.floats(0.0, 3.0)),
            "inactivity_drift_months_per_month": draw(st.floats(0.0, 3.0)),
        },
        "contact": {"contact_effect_max": draw(st.floats(0.0, 5.0))},
        "trajectories": {"start_per_month": draw(st.floats(0.0, 1.0))},
        "policies": {"broad": policy, "focus": {**policy, "door": {"gatekeeper_share": draw(shares)}}},
        "money": {
            "benefit_eur_per_full_year": draw(st.floats(0.0, 40_000.0)),
            "benefit_indexation_per_year": draw(st.floats(-0.05, 0.1)),
            "benefit_from_notification": draw(st.booleans()),
            "work_consultant_eur_per_fte_year": draw(st.floats(1.0, 200_000.0)),
        },
    }
    if draw(st.booleans()):
        overrides["shocks"] = {
            "shock": {
                "start": "2014-03-01",
                "end": "2015-07-01",
                "inflow_multiplier": draw(st.floats(0.1, 3.0)),
                "work_multiplier": draw(st.floats(0.1, 3.0)),
                "newcomer_distance_shift_months": draw(st.floats(-24.0, 24.0)),
                "unemployment_pct_add": draw(st.floats(-5.0, 5.0)),
                "fade_months": draw(st.floats(0.0, 16.0)),
                "strength": draw(st.floats(0.0, 3.0)),
            }
        }
    start = draw(st.integers(2013, 2016))
    overrides["simulation"] = {
        "start_year": start,
        "until_year": start + draw(st.integers(1, 3)),
        "burn_in_years": draw(st.integers(0, 2)),
    }
    overrides["chain"].update(
        {
            "information_meetings_per_week": draw(st.integers(0, 2)),
            "extra_meeting_queue_threshold": draw(st.integers(0, 30)),
            "contact_days": draw(st.floats(0.0, 30.0)),
            "information_meeting_weekday": draw(st.integers(0, 6)),
        }
    )
    # one to three policy periods starting on any day of the run
    days = sorted(draw(st.lists(st.integers(0, 365 * 3), min_size=1, max_size=3, unique=True)))
    names = [draw(st.sampled_from(["broad", "focus", "focus-participation"])) for _ in days]
    origin = dt.date(start + 1, 1, 1)
    overrides["policy_schedule"] = [
        {"start": (origin + dt.timedelta(days=d)).isoformat(), "policy": n} for d, n in zip(days, names, strict=True)
    ]
    return with_overrides(baseline(), overrides), draw(st.integers(0, 10_000))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants_hold_for_random_valid_scenarios(case):
    scenario, seed = case
    check_invariants(run_model(scenario, seed))


# -- very long horizons and tiny regions ----------------------------------------------------------


def test_long_horizon_to_2060_keeps_the_invariants():
    """The shipped region to 2060: drivers beyond the file keep their last values."""
    scenario = with_overrides(baseline(), {"simulation": {"until_year": 2060}})
    model = run_model(scenario, 21, record_events=False)
    rows = check_invariants(model)
    yearly, _ = build_tables(model.rows, waits_by_grant_year(model.table, model.calendar), 2013, model.initial_stock, 0)
    assert yearly["year"].iloc[-1] == 2060 and len(rows) == 12 * (2060 - 2013)
    assert yearly["caseload_december"].iloc[-1] > 0


def test_tiny_region_of_ten_clients_to_2060():
    """Ten clients and a trickle of notifications: months with nobody on benefit are fine."""
    scenario = with_overrides(
        baseline(),
        {
            "simulation": {"until_year": 2060},
            "region": {"initial_stock": 10},
            "inflow": {
                "base_notifications_per_year": 4.0,
                "refugee_notifications_per_permit": 0.0,
                "ww_notifications_per_year_per_month_shorter": 0.0,
                "wajong_wsw_notifications_per_year": 0.0,
            },
        },
    )
    for seed in (1, 2):
        rows = check_invariants(run_model(scenario, seed))
        assert rows["caseload"].max() < 60


def test_empty_region_without_inflow():
    """No stock and no notifications: every month is empty, nothing breaks."""
    scenario = with_overrides(
        baseline(),
        {
            "simulation": {"until_year": 2015},
            "region": {"initial_stock": 0},
            "inflow": {
                "base_notifications_per_year": 0.0,
                "refugee_notifications_per_permit": 0.0,
                "ww_notifications_per_year_per_month_shorter": 0.0,
                "wajong_wsw_notifications_per_year": 0.0,
            },
        },
    )
    rows = check_invariants(run_model(scenario, 3))
    assert (rows["caseload"] == 0).all() and (rows["benefit_spending_eur"] == 0).all()


# -- one lever at a time, with common random numbers ----------------------------------------------
#
# The shipped region to 2021 (broad 2014-2018, focus from 2019) against the same run with one
# lever changed, on the same seed: what the lever does not reach stays identical bit for bit.

LEVER_SEED = 11
DOOR_COLUMNS = ["notifications", "gatekept", "reapplications"]


@pytest.fixture(scope="module")
def region() -> Scenario:
    return with_overrides(baseline(), {"simulation": {"until_year": 2021}})


@pytest.fixture(scope="module")
def reference(region) -> Model:
    return run_model(region, LEVER_SEED, record_events=False)


def _rows(model: Model) -> pd.DataFrame:
    return pd.DataFrame(model.rows)


def _from_2019(region: Scenario, **variant) -> Scenario:
    """Broad until 2018, then focus with the levers `variant` changed (a policy based on focus)."""
    return with_overrides(
        region,
        {
            "policies": {"variant": {"based_on": "focus", **variant}},
            "policy_schedule": [
                {"start": "2014-01-01", "policy": "broad"},
                {"start": "2019-01-01", "policy": "variant"},
            ],
        },
    )


def _every_policy(region: Scenario, lever: str, values: dict) -> Scenario:
    """The lever changed in every policy, for the whole run."""
    return with_overrides(region, {"policies": {name: {lever: values} for name in region.policies}})


def _before(rows: pd.DataFrame, year: int) -> pd.Series:
    return rows["year"] < year


def test_changing_only_the_door_leaves_the_years_before_identical_and_changes_who_is_stopped(region, reference):
    changed = run_model(_from_2019(region, door={"gatekeeper_share": 0.2}), LEVER_SEED, record_events=False)
    a, b = _rows(reference), _rows(changed)
    before = _before(a, 2019)
    pd.testing.assert_frame_equal(a[before], b[before])
    # the same notifications every month: the door acts on them, not on how many there are
    assert a["notifications"].equals(b["notifications"])
    after = ~before
    assert (a.loc[after, "gatekept"] == 0).all()  # focus has no gatekeeper
    notified, stopped = int(b.loc[after, "notifications"].sum()), int(b.loc[after, "gatekept"].sum())
    assert abs(stopped / notified - 0.2) < share_band(0.2, notified)
    assert b.loc[after, "inflow"].sum() < a.loc[after, "inflow"].sum()


@pytest.fixture(scope="module")
def contracts_only(region) -> Scenario:
    """Returns only at the end of a temporary contract, and every temporary worker would come back."""
    shares = {"share_after_temporary": 1.0, "share_after_work": 0.0, "share_after_education": 0.0}
    return with_overrides(region, {"returns": {**shares, "share_after_other": 0.0}})


def test_changing_only_aftercare_leaves_everything_before_the_first_contract_end_identical(contracts_only):
    reference = run_model(contracts_only, LEVER_SEED, record_events=False)
    always = run_model(_every_policy(contracts_only, "aftercare", {"retention_share": 1.0}), LEVER_SEED, False)
    a, b = _rows(reference), _rows(always)
    # with everyone kept in work, each temporary worker's one contract end is in the table
    ends = always.table.view("contract_end_day")
    first_end = ends[np.isfinite(ends)].min()
    month_ends = np.array([end for _, _, _, end in reference.calendar.month_starts()])
    first_month = int(np.searchsorted(month_ends, first_end, side="right"))
    assert first_month >= 1
    pd.testing.assert_frame_equal(a.iloc[:first_month], b.iloc[:first_month])
    # the door and the notifications never see the lever; returns do
    pd.testing.assert_frame_equal(a[DOOR_COLUMNS], b[DOOR_COLUMNS])
    assert (b["returns"] == 0).all() and a["returns"].sum() > 0


@pytest.mark.parametrize("retention", [0.3, 0.9])
def test_aftercare_keeps_its_share_of_the_temporary_workers_whose_contract_ended(contracts_only, retention):
    model = run_model(_every_policy(contracts_only, "aftercare", {"retention_share": retention}), LEVER_SEED, False)
    t = model.table
    # kept in work: left with a temporary job whose contract end is still on record (a return clears it)
    kept = int(
        (
            (t.view("state") == State.LEFT)
            & (t.view("exit_reason") == Exit.WORK_TEMPORARY)
            & np.isfinite(t.view("contract_end_day"))
        ).sum()
    )
    ended = kept + int(_rows(model)["returns"].sum())
    assert ended > 300
    assert abs(kept / ended - retention) < share_band(retention, ended)


def test_a_trajectory_ceiling_holds_each_year_and_changes_nothing_before_it_binds(region, reference):
    a = _rows(reference)
    ceiling = 600_000.0  # below every year's spending without one (about 0.96 to 2.5 million)
    capped = run_model(_every_policy(region, "trajectories", {"yearly_budget_eur": ceiling}), LEVER_SEED, False)
    b = _rows(capped)
    spent = b.groupby("year")["trajectory_spending_eur"].sum()
    assert (spent <= ceiling).all() and (spent > 0.8 * ceiling).all()  # every year, and it starts again
    assert (a.groupby("year")["trajectory_spending_eur"].sum() > ceiling).all()
    # identical until the month in which the run without a ceiling passes it
    binds = int(np.argmax(a.groupby("year")["trajectory_spending_eur"].cumsum().to_numpy() > ceiling))
    assert binds >= 1
    pd.testing.assert_frame_equal(a.iloc[:binds], b.iloc[:binds])
    assert not a.iloc[binds:].equals(b.iloc[binds:])
    pd.testing.assert_frame_equal(a[DOOR_COLUMNS], b[DOOR_COLUMNS])
    # a ceiling never reached is no ceiling at all, bit for bit
    loose = run_model(_every_policy(region, "trajectories", {"yearly_budget_eur": 1e12}), LEVER_SEED, False)
    pd.testing.assert_frame_equal(a, _rows(loose))
    none = run_model(_every_policy(region, "trajectories", {"yearly_budget_eur": None}), LEVER_SEED, False)
    pd.testing.assert_frame_equal(a, _rows(none))


def test_changing_only_whom_the_consultants_serve_changes_the_clients_served(region, reference):
    served = {"max_distance_months": 12.0, "routes": ["direct", "mediation", "development"]}
    changed = run_model(_from_2019(region, served=served), LEVER_SEED, record_events=False)
    a, b = _rows(reference), _rows(changed)
    before = _before(a, 2019)
    pd.testing.assert_frame_equal(a[before], b[before])
    pd.testing.assert_frame_equal(a[DOOR_COLUMNS], b[DOOR_COLUMNS])
    # from the same clients in January 2019, fewer are for the consultants; the team follows its norm
    january = a.index[~before][0]
    assert b.loc[january, "clients_served"] < a.loc[january, "clients_served"]
    assert (b.loc[~before, "clients_served"] < a.loc[~before, "clients_served"]).mean() > 0.9
    assert b.loc[january, "work_consultants"] == b.loc[january, "clients_served"] / 80.0


def test_a_policy_equal_to_another_under_a_different_name_gives_identical_results(region, reference):
    a = _rows(reference)
    by_name = dict.fromkeys(LEVERS, "focus")
    for variant in ({}, by_name):
        b = _rows(run_model(_from_2019(region, **variant), LEVER_SEED, record_events=False))
        assert (b.loc[~_before(b, 2019), "policy"] == "variant").all()
        pd.testing.assert_frame_equal(a.drop(columns="policy"), b.drop(columns="policy"))


# -- the staffing rules -----------------------------------------------------------------------------


def _review_months(rows: pd.DataFrame, review_months: int) -> np.ndarray:
    """Per month: the index of the month the team was last set in (each period's first month and
    every review_months after it)."""
    first = rows.groupby((rows["policy"] != rows["policy"].shift()).cumsum()).cumcount().to_numpy()
    due = first % review_months == 0
    return np.maximum.accumulate(np.where(due, np.arange(len(rows)), 0))


def test_a_norm_following_team_keeps_its_caseload_within_the_band_its_reviews_allow(region):
    model = run_model(region, LEVER_SEED, record_events=True)
    rows = _rows(model)
    norms = {name: p.staffing.caseload_norm for name, p in region.policies.items()}
    assert {region.policies[n].staffing.rule for n in rows["policy"].unique()} == {"norm"}
    review = region.policies["broad"].staffing.review_months
    assert region.policies["focus"].staffing.review_months == review
    norm = rows["policy"].map(norms).to_numpy()
    caseload = rows["work_consultant_caseload"].to_numpy()
    served = rows["clients_served"].to_numpy()
    last = _review_months(rows, review)
    reviewed = last == np.arange(len(rows))
    # in a review month the team is the clients to serve over the norm: each holds the norm
    assert np.allclose(caseload[reviewed], norm[reviewed], rtol=1e-12, atol=0)
    # in between the team stays, so a consultant holds the norm times served over those at the review
    # and never more than the norm (the team's capacity)
    assert np.allclose(caseload, norm * served / served[last], rtol=1e-12, atol=0)
    assert (caseload <= norm * (1 + 1e-12)).all()
    # the band below the norm: between reviews the clients to serve can only fall by those who
    # leave or move to a route the consultants do not serve (both after the month's assignment)
    events = model.log.frame()
    month_ends = np.array([end for _, _, _, end in model.calendar.month_starts()])
    unserved_routes = {name: ~served_route_mask(p) for name, p in region.policies.items()}
    moves = events[events["event"] == "route_change"]
    month_of_move = np.searchsorted(month_ends, moves["day"].to_numpy(), side="left")
    policy_of_move = rows["policy"].to_numpy()[month_of_move]
    away = np.array(
        [unserved_routes[p][int(r)] for p, r in zip(policy_of_move, moves["detail"].to_numpy(), strict=True)],
        dtype=bool,
    )
    losses = rows["outflow"].to_numpy() + np.bincount(month_of_move[away], minlength=len(rows))
    since_review = np.array([losses[last[k] : k].sum() for k in range(len(rows))])
    x = since_review / served[last]
    assert (caseload >= norm * (1 - x) * (1 - 1e-12)).all()
    # the band is what two months of exits and moves away can take from a team's clients: all
    # exits count, served or not, so it is wide under focus (about a quarter here), yet far from all
    assert 0 < x.max() < 0.5
    assert (caseload[~reviewed] < norm[~reviewed]).any()


def test_a_fixed_team_stays_and_a_budget_pays_its_team(region):
    fixed = _rows(run_model(_from_2019(region, staffing={"rule": "fixed", "work_consultants": 9.0}), LEVER_SEED, False))
    after = ~_before(fixed, 2019)
    assert (fixed.loc[after, "work_consultants"] == 9.0).all()
    assert (fixed.loc[after, "clients_served"] <= 9.0 * 80.0).all()
    assert np.allclose(fixed.loc[after, "work_consultant_caseload"], fixed.loc[after, "clients_served"] / 9.0)
    staffing = {"rule": "budget", "budget_eur_per_year": 900_000.0}
    for price in (80_000.0, 100_000.0):
        scenario = with_overrides(
            _from_2019(region, staffing=staffing), {"money": {"work_consultant_eur_per_fte_year": price}}
        )
        budget = _rows(run_model(scenario, LEVER_SEED, False))
        after = ~_before(budget, 2019)
        assert (budget.loc[after, "work_consultants"] == 900_000.0 / price).all()
        assert (budget.loc[after, "clients_served"] <= np.floor(900_000.0 / price * 80.0)).all()


def test_the_yearly_return_counts_are_what_the_event_log_shows():
    scenario = with_overrides(
        load("baseline").scenario,
        {"simulation": {"until_year": 2017}, "region": {"initial_stock": 400}, "drivers": CONSTANT_DRIVERS},
    )
    result = run(scenario, 11, record_events=True)
    events = result.events
    exits = events[events["event"] == "exit"]
    backs = events[events["event"] == "return"]
    assert len(backs), "no one came back in the run"
    left_day, reasons = [], []
    for client, day, reason in zip(backs["client"], backs["day"], backs["detail"], strict=True):
        last = exits[(exits["client"] == client) & (exits["day"] <= day)].iloc[-1]
        assert last["detail"] == reason  # a return says why its client had left
        left_day.append(last["day"])
        reasons.append(reason)
    left_day, reasons = np.array(left_day), np.array(reasons)
    away = (backs["day"].to_numpy() - left_day) / DAYS_PER_MONTH
    left_year = Calendar.for_years(2014, 2017).years_of(left_day)
    yearly = result.yearly.set_index("year")
    for year in range(2014, 2018):
        mine = left_year == year
        expected = cohort_counts(reasons[mine], away[mine])
        assert yearly.loc[year, list(COHORT_COLUMNS)].astype(int).tolist() == expected.tolist()
    # every kind of exit but pension can bring someone back
    assert {Exit.WORK_FULLTIME, Exit.WORK_TEMPORARY, Exit.OTHER} <= set(reasons.tolist())
    assert Exit.PENSION not in set(reasons.tolist())
