"""A month on benefit (sim/month_step.py), on clients set up by hand: who leaves, when and why,
the days paid, the reviews that move a client, and the month-end stock counts.

The scenario is `flat_hazards` (every client the same constant hazards, full-time jobs only), so
each rule's outcome can be written down; the month inputs are those of a month without contact,
trajectories or the participation talk unless a test sets them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from bands import share_band
from verification_scenarios import flat_hazards

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.clients import Category, ClientTable, Exit, Route, State
from sim.month_step import STOCK_COLUMNS, STREAMS, MonthColumns, MonthInputs, month_on_benefit, run_rules
from sim.randomness import Streams
from sim.scenario import with_overrides

pytestmark = pytest.mark.unit

START, END = 365.0, 396.0  # January of the second year


def _clients(n: int, *, route=Route.DEVELOPMENT, category=Category.C1B, distance=10.0, age=40.0, years_on=0.5):
    """`n` clients on benefit since `years_on` years, on `route` since a month before START."""
    t = ClientTable(capacity=n)
    ids = t.add(n)
    t.key[ids] = ids
    t.state[ids] = State.ON_BENEFIT
    t.route[ids] = route
    t.category[ids] = category
    t.distance_true[ids] = distance
    t.distance_diag[ids] = distance
    t.birth_day[ids] = START - age * DAYS_PER_YEAR
    t.spell_start_day[ids] = START - years_on * DAYS_PER_YEAR
    t.grant_day[ids] = t.spell_start_day[ids]
    t.route_start_day[ids] = START - DAYS_PER_MONTH
    return t, ids


def _month(pension_age: float = 67.0, p_review: float = 0.0, seed: int = 1) -> MonthInputs:
    return MonthInputs(
        start=START,
        end=END,
        pension_age=pension_age,
        market_multiplier=1.0,
        guidance_on=False,
        guidance_share=0.0,
        trajectory_routes=np.zeros(Route.PARTICIPATION + 1, dtype=bool),
        p_review=p_review,
        trajectory_budget_left=np.inf,
        contacts_per_year=np.zeros(4),
        contact_multiplier=np.ones(4),
        intensity=np.zeros(4),
        bases=Streams(seed).bases(STREAMS, 12),
    )


def _step(t: ClientTable, ids: np.ndarray, scenario, month: MonthInputs | None = None):
    served = np.zeros(len(ids), dtype=bool)
    return month_on_benefit(ids, served, t.columns(MonthColumns), month or _month(), run_rules(scenario))


def test_without_hazards_everyone_stays_and_is_paid_for_their_days_on_benefit():
    scenario = flat_hazards(0.0, 0.0)
    t, ids = _clients(6)
    t.spell_start_day[ids[:2]] = START + 10.0  # granted during the month: paid from that day
    t.parttime[ids[2]] = True
    out = _step(t, ids, scenario)
    assert len(out.left) == 0 and (t.state[ids] == State.ON_BENEFIT).all()
    assert out.days_paid.tolist() == [END - START - 10.0] * 2 + [END - START] * 4
    share = scenario.work.parttime_benefit_share
    assert out.benefit_share.tolist() == [1.0, 1.0, share, 1.0, 1.0, 1.0]


def test_the_share_who_leave_is_one_minus_exp_of_the_hazard():
    work, other, n = 0.05, 0.02, 40_000
    t, ids = _clients(n)
    out = _step(t, ids, flat_hazards(work, other))
    exposure = (END - START) / DAYS_PER_MONTH
    p = 1 - math.exp(-(work + other) * exposure)
    assert abs(len(out.left) / n - p) < share_band(p, n)
    reasons = out.left_reason
    assert set(reasons.tolist()) == {Exit.WORK_FULLTIME, Exit.OTHER}
    share_work = work / (work + other)
    assert abs((reasons == Exit.WORK_FULLTIME).mean() - share_work) < share_band(share_work, len(reasons))
    # leavers leave during the month, are paid up to that day, and are out of the stock
    leavers = ids[out.left]
    assert ((out.left_day >= START) & (out.left_day < END)).all()
    assert np.allclose(out.days_paid[out.left], out.left_day - START)
    assert (t.state[leavers] == State.LEFT).all() and (t.exit_day[leavers] == out.left_day).all()
    assert (t.exit_reason[leavers] == reasons).all()
    assert out.stocks[0] == n - len(out.left)


def test_a_temporary_job_ends_in_temporary_work_with_a_contract_end():
    scenario = with_overrides(flat_hazards(5.0, 0.0), {"work": {"fulltime_share": 0.0, "temporary_share": 1.0}})
    t, ids = _clients(200)
    out = _step(t, ids, scenario)
    assert len(out.left) > 190 and set(out.left_reason.tolist()) == {Exit.WORK_TEMPORARY}
    left = ids[out.left]
    assert (t.state[left] == State.TEMPORARY_WORK).all()
    assert (t.contract_end_day[left] > t.exit_day[left]).all() and np.isfinite(t.contract_end_day[left]).all()


def test_a_part_time_job_keeps_the_client_on_a_partial_benefit():
    scenario = with_overrides(
        flat_hazards(5.0, 0.0), {"work": {"fulltime_share": 0.0, "parttime_job_end_per_month": 0.0}}
    )
    t, ids = _clients(200)
    out = _step(t, ids, scenario)
    assert len(out.left) == 0 and len(out.new_parttime) > 190
    assert t.parttime[ids[out.new_parttime]].all() and (t.state[ids] == State.ON_BENEFIT).all()
    assert out.stocks[STOCK_COLUMNS.index("stock_parttime")] == len(out.new_parttime)


def test_the_pension_age_ends_the_benefit_on_the_birthday():
    scenario = flat_hazards(0.0, 0.0)
    t, ids = _clients(3, age=40.0)
    pension_age = 66.0
    t.birth_day[ids[0]] = START + 10.0 - pension_age * DAYS_PER_YEAR  # reaches it on day 10 of the month
    t.birth_day[ids[1]] = START - 1.0 - pension_age * DAYS_PER_YEAR  # reached it before the month
    out = _step(t, ids, scenario, _month(pension_age=pension_age))
    assert out.left.tolist() == [0, 1] and set(out.left_reason.tolist()) == {Exit.PENSION}
    assert out.left_day.tolist() == pytest.approx([START + 10.0, START])
    assert out.days_paid.tolist() == pytest.approx([10.0, 0.0, END - START])


def test_a_route_whose_time_is_up_is_reviewed_and_may_move_the_client():
    scenario = with_overrides(flat_hazards(0.0, 0.0), {"chain": {"diagnosis_error_sd_months": 0.0}})
    t, ids = _clients(3, route=Route.MEDIATION, category=Category.C1A, distance=1.5)
    months = scenario.trajectories.mediation_review_months
    t.route_start_day[ids[:2]] = END - months * DAYS_PER_MONTH  # its months of mediation are up
    t.distance_true[ids[1]] = 30.0  # the review finds 2A: participation
    out = _step(t, ids, scenario)
    assert out.moved.tolist() == [0, 1] and out.moved_route.tolist() == [Route.DEVELOPMENT, Route.PARTICIPATION]
    assert t.route[ids].tolist() == [Route.DEVELOPMENT, Route.PARTICIPATION, Route.MEDIATION]
    assert t.category[ids].tolist() == [Category.C1B, Category.C2A, Category.C1A]
    assert t.route_start_day[ids[:2]].tolist() == [END, END]
    assert (t.distance_diag[ids[:2]] == t.distance_true[ids[:2]]).all()  # an exact review of the month-end distance


def test_participation_is_reviewed_only_by_its_talk():
    scenario = with_overrides(flat_hazards(0.0, 0.0), {"chain": {"diagnosis_error_sd_months": 0.0}})
    t, ids = _clients(4, route=Route.PARTICIPATION, category=Category.C2A, distance=10.0)
    t.route_start_day[ids] = START - 10 * DAYS_PER_YEAR  # years on the route: time alone never reviews it
    t.route_start_distance[ids] = 30.0  # the distance fell from 30 to 10 months on the route
    out = _step(t, ids, scenario, _month(p_review=0.0))
    assert len(out.moved) == 0
    out = _step(t, ids, scenario, _month(p_review=1.0))  # everyone has the talk: the short distance sends all back
    assert out.moved.tolist() == [0, 1, 2, 3] and set(t.route[ids].tolist()) == {Route.DEVELOPMENT}


def test_the_24_month_limit_holds_for_a_client_whose_true_distance_did_not_change():
    # a development route ran out at 20 months' distance; in participation the distance stays there
    # (no drift, no gain), and every review's diagnosis, noisy as it is, is mostly under 24 months
    scenario = with_overrides(
        flat_hazards(0.0, 0.0),
        {"distance": {"inactivity_drift_months_per_month": 0.0, "activation_gain_months_per_month": 0.0}},
    )
    t, ids = _clients(400, route=Route.PARTICIPATION, category=Category.C2A, distance=20.0)
    t.route_start_distance[ids] = 20.0
    for month in range(24):
        out = _step(t, ids, scenario, _month(p_review=1.0, seed=month + 1))
        assert len(out.moved) == 0
    assert set(t.route[ids].tolist()) == {Route.PARTICIPATION}
    # a real fall of more than the threshold (6 months by default) lets the review send them back
    t.distance_true[ids] = 12.0
    out = _step(t, ids, scenario, _month(p_review=1.0, seed=99))
    assert len(out.moved) > 300


def test_the_month_end_stock_counts_by_category_duration_route_and_part_time():
    scenario = flat_hazards(0.0, 0.0)
    t, ids = _clients(8, years_on=0.5)
    t.category[ids] = [Category.C1A, Category.C1B, Category.C1B, Category.C2A, Category.C2B, Category.C3A, 6, 6]
    t.spell_start_day[ids] = START - np.array([0.2, 0.9, 1.5, 3.0, 3.99, 4.5, 10.0, 20.0]) * DAYS_PER_YEAR
    t.route[ids[5:]] = Route.PARTICIPATION
    t.parttime[ids[:3]] = True
    scenario = with_overrides(scenario, {"work": {"parttime_job_end_per_month": 0.0}})
    stocks = dict(zip(STOCK_COLUMNS, _step(t, ids, scenario).stocks.tolist(), strict=True))
    assert len(stocks) == len(STOCK_COLUMNS) and stocks["caseload"] == 8
    assert [stocks[f"stock_{c}"] for c in ("1a", "1b", "1c", "2a", "2b", "3a", "3b")] == [1, 2, 0, 1, 1, 1, 2]
    # years on at the month end: 0.28, 0.98, 1.58, 3.08, 4.07, 4.58, 10.08, 20.08
    assert [stocks[f"stock_duration_{d}"] for d in ("lt1", "1_2", "2_4", "4plus")] == [2, 1, 1, 4]
    assert stocks["stock_participation"] == 3 and stocks["stock_parttime"] == 3


def test_the_trajectory_ceiling_lets_only_the_starts_that_fit():
    # every development client would start (chance ~1): the ceiling decides how many may
    scenario = flat_hazards(0.0, 0.0, trajectories={"start_per_month": 5.0})
    prices = run_rules(scenario).routes.trajectory_price
    routes = np.zeros(Route.PARTICIPATION + 1, dtype=bool)
    routes[Route.DEVELOPMENT] = True
    free = _month()._replace(trajectory_routes=routes)
    t, ids = _clients(40)
    everyone = _step(t, ids, scenario, free)
    assert len(everyone.started) > 35
    wanted = everyone.started_type
    for k in (0, 1, 5, len(wanted)):
        t, ids = _clients(40)
        room = float(prices[wanted[:k]].sum())
        out = _step(t, ids, scenario, free._replace(trajectory_budget_left=room))
        # those who would start, in order, while their price fits what is left; the rest wait
        fits, left = [], room
        for p, kind in zip(everyone.started, wanted, strict=True):
            if prices[kind] <= left:
                fits.append(p)
                left -= prices[kind]
        assert out.started.tolist() == fits
        assert len(fits) >= k and float(prices[out.started_type].sum()) <= room
    t, ids = _clients(40)
    none = _step(t, ids, scenario, free._replace(trajectory_budget_left=float(prices.min()) - 1.0))
    assert len(none.started) == 0


def test_with_one_price_room_for_k_trajectories_starts_exactly_the_first_k():
    scenario = flat_hazards(0.0, 0.0, trajectories={"start_per_month": 5.0})
    basket = [b.model_dump() for b in scenario.trajectories.basket]
    scenario = with_overrides(scenario, {"trajectories": {"basket": [{**b, "price_eur": 2500.0} for b in basket]}})
    routes = np.zeros(Route.PARTICIPATION + 1, dtype=bool)
    routes[Route.DEVELOPMENT] = True
    free = _month()._replace(trajectory_routes=routes)
    t, ids = _clients(40)
    everyone = _step(t, ids, scenario, free).started
    assert len(everyone) > 35
    for k in (0, 1, 7, len(everyone)):
        for room in (2500.0 * k, 2500.0 * k + 2499.0):  # room for k, not for k + 1
            t, ids = _clients(40)
            out = _step(t, ids, scenario, free._replace(trajectory_budget_left=room))
            assert out.started.tolist() == everyone[:k].tolist()
            # those who would have started and did not wait: no trajectory, nothing counted
            waiting = ids[everyone[k:]]
            assert (t.trajectories_started[waiting] == 0).all() and (t.trajectory_end_day[waiting] < START).all()
