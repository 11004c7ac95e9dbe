"""The per-client event log: small records appended in batches, tables derived from them."""

from __future__ import annotations

import numpy as np
import pandas as pd


class Event:
    NOTIFIED = 0
    GATEKEPT = 1
    INFORMATION_MEETING = 2
    DIAGNOSED = 3
    INTAKE = 4
    REFUSED = 5
    WORK_BEFORE_BENEFIT = 6
    GRANTED = 7
    ROUTE_CHANGE = 8
    TRAJECTORY_START = 9
    PARTTIME_START = 10
    PARTTIME_END = 11
    EXIT = 12
    RETURN = 13
    REAPPLIED = 14  # stopped at the door earlier, notified again


EVENT_NAMES = [
    name.lower() for name, _ in sorted(((n, v) for n, v in vars(Event).items() if n.isupper()), key=lambda kv: kv[1])
]


class EventLog:
    """Append-only log of (day, client, event, detail); `enabled=False` keeps only the count."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.count = 0
        self._chunks: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []

    def record(self, day: float | np.ndarray, ids: np.ndarray, event: int, detail: int | np.ndarray = 0) -> None:
        n = len(ids)
        if n == 0:
            return
        self.count += n
        if self.enabled:
            days = np.broadcast_to(np.asarray(day, dtype=np.float64), (n,)).copy()
            details = np.broadcast_to(np.asarray(detail, dtype=np.int16), (n,)).copy()
            self._chunks.append((days, np.asarray(ids, dtype=np.int64).copy(), int(event), details))

    def frame(self) -> pd.DataFrame:
        """All events as a table sorted by day (stable within a day)."""
        if not self._chunks:
            return pd.DataFrame({"day": [], "client": [], "event": [], "detail": []})
        day = np.concatenate([c[0] for c in self._chunks])
        client = np.concatenate([c[1] for c in self._chunks])
        event = np.concatenate([np.full(len(c[1]), c[2], dtype=np.int8) for c in self._chunks])
        detail = np.concatenate([c[3] for c in self._chunks])
        order = np.argsort(day, kind="stable")
        names = np.array(EVENT_NAMES)
        return pd.DataFrame(
            {"day": day[order], "client": client[order], "event": names[event[order]], "detail": detail[order]}
        )
