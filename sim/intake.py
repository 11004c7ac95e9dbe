"""The intake chain: gatekeeper, weekly information meeting, diagnosis, intake, dream-job period.

The gatekeeper (poortwachter, the policy's lever `door`) stops a share of the notifications:
the least likely to be entitled first, so those it stops are partly people who would be refused
at intake, partly people who find work or other means, and partly people deterred only for now
who notify again some months later (inflow.gatekept_reapply_share and _months), then pass.

Waiting times come out of the capacities: the information meeting seats a fixed number each
week, the individual diagnosis talks and the income consultants' intakes take a fixed number
each working day; whoever does not fit waits, in order of arrival. The meeting is a SimPy
process; the talks and intakes after it are booked into working-day capacity in the same
order, which gives the same days as a day-by-day process at a fraction of the events.

For speed at national size nothing here loops over clients in Python: the meeting queue is an
array in order of notification (so "who made contact by now" is one binary search), the desks
book a batch and the intakes settle in compiled code (numba), and the sessions of a month are
settled in one batch at the month end (nothing reads a seated client's state before then).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import NamedTuple

import numpy as np
import simpy

from sim.calendar import DAYS_PER_MONTH
from sim.clients import ClientTable, State, diagnosed_distance
from sim.compiled import compiled
from sim.events import Event, EventLog
from sim.parameters import Chain, Inflow

# fixed times of day keep same-day order deterministic: month bookkeeping at 00:00,
# the information meeting at 09:36, talks and intakes at noon
MEETING_TIME_OF_DAY = 0.4
WORK_TIME_OF_DAY = 0.5
_NO_SLOT = np.iinfo(np.int64).min // 4


@compiled
def working_day_index(day: int, weekday_of_day0: int) -> int:
    """Index of the first working day (Monday-Friday) on or after a whole day."""
    weeks, weekday = divmod(day + weekday_of_day0, 7)
    return weeks * 5 + min(weekday, 5)


@compiled
def day_of_working_index(index: int, weekday_of_day0: int) -> int:
    """Whole day of a working-day index (inverse of working_day_index on working days)."""
    weeks, weekday = divmod(index, 5)
    return weeks * 7 + (weekday - weekday_of_day0)


class WorkingDayCapacity:
    """A first-come-first-served desk that serves `per_day` clients each working day."""

    def __init__(self, per_day: int, weekday_of_day0: int) -> None:
        self.per_day = per_day
        self.weekday_of_day0 = weekday_of_day0
        self._next_slot = _NO_SLOT  # slot = working-day index x per_day + place that day

    def book(self, ready_days: np.ndarray) -> np.ndarray:
        """Days (at noon) on which clients ready on `ready_days` (in queue order) are served;
        infinite for a client never ready (a closed desk before this one) or a closed desk."""
        ready_days = np.asarray(ready_days, dtype=np.float64)
        if self.per_day <= 0:
            return np.full(len(ready_days), np.inf)
        days, self._next_slot = _book(ready_days, self._next_slot, self.per_day, self.weekday_of_day0)
        return days


@compiled
def _book(ready_days: np.ndarray, next_slot: int, per_day: int, weekday_of_day0: int) -> tuple[np.ndarray, int]:
    """Serve clients in queue order: each takes the first free slot on or after its first
    possible working day (slot = working-day index x per_day + place that day)."""
    days = np.full(len(ready_days), np.inf)
    for k in range(len(ready_days)):
        if not np.isfinite(ready_days[k]):
            continue
        first_day = np.int64(np.ceil(ready_days[k] - WORK_TIME_OF_DAY))
        slot = max(working_day_index(first_day, weekday_of_day0) * per_day, next_slot)
        next_slot = slot + 1
        days[k] = day_of_working_index(slot // per_day, weekday_of_day0) + WORK_TIME_OF_DAY
    return days, next_slot


class DoorOutcome(NamedTuple):
    """What the door did in a month: notifications stopped, and earlier ones who applied again."""

    gatekept: int
    reapplied: int


class IntakeChain:
    """Queues and capacities between notification and the granted benefit."""

    def __init__(
        self,
        env: simpy.Environment,
        table: ClientTable,
        chain: Chain,
        inflow: Inflow,
        log: EventLog,
        gatekeeper_share_on: Callable[[np.ndarray], np.ndarray],
        first_meeting_day: float,
        weekday_of_day0: int,
    ) -> None:
        self.env = env
        self.table = table
        self.chain = chain
        self.inflow = inflow
        self.log = log
        self.gatekeeper_share_on = gatekeeper_share_on
        self._rules = intake_rules(chain, inflow)
        # waiting for the information meeting, in order of notification (non-decreasing days)
        self._queue = np.empty(0, dtype=np.int64)
        self._queue_days = np.empty(0)
        self._head = 0
        self._seated: list[tuple[float, np.ndarray]] = []  # sessions not yet settled
        self._awaiting_ids = np.empty(0, dtype=np.int64)  # granted, benefit not yet started
        self._awaiting_days = np.empty(0)
        self._reapplying_ids = np.empty(0, dtype=np.int64)  # stopped at the door, applying again
        self._reapplying_days = np.empty(0)
        self.diagnosis_desk = WorkingDayCapacity(chain.diagnosis_talks_per_weekday, weekday_of_day0)
        self.intake_desk = WorkingDayCapacity(chain.intakes_per_weekday, weekday_of_day0)
        self.seats_taken: list[int] = []  # per session held, for capacity checks
        self.extra_meetings = 0
        env.process(self.information_meeting(first_meeting_day))

    def notify(self, ids: np.ndarray, month_end: float) -> DoorOutcome:
        """Apply the gatekeeper to a month's new notifications (in order of notification); the
        rest, and those stopped earlier who apply again before `month_end`, join the meeting
        queue in order of their day."""
        t = self.table
        days = t.notification_day[ids]
        self.log.record(days, ids, Event.NOTIFIED)
        # the gatekeeper turns away those least likely to be entitled first: the same personal draw
        # decides refusal at intake, so dropping the gatekeeper brings the not-entitled to intake
        # (where they are refused) rather than adding a gatekeeper-sized wave of new benefits
        stopped = t.u_entitlement[ids] < self.gatekeeper_share_on(days)
        gatekept = ids[stopped]
        t.state[gatekept] = State.GATEKEPT
        self.log.record(days[stopped], gatekept, Event.GATEKEPT)
        back, back_days = self._apply_again(gatekept, days[stopped], month_end)
        joining, joining_days = ids[~stopped], days[~stopped]
        if len(back):
            joining = np.concatenate([joining, back])
            joining_days = np.concatenate([joining_days, back_days])
            order = np.argsort(joining_days, kind="stable")
            joining, joining_days = joining[order], joining_days[order]
        self._queue = np.concatenate([self._queue[self._head :], joining])
        self._queue_days = np.concatenate([self._queue_days[self._head :], joining_days])
        self._head = 0
        return DoorOutcome(len(gatekept), len(back))

    def _apply_again(self, gatekept: np.ndarray, days: np.ndarray, month_end: float) -> tuple[np.ndarray, np.ndarray]:
        """Of the entitled among those just stopped (`gatekept`, on `days`), those deterred only for
        now wait a while to apply again (the others found work or other means: inflow.gatekept_*);
        returns the ids and days of everyone stopped so far whose wait ends before `month_end`."""
        t, inflow = self.table, self.inflow
        if len(gatekept):
            again = (t.u_entitlement[gatekept] >= inflow.refused_share) & (
                t.u_reapply[gatekept] < inflow.gatekept_reapply_share
            )
            waiting = gatekept[again]
            delay = -np.log1p(-t.u_reapply_delay[waiting]) * inflow.gatekept_reapply_months * DAYS_PER_MONTH
            self._reapplying_ids = np.concatenate([self._reapplying_ids, waiting])
            self._reapplying_days = np.concatenate([self._reapplying_days, days[again] + delay])
        if not len(self._reapplying_ids):
            return self._reapplying_ids, self._reapplying_days
        due = self._reapplying_days < month_end
        back, back_days = self._reapplying_ids[due], self._reapplying_days[due]
        self._reapplying_ids, self._reapplying_days = self._reapplying_ids[~due], self._reapplying_days[~due]
        t.notification_day[back] = back_days
        t.state[back] = State.WAITING_MEETING
        self.log.record(back_days, back, Event.REAPPLIED)
        return back, back_days

    def deterred(self) -> int:
        """People stopped at the door who will apply again (after `notify`)."""
        return len(self._reapplying_ids)

    def information_meeting(self, first_day: float) -> Generator:
        """Every week on the meeting weekday: seat up to the places, in order of contact."""
        yield self.env.timeout(first_day + MEETING_TIME_OF_DAY)
        c = self.chain
        while True:
            now = self.env.now
            # those seated are the first who are ready, so the rest stay ready: one search a week
            ready = self._ready(now)
            for _ in range(c.information_meetings_per_week):
                ready -= self._hold_meeting(now, ready)
            for _ in range(c.extra_meetings_max_per_week):
                if ready <= c.extra_meeting_queue_threshold:
                    break
                ready -= self._hold_meeting(now, ready)
                self.extra_meetings += 1
            yield self.env.timeout(7.0)

    def _ready(self, now: float) -> int:
        """Clients in the queue who made contact by `now` (the queue is in order of notification)."""
        waiting_days = self._queue_days[self._head :]
        return int(waiting_days.searchsorted(now - self.chain.contact_days, side="right"))

    def _hold_meeting(self, now: float, ready: int) -> int:
        """One session: seat up to the places, in order of contact, of the `ready` at the head
        of the queue. Returns the number seated."""
        seated = min(self.chain.information_meeting_places, ready)
        if seated:
            self._seated.append((now, self._queue[self._head : self._head + seated]))
            self._head += seated
        self.seats_taken.append(seated)
        return seated

    def settle(self) -> None:
        """Book talks and intakes for everyone seated since the last call, in seating order."""
        if not self._seated:
            return
        days = np.repeat([now for now, _ in self._seated], [len(ids) for _, ids in self._seated])
        ids = np.concatenate([ids for _, ids in self._seated])
        self._seated = []
        self._after_meeting(days, ids)

    def _after_meeting(self, meeting_days: np.ndarray, ids: np.ndarray) -> None:
        """Book diagnosis talks and intakes for those seated, and settle the dream-job period."""
        t = self.table
        self.log.record(meeting_days, ids, Event.INFORMATION_MEETING)
        diagnosis = self.diagnosis_desk.book(meeting_days)
        intake = self.intake_desk.book(diagnosis)
        self.log.record(diagnosis, ids, Event.DIAGNOSED)
        self.log.record(intake, ids, Event.INTAKE)
        out = after_intake(ids, intake, t.columns(IntakeColumns), self._rules)
        self.log.record(intake[out.refused], ids[out.refused], Event.REFUSED)
        self.log.record(out.work_day, ids[out.worked], Event.WORK_BEFORE_BENEFIT)
        # benefit starts on the day the window ends; the month step puts the client on benefit
        self._awaiting_ids = np.concatenate([self._awaiting_ids, ids[out.granted]])
        self._awaiting_days = np.concatenate([self._awaiting_days, out.grant_day])

    def benefits_starting_before(self, day: float) -> np.ndarray:
        """Ids (ascending) whose benefit starts before `day`; they leave the chain."""
        due = self._awaiting_days < day
        ids = self._awaiting_ids[due]
        self._awaiting_ids = self._awaiting_ids[~due]
        self._awaiting_days = self._awaiting_days[~due]
        return np.sort(ids)

    def in_intake(self) -> int:
        """Clients granted whose benefit has not started (after `settle`)."""
        return len(self._awaiting_ids)

    def waiting(self) -> int:
        """Clients waiting for the information meeting."""
        return len(self._queue) - self._head


class IntakeRules(NamedTuple):
    """The diagnosis, intake and dream-job period's parameters as compiled code reads them."""

    diagnosis_error_sd_months: float
    refused_share: float  # of those at intake: not entitled
    dream_job_days_min: float  # the dream-job period (droombaanperiode) lasts between these
    dream_job_days_max: float
    dream_job_work_share: float  # of those granted: find work within the period


def intake_rules(chain: Chain, inflow: Inflow) -> IntakeRules:
    """The scenario's IntakeRules."""
    return IntakeRules(
        diagnosis_error_sd_months=float(chain.diagnosis_error_sd_months),
        refused_share=float(inflow.refused_share),
        dream_job_days_min=float(chain.dream_job_days_min),
        dream_job_days_max=float(chain.dream_job_days_max),
        dream_job_work_share=float(chain.dream_job_work_share),
    )


class IntakeColumns(NamedTuple):
    """The client table's columns after_intake reads or writes (sim/clients.ClientTable)."""

    distance_true: np.ndarray
    z_diag: np.ndarray
    u_entitlement: np.ndarray
    u_dream: np.ndarray
    u_dream_days: np.ndarray
    distance_diag: np.ndarray
    state: np.ndarray
    exit_day: np.ndarray
    grant_day: np.ndarray


class IntakeOutcome(NamedTuple):
    """Positions (into the ids at intake) and days of what the intake decided."""

    refused: np.ndarray
    worked: np.ndarray  # found work in the dream-job period
    work_day: np.ndarray
    granted: np.ndarray
    grant_day: np.ndarray  # the day the benefit starts: the end of the dream-job period


_REFUSED, _IN_INTAKE, _WORK_BEFORE_BENEFIT = State.REFUSED, State.IN_INTAKE, State.WORK_BEFORE_BENEFIT


@compiled
def after_intake(ids: np.ndarray, intake: np.ndarray, c: IntakeColumns, r: IntakeRules) -> IntakeOutcome:
    """The diagnosed distance, then at intake (days `intake`): refused (not entitled), work found
    in the dream-job period, or a benefit granted from the day the period ends (docs/domain.md
    'The chain a client goes through'). Writes the columns `c` of clients `ids`."""
    n = len(ids)
    refused, worked, granted = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    work_day, grant_days = np.empty(n), np.empty(n)
    n_refused = n_worked = n_granted = 0
    for k in range(n):
        i = ids[k]
        c.distance_diag[i] = diagnosed_distance(c.distance_true[i], r.diagnosis_error_sd_months, c.z_diag[i])
        u_days = c.u_dream_days[i]
        window = r.dream_job_days_min + u_days * (r.dream_job_days_max - r.dream_job_days_min)
        if c.u_entitlement[i] < r.refused_share:
            c.state[i] = _REFUSED
            refused[n_refused] = k
            n_refused += 1
        elif c.u_dream[i] < r.dream_job_work_share:
            c.state[i] = _WORK_BEFORE_BENEFIT
            c.exit_day[i] = intake[k] + window * u_days
            worked[n_worked] = k
            work_day[n_worked] = c.exit_day[i]
            n_worked += 1
        else:
            c.state[i] = _IN_INTAKE
            c.grant_day[i] = np.ceil(intake[k] + window)
            granted[n_granted] = k
            grant_days[n_granted] = c.grant_day[i]
            n_granted += 1
    return IntakeOutcome(
        refused=refused[:n_refused],
        worked=worked[:n_worked],
        work_day=work_day[:n_worked],
        granted=granted[:n_granted],
        grant_day=grant_days[:n_granted],
    )
