"""The per-client event log (sim/events.py): what is recorded, the table it gives, and the count
kept when the log itself is off."""

from __future__ import annotations

import numpy as np
import pytest

from sim.events import EVENT_NAMES, Event, EventLog

pytestmark = pytest.mark.unit


def test_event_names_are_the_codes_in_order():
    codes = {name: code for name, code in vars(Event).items() if name.isupper()}
    assert sorted(codes.values()) == list(range(len(codes)))
    assert [EVENT_NAMES[code] for code in codes.values()] == [name.lower() for name in codes]
    assert EVENT_NAMES[Event.GRANTED] == "granted" and EVENT_NAMES[Event.EXIT] == "exit"


def test_the_log_records_batches_and_frames_them_sorted_by_day():
    log = EventLog(enabled=True)
    log.record(5.0, np.array([3, 4]), Event.NOTIFIED)
    log.record(np.array([2.0, 5.0, 9.0]), np.array([7, 8, 9]), Event.EXIT, np.array([1, 6, 2]))
    log.record(1.0, np.array([], dtype=np.int64), Event.GRANTED)  # empty: nothing, not even a count
    log.record(5.0, np.array([1]), Event.GRANTED, 3)
    assert log.count == 6
    frame = log.frame()
    assert list(frame.columns) == ["day", "client", "event", "detail"]
    assert frame["day"].tolist() == [2.0, 5.0, 5.0, 5.0, 5.0, 9.0]
    # stable within a day: in the order recorded
    assert frame["client"].tolist() == [7, 3, 4, 8, 1, 9]
    assert frame["event"].tolist() == ["exit", "notified", "notified", "exit", "granted", "exit"]
    assert frame["detail"].tolist() == [1, 0, 0, 6, 3, 2]


def test_a_recorded_batch_is_a_copy():
    log = EventLog(enabled=True)
    ids, days = np.array([1, 2]), np.array([3.0, 4.0])
    log.record(days, ids, Event.EXIT)
    ids[:] = 0
    days[:] = 0.0
    assert log.frame()["client"].tolist() == [1, 2] and log.frame()["day"].tolist() == [3.0, 4.0]


def test_a_disabled_log_keeps_only_the_count():
    log = EventLog(enabled=False)
    log.record(1.0, np.arange(10), Event.NOTIFIED)
    log.record(2.0, np.arange(3), Event.EXIT, 1)
    assert log.count == 13
    assert log.frame().empty and list(log.frame().columns) == ["day", "client", "event", "detail"]


def test_an_empty_log_is_an_empty_table():
    frame = EventLog(enabled=True).frame()
    assert frame.empty and list(frame.columns) == ["day", "client", "event", "detail"]
