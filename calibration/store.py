"""The evaluation log: every finished model evaluation, appended to a JSON-lines file and flushed.

An evaluation is a pure function of (parameter values, seed, replications, scenario, targets);
the file name carries a fingerprint of everything but the parameter values, so a log is only
ever reused by a run that would have computed the same numbers. A run that is killed loses at
most the evaluation being written (a torn last line is ignored on reading); running it again
with the same arguments replays the optimiser, which finds its earlier evaluations here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def fingerprint(parts: dict[str, Any]) -> str:
    """Short stable hash of the settings an evaluation depends on."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def point_key(u: np.ndarray) -> str:
    """Exact key of a point (float hex keeps every bit; the optimiser replays bit-identical points)."""
    return ",".join(float(x).hex() for x in np.asarray(u, dtype=float))


class EvaluationLog:
    """Append-only store of evaluations: {key, u, moments (replications x targets)}."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        self.loaded = 0
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line torn by a kill: that evaluation is simply done again
                    self.records[record["key"]] = record
            self.loaded = len(self.records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and push it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.records[record["key"]] = record

    def __len__(self) -> int:
        return len(self.records)
