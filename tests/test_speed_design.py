"""The shortcuts taken for speed give what the plain versions give.

- Keyed draws depend only on (seed, stream, key, client), so drawing for a subset of clients
  gives those clients' draws from the full set: the month step draws job types, contracts and
  the like only for the clients who need them.
- The desks book a whole batch with a running maximum; the reference is the day-by-day
  first-come-first-served loop the model used before.
- The meeting queue is searched by notification day; the reference walks the queue.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.intake import WORK_TIME_OF_DAY, WorkingDayCapacity
from sim.model import Model
from sim.randomness import Streams, _mix, _mix_word


def reference_booking(ready_days: list[float], per_day: int, weekday_of_day0: int) -> list[float]:
    """Serve clients in order, `per_day` a working day, none before they are ready."""
    current, used, out = -1, 0, []
    for ready in ready_days:
        day = max(math.ceil(ready - WORK_TIME_OF_DAY), current)
        if day == current and used >= per_day:
            day += 1
        while (day + weekday_of_day0) % 7 >= 5:
            day += 1
        if day != current:
            current, used = day, 0
        used += 1
        out.append(day + WORK_TIME_OF_DAY)
    return out


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.lists(st.floats(0, 400, allow_nan=False), max_size=30), min_size=1, max_size=5),
    per_day=st.integers(1, 6),
    weekday=st.integers(0, 6),
)
def test_batch_booking_equals_the_day_by_day_loop(batches, per_day, weekday):
    desk = WorkingDayCapacity(per_day, weekday)
    booked = [d for batch in batches for d in desk.book(np.array(batch)).tolist()]
    assert booked == reference_booking([d for batch in batches for d in batch], per_day, weekday)


def test_a_desk_without_capacity_never_serves():
    assert np.isinf(WorkingDayCapacity(0, 0).book(np.zeros(3))).all()


def test_keyed_draws_of_a_subset_are_the_full_sets_draws():
    streams = Streams(np.random.SeedSequence(11, spawn_key=(3,)))
    ids = np.arange(5000)
    subset = np.sort(np.random.default_rng(0).choice(ids, 700, replace=False))
    full = streams.keyed_uniforms("job_type", 17, ids)
    assert np.array_equal(streams.keyed_uniforms("job_type", 17, subset), full[subset])
    block = streams.keyed_block(("exit", "job_type"), 17, subset)
    assert np.array_equal(block[1], full[subset])
    assert not np.array_equal(block[0], block[1])
    assert not np.array_equal(streams.keyed_uniforms("job_type", 18, ids), full)


def test_the_scalar_hash_is_the_array_hash():
    words = np.random.default_rng(1).integers(0, 2**63, 200, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    assert [_mix_word(int(w)) for w in words] == [int(v) for v in _mix(words.copy())]


def test_keyed_uniforms_are_uniform():
    n = 200_000
    u = Streams(5).keyed_uniforms("exit", 3, np.arange(n))
    assert ((u >= 0) & (u < 1)).all()
    # mean and share below 0.1 within 4 standard errors (fails by chance < 1 in 10,000)
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert abs((u < 0.1).mean() - 0.1) < 4 * math.sqrt(0.09 / n)


def test_meeting_queue_seats_in_order_of_notification(short_baseline):
    model = Model(short_baseline, 8, record_events=True)
    model.run()
    events = model.log.frame()
    seated = events[events["event"] == "information_meeting"]
    # queue order is notification order: client ids are given in order of notification
    assert (np.diff(seated["client"].to_numpy()) > 0).all()
    notified = events[events["event"] == "notified"].set_index("client")["day"]
    assert (np.diff(notified.reindex(seated["client"]).to_numpy()) >= 0).all()


def test_clients_never_ready_are_never_served_and_do_not_block_others():
    desk = WorkingDayCapacity(1, 0)
    days = desk.book(np.array([0.0, np.inf, 0.0]))
    assert days[1] == np.inf
    assert days[[0, 2]].tolist() == [0.5, 1.5]
