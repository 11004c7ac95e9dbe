"""The evaluation log: every finished model evaluation, appended to a JSON-lines file and flushed.

An evaluation is a pure function of (parameter values, seed, replications, scenario, targets);
the file name carries a fingerprint of everything but the parameter values, so a log is only
ever reused by a run that would have computed the same numbers. A run that is killed loses at
most the evaluation being written; running it again with the same arguments replays the
optimiser, which finds its earlier evaluations here.

The log is a cache, so reading it never fails on its content: a line that is not a whole,
intact record (torn by a kill, not UTF-8, not JSON, the wrong fields, a key that is not its
point, a checksum that does not match) is skipped and counted, and that evaluation is simply run
again. The checksum matters because a record whose numbers were altered would otherwise be
believed, and would change the fit. What the log cannot know, the shape a calibration expects,
`calibration.objective.Evaluator` checks (`discard`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

LOG_FORMAT = 2
"""Version of the record layout; part of the fingerprint, so a log of another layout is never read."""

_FIELDS = frozenset({"key", "u", "moments", "check"})


class StateError(Exception):
    """The state folder or its evaluation log cannot be used; the message names the path and what is wrong."""


def fingerprint(parts: dict[str, Any]) -> str:
    """Short stable hash of the settings an evaluation depends on."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def point_key(u: np.ndarray) -> str:
    """Exact key of a point (float hex keeps every bit; the optimiser replays bit-identical points)."""
    return ",".join(float(x).hex() for x in np.asarray(u, dtype=float))


def _checksum(key: str, u: list[float], moments: list[list[float]]) -> str:
    # float repr round-trips exactly through JSON, so a parsed record re-dumps to the same text
    text = json.dumps([key, u, moments], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _floats(values: Any, finite: bool) -> bool:
    # the log only ever holds floats (never ints or bools), so anything else is damage
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(x, float) and (math.isfinite(x) or not finite) for x in values)
    )


def parse_record(line: bytes) -> dict[str, Any] | None:
    """The record on one line of the log, or None if the line is not a whole, intact record."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or set(record) != _FIELDS:
        return None
    key, u, moments, check = record["key"], record["u"], record["moments"], record["check"]
    if not (isinstance(key, str) and isinstance(check, str) and isinstance(u, list) and isinstance(moments, list)):
        return None
    if not _floats(u, finite=True) or not moments or not all(_floats(row, finite=False) for row in moments):
        return None
    if len({len(row) for row in moments}) != 1 or point_key(u) != key:
        return None
    if _checksum(key, u, moments) != check:
        return None
    return record


def record_line(key: str, u: np.ndarray, moments: np.ndarray) -> bytes:
    """One line of the log, newline included: the record of an evaluation with its checksum."""
    u_list = [float(x) for x in np.asarray(u, dtype=float)]
    m_list = [[float(x) for x in row] for row in np.asarray(moments, dtype=float)]
    record = {"key": key, "u": u_list, "moments": m_list, "check": _checksum(key, u_list, m_list)}
    return (json.dumps(record) + "\n").encode("utf-8")


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def check_state(folder: Path, output: Path | None = None) -> None:
    """Make sure the evaluation log can be written in `folder` (made if missing); StateError if not.

    Called before any model evaluation, so a bad --state costs nothing. A write is tried, because
    permission bits say nothing to root and a full disk only shows when something is written. The
    folder must not lie in the `output` folder, which is replaced whole when the outputs are written.
    """
    folder = Path(folder)
    try:
        inside = output is not None and Path(output).resolve() in (folder.resolve(), *folder.resolve().parents)
        info = os.stat(folder)
    except (FileNotFoundError, NotADirectoryError):
        info = None  # made below, or mkdir says why not
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise StateError(f"{folder}: cannot use the folder for the evaluation log ({_reason(exc)})") from None
    if inside:
        raise StateError(
            f"{folder}: inside the output folder {output}, which is replaced when the results are "
            "written; give a folder outside it (the default is OUT.state)"
        )
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise StateError(f"{folder}: not a folder (a file is in the way); give a folder for the evaluation log")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"{folder}: cannot make the folder for the evaluation log ({_reason(exc)})") from None
    probe = folder / f".write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StateError(
            f"{folder}: cannot write the evaluation log here ({_reason(exc)}); give a writable folder"
        ) from None
    finally:
        with contextlib.suppress(OSError):  # a probe we could make but not remove is harmless
            probe.unlink(missing_ok=True)


def _read_bytes(path: Path) -> bytes | None:
    """The log's bytes, None if there is no log yet; StateError if the path is not a readable file."""
    try:
        # O_NONBLOCK: a FIFO in the log's place must not hang the run
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path}: cannot read the evaluation log ({_reason(exc)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StateError(f"{path}: not a regular file; move it away so the evaluation log can be written")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    except OSError as exc:
        raise StateError(f"{path}: cannot read the evaluation log ({_reason(exc)})") from None
    finally:
        os.close(fd)


class EvaluationLog:
    """Append-only store of evaluations: {key, u, moments (replications x targets), check}.

    `skipped` counts the lines that were not used: unreadable ones, found on reading, and records
    of the wrong shape, dropped by `discard`. Every intact record of a point is kept until then, so a
    wrongly shaped record never hides a good one of the same point, before or after it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._records: dict[str, list[dict[str, Any]]] = {}
        self.skipped = 0
        data = _read_bytes(self.path)
        for line in (data or b"").split(b"\n"):
            if not line.strip():
                continue
            record = parse_record(line)
            if record is None:
                self.skipped += 1
            else:
                self._records.setdefault(record["key"], []).append(record)
        self.loaded = len(self._records)

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """The record used for each point."""
        return {key: found[0] for key, found in self._records.items()}

    def discard(self, unfit: Callable[[dict[str, Any]], bool]) -> int:
        """Drop the records `unfit` rejects (counted in `skipped`); how many were dropped."""
        dropped = 0
        for key in list(self._records):
            kept = [record for record in self._records[key] if not unfit(record)]
            dropped += len(self._records[key]) - len(kept)
            if kept:
                self._records[key] = kept
            else:
                del self._records[key]
        self.skipped += dropped
        self.loaded = len(self._records)
        return dropped

    def note(self) -> str | None:
        """One line for the user when lines were skipped, None otherwise."""
        if not self.skipped:
            return None
        lines = "line" if self.skipped == 1 else "lines"
        return f"{self.path}: {self.skipped} unreadable {lines} ignored; those evaluations are run again"

    def get(self, key: str) -> dict[str, Any] | None:
        found = self._records.get(key)
        return found[0] if found else None

    def append(self, key: str, u: np.ndarray, moments: np.ndarray) -> None:
        """Write one record and push it to disk before returning; StateError if it cannot be written."""
        line = record_line(key, u, moments)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a torn last line must not swallow this record
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(errno.EIO, "nothing written")
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot write the evaluation log ({_reason(exc)}); the {len(self)} evaluations "
                "in it are kept: fix the folder or free space, then run the same command to resume"
            ) from None
        self._records[key] = [json.loads(line)]

    def __len__(self) -> int:
        return len(self._records)
