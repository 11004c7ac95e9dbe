"""Coming back after leaving (sim/returns.py): the revolving door of temporary work with aftercare,
returns after every other exit, and the counts by the year the leavers left."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bands import mean_band, share_band

from sim.calendar import DAYS_PER_MONTH
from sim.clients import ClientTable, Exit, Route, State
from sim.parameters import Returns
from sim.randomness import Streams
from sim.returns import COHORT_COLUMNS, ReturnColumns, cohort_counts, return_day, return_rules, returns_before

pytestmark = pytest.mark.unit

N = 40_000


def _uniforms(n: int = N, stream: str = "return") -> np.ndarray:
    return Streams(np.random.SeedSequence(3, spawn_key=(2,))).keyed_uniforms(stream, 1, np.arange(n))


def _rules(**shares: float):
    return return_rules(Returns(**{"months_mean": 9.0, **shares}))


def test_a_share_of_leavers_comes_back_after_an_exponential_wait():
    rules = _rules(share_after_other=0.4)
    days = np.array([return_day(rules, Exit.OTHER, 100.0, np.inf, u) for u in _uniforms()])
    back = np.isfinite(days)
    assert abs(back.mean() - 0.4) < share_band(0.4, N)
    waits = (days[back] - 100.0) / DAYS_PER_MONTH
    assert abs(waits.mean() - 9.0) < mean_band(9.0, int(back.sum()))  # exponential: sd = mean
    assert abs((waits > 9.0).mean() - math.exp(-1)) < share_band(math.exp(-1), int(back.sum()))


def test_pensioners_never_come_back_and_temporary_workers_come_back_when_the_contract_ends():
    rules = _rules(share_after_temporary=0.5)
    u = _uniforms(1000)
    assert all(math.isinf(return_day(rules, Exit.PENSION, 10.0, np.inf, x)) for x in u)
    temporary = np.array([return_day(rules, Exit.WORK_TEMPORARY, 10.0, 200.0, x) for x in u])
    assert set(temporary[np.isfinite(temporary)].tolist()) == {200.0}
    assert abs(np.isfinite(temporary).mean() - 0.5) < share_band(0.5, 1000)


def test_each_exit_has_its_share():
    rules = _rules(share_after_work=0.1, share_after_education=0.2, share_after_other=0.6, share_after_temporary=0.7)
    assert rules.share_by_exit.tolist() == [0.0, 0.1, 0.7, 0.1, 0.2, 0.0, 0.6]


def _table(n: int, state: int) -> ClientTable:
    t = ClientTable(capacity=n)
    ids = t.add(n)
    t.key[ids] = ids
    t.state[ids] = state
    t.route[ids] = np.where(ids % 2 == 0, Route.DIRECT, Route.DEVELOPMENT)
    t.birth_day[ids] = -40 * 365.25  # 40 years old
    return t


def test_aftercare_keeps_its_share_in_work_and_the_rest_come_back_through_the_revolving_door():
    n, start, end = N, 100.0, 131.0
    t = _table(n + 10, State.TEMPORARY_WORK)
    t.exit_reason[:] = Exit.WORK_TEMPORARY
    t.exit_day[:] = start - 200
    t.contract_end_day[:n] = np.random.default_rng(2).uniform(start - 40, end, n)  # some ended before the month
    t.contract_end_day[n:] = end  # ends on the next month's first day: not yet
    t.return_day[:] = t.contract_end_day  # all would come back
    contract_end = t.contract_end_day.copy()
    base = Streams(np.random.SeedSequence(8, spawn_key=(0,))).bases(("aftercare",), 4)[0]
    back = returns_before(t.columns(ReturnColumns), t.n, start, end, base, 0.3, 67.0)

    kept = int((t.state[:n] == State.LEFT).sum())
    assert abs(kept / n - 0.3) < share_band(0.3, n)
    assert (t.state[n:] == State.TEMPORARY_WORK).all() and (t.returns[n:] == 0).all()
    assert back.ids.tolist() == np.flatnonzero(t.state == State.ON_BENEFIT).tolist() and len(back.ids) == n - kept
    # back on the day the contract ended, or the month's first day if it ended before
    assert (back.days == np.maximum(contract_end[back.ids], start)).all()
    returned = back.ids
    assert (t.spell_start_day[returned] == back.days).all() and (t.route_start_day[returned] == back.days).all()
    assert (t.returns[returned] == 1).all() and (t.exit_reason[returned] == Exit.NONE).all()
    assert (back.reasons == Exit.WORK_TEMPORARY).all()
    assert np.isinf(t.contract_end_day[returned]).all() and np.isinf(t.return_day[returned]).all()
    # direct mediation did not hold them: back to mediation; the others keep their route
    assert set(t.route[returned[returned % 2 == 0]].tolist()) == {Route.MEDIATION}
    assert set(t.route[returned[returned % 2 == 1]].tolist()) == {Route.DEVELOPMENT}


def test_a_temporary_worker_who_would_not_come_back_leaves_for_good_when_the_contract_ends():
    t = _table(100, State.TEMPORARY_WORK)
    t.contract_end_day[:] = 110.0
    t.return_day[:] = np.inf
    base = Streams(1).bases(("aftercare",), 0)[0]
    back = returns_before(t.columns(ReturnColumns), t.n, 100.0, 131.0, base, 0.0, 67.0)
    assert len(back.ids) == 0 and (t.state[:100] == State.LEFT).all()


def test_other_leavers_come_back_on_their_day_and_say_how_long_they_were_away():
    t = _table(4, State.LEFT)
    t.exit_reason[:4] = [Exit.OTHER, Exit.WORK_FULLTIME, Exit.EDUCATION, Exit.PENSION]
    t.exit_day[:4] = 10.0
    t.return_day[:4] = [120.0, 95.0, 140.0, np.inf]  # the third comes back next month, the last never
    base = Streams(1).bases(("aftercare",), 0)[0]
    back = returns_before(
        t.columns(ReturnColumns), t.n, 100.0, 131.0, base, 1.0, 67.0
    )  # aftercare is for contracts only
    assert back.ids.tolist() == [0, 1]
    assert back.days.tolist() == [120.0, 100.0]
    assert back.reasons.tolist() == [Exit.OTHER, Exit.WORK_FULLTIME]
    assert back.months_away == pytest.approx([110.0 / DAYS_PER_MONTH, 90.0 / DAYS_PER_MONTH])
    assert t.state[:4].tolist() == [State.ON_BENEFIT, State.ON_BENEFIT, State.LEFT, State.LEFT]


def test_cohort_counts_by_window_and_kind_of_exit():
    reasons = np.array([Exit.OTHER, Exit.WORK_FULLTIME, Exit.WORK_TEMPORARY, Exit.EDUCATION, Exit.SELF_EMPLOYMENT])
    away = np.array([3.0, 7.0, 17.0, 5.0, 30.0])
    counts = dict(zip(COHORT_COLUMNS, cohort_counts(reasons, away).tolist(), strict=True))
    assert counts == {
        "leavers_back_6m": 2,
        "leavers_back_12m": 3,
        "leavers_back_24m": 4,
        "leavers_work_education_back_6m": 1,
        "leavers_salaried_back_18m": 2,
    }


def test_no_one_comes_back_at_the_state_pension_age():
    t = _table(2, State.LEFT)
    t.exit_reason[:2] = Exit.OTHER
    t.exit_day[:2] = 10.0
    t.return_day[:2] = 110.0
    t.birth_day[:2] = [110.0 - 67.5 * 365.25, 110.0 - 60 * 365.25]  # 67.5 and 60 on the day back
    base = Streams(1).bases(("aftercare",), 0)[0]
    back = returns_before(t.columns(ReturnColumns), t.n, 100.0, 131.0, base, 0.0, 67.0)
    assert back.ids.tolist() == [1]
    assert t.state[0] == State.LEFT and np.isinf(t.return_day[0])
