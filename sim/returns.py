"""Coming back to assistance after leaving (terugval): the revolving door of temporary work, and
returns after every other kind of exit.

- A temporary worker comes back when the contract ends, unless aftercare keeps them in work
  (lever aftercare; the contract's length is drawn at the exit, sim/work.contract_months).
- Of those who leave for a full-time job, self-employment, education or another reason, a share
  comes back after an exponential wait (scenario block `returns`): drawn once, at the exit, from
  the client's keyed number (so a scenario that changes nothing else keeps the same returners).
  Pensioners never come back.

Returning clients skip the intake chain: they are known to the municipality and their new
application is granted (assumption). They come back on the route they left, except that
direct mediation, which lasts under a month, becomes mediation (docs/model.md 'Returns').

Who came back is also counted by the year they left and how long they were away
(`cohort_counts`): the return figures of docs/domain.md are shares of a year's leavers back
within 6, 12, 18 or 24 months, so the calibration meets them as they are defined.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.clients import Exit, Route, State
from sim.compiled import compiled
from sim.parameters import Returns
from sim.randomness import keyed_uniform

_TEMPORARY_WORK, _ON_BENEFIT, _LEFT = State.TEMPORARY_WORK, State.ON_BENEFIT, State.LEFT
_DIRECT, _MEDIATION, _NO_EXIT, _TEMPORARY = Route.DIRECT, Route.MEDIATION, Exit.NONE, Exit.WORK_TEMPORARY


def return_share_by_exit(returns: Returns) -> np.ndarray:
    """Share of leavers who come back, by exit code (sim/clients.Exit); temporary workers at the
    contract's end (before aftercare), pensioners never."""
    share = np.zeros(Exit.OTHER + 1)
    share[Exit.WORK_TEMPORARY] = returns.share_after_temporary
    share[Exit.WORK_FULLTIME] = share[Exit.SELF_EMPLOYMENT] = returns.share_after_work
    share[Exit.EDUCATION] = returns.share_after_education
    share[Exit.OTHER] = returns.share_after_other
    return share


class ReturnRules(NamedTuple):
    """The scenario's `returns` block as compiled code reads it, made once a run."""

    share_by_exit: np.ndarray  # return_share_by_exit
    months_mean: float


def return_rules(returns: Returns) -> ReturnRules:
    """The scenario's ReturnRules."""
    return ReturnRules(share_by_exit=return_share_by_exit(returns), months_mean=float(returns.months_mean))


@compiled
def return_day(rules: ReturnRules, reason: int, exit_day: float, contract_end_day: float, u: float) -> float:
    """The day a leaver for `reason` comes back (inf: never), from one uniform `u`: back if
    u < the share; a temporary worker at the contract's end (if aftercare does not keep them
    in work then), anyone else after an exponential wait drawn from u / share (uniform given that)."""
    share = rules.share_by_exit[reason]
    if not u < share:
        return np.inf
    if reason == _TEMPORARY:
        return contract_end_day
    return exit_day - rules.months_mean * np.log1p(-u / share) * DAYS_PER_MONTH


class ReturnColumns(NamedTuple):
    """The client table's columns returns_before reads or writes (sim/clients.ClientTable)."""

    key: np.ndarray
    state: np.ndarray
    contract_end_day: np.ndarray
    return_day: np.ndarray
    spell_start_day: np.ndarray
    route_start_day: np.ndarray
    route_start_distance: np.ndarray
    distance_true: np.ndarray
    birth_day: np.ndarray
    route: np.ndarray
    exit_day: np.ndarray
    exit_reason: np.ndarray
    returns: np.ndarray


class Back(NamedTuple):
    """Clients back on assistance this month, in id order."""

    ids: np.ndarray
    days: np.ndarray  # the day each is back: the contract's end or the return day, or the month's start
    reasons: np.ndarray  # why each had left (sim/clients.Exit)
    months_away: np.ndarray  # from the exit to the day back


@compiled
def returns_before(
    c: ReturnColumns,
    n: int,
    start: float,
    end: float,
    aftercare_base: np.uint64,
    aftercare_retention_share: float,
    pension_age: float,
) -> Back:
    """Clients 0..n-1 of the table columns `c` who come back before `end`: temporary workers whose
    contract ended (aftercare keeps one in work with its retention share, the lever
    aftercare.retention_share) and leavers whose return day came. No one comes back at or past
    `pension_age` (the state pension, AOW, is theirs then)."""
    back = np.empty(n, np.int64)
    back_day = np.empty(n)
    reasons = np.empty(n, np.int8)
    away = np.empty(n)
    n_back = 0
    for i in range(n):
        state = c.state[i]
        if state == _TEMPORARY_WORK:
            if not c.contract_end_day[i] < end:
                continue
            # another job or WW (return day inf), or kept in work by aftercare: gone for good
            if c.return_day[i] == np.inf or keyed_uniform(aftercare_base, c.key[i]) < aftercare_retention_share:
                c.state[i] = _LEFT  # (the contract's end stays on record)
                c.return_day[i] = np.inf
                continue
            day = max(c.contract_end_day[i], start)
        elif state == _LEFT and c.return_day[i] < end:
            day = max(c.return_day[i], start)
        else:
            continue
        if (day - c.birth_day[i]) / DAYS_PER_YEAR >= pension_age:
            c.state[i] = _LEFT
            c.return_day[i] = np.inf
            continue
        c.state[i] = _ON_BENEFIT
        c.spell_start_day[i] = day
        c.route_start_day[i] = day
        c.route_start_distance[i] = c.distance_true[i]
        if c.route[i] == _DIRECT:
            c.route[i] = _MEDIATION
        c.contract_end_day[i] = np.inf
        c.return_day[i] = np.inf
        reasons[n_back] = c.exit_reason[i]
        away[n_back] = (day - c.exit_day[i]) / DAYS_PER_MONTH
        c.exit_reason[i] = _NO_EXIT
        c.returns[i] += 1
        back[n_back] = i
        back_day[n_back] = day
        n_back += 1
    return Back(ids=back[:n_back], days=back_day[:n_back], reasons=reasons[:n_back], months_away=away[:n_back])


COHORT_COLUMNS = (
    "leavers_back_6m",
    "leavers_back_12m",
    "leavers_back_24m",
    "leavers_work_education_back_6m",
    "leavers_salaried_back_18m",
)
"""Leavers of a year back on assistance within a window, counted in the year they left (yearly.csv;
the last years' windows are still open when a run ends)."""
_WORK_OR_EDUCATION = np.zeros(Exit.OTHER + 1, bool)  # by exit code
_WORK_OR_EDUCATION[[Exit.WORK_FULLTIME, Exit.WORK_TEMPORARY, Exit.SELF_EMPLOYMENT, Exit.EDUCATION]] = True
_SALARIED = np.zeros(Exit.OTHER + 1, bool)  # a job with an employer, not self-employment
_SALARIED[[Exit.WORK_FULLTIME, Exit.WORK_TEMPORARY]] = True


def _within(reasons: np.ndarray, months_away: np.ndarray) -> np.ndarray:
    """Whether each client coming back counts in each of COHORT_COLUMNS (a row each)."""
    return np.column_stack(
        [
            months_away <= 6,
            months_away <= 12,
            months_away <= 24,
            _WORK_OR_EDUCATION[reasons] & (months_away <= 6),
            _SALARIED[reasons] & (months_away <= 18),
        ]
    )


def cohort_counts(reasons: np.ndarray, months_away: np.ndarray) -> np.ndarray:
    """Of clients coming back (why they had left, months away), how many count in each of
    COHORT_COLUMNS."""
    return _within(reasons, months_away).sum(axis=0, dtype=np.int64)


def cohort_counts_by_year(
    years_left: np.ndarray, reasons: np.ndarray, months_away: np.ndarray
) -> dict[int, np.ndarray]:
    """cohort_counts for each year the clients coming back had left in, in one pass (the
    monthly step calls this every month)."""
    years, which = np.unique(years_left, return_inverse=True)
    counts = np.zeros((len(years), len(COHORT_COLUMNS)), np.int64)
    np.add.at(counts, which, _within(reasons, months_away))
    return {int(year): counts[k] for k, year in enumerate(years)}
