"""The intake chain: gatekeeper, weekly information meeting, diagnosis, intake, dream-job period.

Waiting times come out of the capacities: the information meeting seats a fixed number each
week, the individual diagnosis talks and the income consultants' intakes take a fixed number
each working day; whoever does not fit waits, in order of arrival. The meeting is a SimPy
process; the talks and intakes after it are booked into working-day capacity in the same
order, which gives the same days as a day-by-day process at a fraction of the events.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.clients import ClientTable, State
from sim.events import Event, EventLog
from sim.parameters import Chain, Inflow, Policy

# fixed times of day keep same-day order deterministic: month bookkeeping at 00:00,
# the information meeting at 09:36, talks and intakes at noon
MEETING_TIME_OF_DAY = 0.4
WORK_TIME_OF_DAY = 0.5


class WorkingDayCapacity:
    """A first-come-first-served desk that serves `per_day` clients each working day."""

    def __init__(self, per_day: int, weekday_of_day0: int) -> None:
        self.per_day = per_day
        self.weekday_of_day0 = weekday_of_day0
        self._day = -1  # working day currently being filled
        self._used = 0

    def book(self, ready_days: np.ndarray) -> np.ndarray:
        """Days (at noon) on which clients ready on `ready_days` (in queue order) are served."""
        out = np.empty(len(ready_days))
        if self.per_day <= 0:
            out.fill(np.inf)
            return out
        for i, ready in enumerate(ready_days.tolist()):
            day = max(math.ceil(ready - WORK_TIME_OF_DAY), self._day)
            if day == self._day and self._used >= self.per_day:
                day += 1
            while (day + self.weekday_of_day0) % 7 >= 5:
                day += 1
            if day != self._day:
                self._day, self._used = day, 0
            self._used += 1
            out[i] = day + WORK_TIME_OF_DAY
        return out


class IntakeChain:
    """Queues and capacities between notification and the granted benefit."""

    def __init__(
        self,
        env: simpy.Environment,
        table: ClientTable,
        chain: Chain,
        inflow: Inflow,
        log: EventLog,
        policy_at: Callable[[float], Policy],
        first_meeting_day: float,
        weekday_of_day0: int,
    ) -> None:
        self.env = env
        self.table = table
        self.chain = chain
        self.inflow = inflow
        self.log = log
        self.policy_at = policy_at
        self.meeting_queue: deque[int] = deque()
        self.diagnosis_desk = WorkingDayCapacity(chain.diagnosis_talks_per_weekday, weekday_of_day0)
        self.intake_desk = WorkingDayCapacity(chain.intakes_per_weekday, weekday_of_day0)
        self.seats_taken: list[int] = []  # per session held, for capacity checks
        self.extra_meetings = 0
        env.process(self.information_meeting(first_meeting_day))

    def notify(self, ids: np.ndarray) -> int:
        """Apply the gatekeeper to new notifications; the rest join the meeting queue. Returns gatekept."""
        if len(ids) == 0:
            return 0
        t = self.table
        days = t.notification_day[ids]
        self.log.record(days, ids, Event.NOTIFIED)
        day_keys, where = np.unique(days.astype(np.int64), return_inverse=True)
        share = np.array([self.policy_at(d).gatekeeper_share for d in day_keys.tolist()])[where]
        stopped = t.u_gate[ids] < share
        t.state[ids[stopped]] = State.GATEKEPT
        self.log.record(days[stopped], ids[stopped], Event.GATEKEPT)
        self.meeting_queue.extend(ids[~stopped].tolist())
        return int(stopped.sum())

    def information_meeting(self, first_day: float) -> Generator:
        """Every week on the meeting weekday: seat up to the places, in order of contact."""
        yield self.env.timeout(first_day + MEETING_TIME_OF_DAY)
        c = self.chain
        while True:
            now = self.env.now
            for _ in range(c.information_meetings_per_week):
                self._hold_meeting(now)
            for _ in range(c.extra_meetings_max_per_week):
                if self._ready(now) <= c.extra_meeting_queue_threshold:
                    break
                self._hold_meeting(now)
                self.extra_meetings += 1
            yield self.env.timeout(7.0)

    def _ready(self, now: float) -> int:
        """Clients in the queue who made contact by `now` (the queue is in order of notification)."""
        ready_before = now - self.chain.contact_days
        days = self.table.notification_day
        count = 0
        for cid in self.meeting_queue:
            if days[cid] > ready_before:
                break
            count += 1
            if count > self.chain.extra_meeting_queue_threshold:
                break
        return count

    def _hold_meeting(self, now: float) -> None:
        """One session: seat up to the places, in order of contact."""
        places = self.chain.information_meeting_places
        ready_before = now - self.chain.contact_days
        days = self.table.notification_day
        queue = self.meeting_queue
        seated: list[int] = []
        while queue and len(seated) < places and days[queue[0]] <= ready_before:
            seated.append(queue.popleft())
        if seated:
            self._after_meeting(now, np.array(seated, dtype=np.int64))
        self.seats_taken.append(len(seated))

    def _after_meeting(self, now: float, ids: np.ndarray) -> None:
        """Book diagnosis talks and intakes for those seated, and settle the dream-job period."""
        t, c = self.table, self.chain
        self.log.record(now, ids, Event.INFORMATION_MEETING)
        diagnosis = self.diagnosis_desk.book(np.full(len(ids), now))
        intake = self.intake_desk.book(diagnosis)
        self.log.record(diagnosis, ids, Event.DIAGNOSED)
        self.log.record(intake, ids, Event.INTAKE)
        t.distance_diag[ids] = np.maximum(0.0, t.distance_true[ids] + c.diagnosis_error_sd_months * t.z_diag[ids])
        t.state[ids] = State.IN_INTAKE
        refused = t.u_refuse[ids] < self.inflow.refused_share
        t.state[ids[refused]] = State.REFUSED
        self.log.record(intake[refused], ids[refused], Event.REFUSED)
        ok = ~refused
        window = c.dream_job_days_min + t.u_dream_days[ids] * (c.dream_job_days_max - c.dream_job_days_min)
        found_work = ok & (t.u_dream[ids] < c.dream_job_work_share)
        work_day = intake + window * t.u_dream_days[ids]
        t.state[ids[found_work]] = State.WORK_BEFORE_BENEFIT
        t.exit_day[ids[found_work]] = work_day[found_work]
        self.log.record(work_day[found_work], ids[found_work], Event.WORK_BEFORE_BENEFIT)
        granted = ok & ~found_work
        # benefit starts on the day the window ends; the month step puts the client on benefit
        t.grant_day[ids[granted]] = np.ceil(intake[granted] + window[granted])

    def waiting(self) -> int:
        """Clients waiting for the information meeting."""
        return len(self.meeting_queue)
