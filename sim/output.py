"""Writing results: a folder is written whole or not at all.

Files go to a hidden temporary folder beside the target, which is renamed into place once
everything is written. An existing folder is only replaced with `force`; an interrupted or
failed write leaves no folder that looks complete.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


class OutputError(Exception):
    """The output folder cannot be written; nothing was left half-written."""


def check_target(out: Path, force: bool) -> None:
    """Fail early, before any work, if `out` exists and may not be replaced."""
    if out.exists() and not force:
        raise OutputError(f"{out}: output folder exists; use --force to replace it, or choose another --out")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale(out: Path) -> list[Path]:
    """Remove hidden partial and replaced folders of `out` left by processes that no longer run.

    A run killed outright (SIGKILL, power loss) cannot clean up; its hidden folder carries its
    process id, so the next write to the same place removes it, but never one still being written.
    """
    parent = out.parent if str(out.parent) else Path(".")
    removed = []
    if not parent.is_dir():
        return removed
    for kind in ("partial", "old"):
        for path in parent.glob(f".{glob.escape(out.name)}.{kind}-*"):
            pid = path.name[len(f".{out.name}.{kind}-"):].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def write_folder(
    out: Path,
    tables: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    force: bool = False,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write CSV tables, `manifest.json` and any extra files into `out`, atomically.

    Files go to `.NAME.partial-PID-XXXX` beside `out`, renamed to `out` when all are written. On
    any failure or interruption the partial folder is removed, parent folders this call created
    are removed again, and a folder being replaced (`force`) is put back.
    """
    out = Path(out)
    check_target(out, force)
    parent = out.parent if str(out.parent) else Path(".")
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(out)
        tmp: Path | None = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=parent))
    except OSError as exc:
        _remove_empty(created)
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    old: Path | None = None
    try:
        for name, frame in tables.items():
            frame.to_csv(tmp / name, index=False)
        if extra is not None:
            extra(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
        if out.exists():
            old = parent / f".{out.name}.old-{os.getpid()}-{tmp.name.rsplit('-', 1)[-1]}"
            out.rename(old)
        tmp.rename(out)
        tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and old.exists() and not out.exists():
                old.rename(out)  # interrupted between the two renames: the replaced folder comes back
        _remove_empty(created)
        if isinstance(exc, OSError):
            raise OutputError(f"{out}: cannot write results ({exc.strerror or exc}); nothing was written") from None
        raise
    return out


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders this call created (deepest first), if they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
