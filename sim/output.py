"""Writing results: a folder is written whole or not at all.

Files go to a hidden temporary folder beside the target, which is renamed into place once
everything is written. An existing folder is only replaced with `force`; an interrupted or
failed write leaves no folder that looks complete.
"""

from __future__ import annotations

import json
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


def write_folder(
    out: Path,
    tables: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    force: bool = False,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write CSV tables, `manifest.json` and any extra files into `out`, atomically."""
    out = Path(out)
    check_target(out, force)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    try:
        for name, frame in tables.items():
            frame.to_csv(tmp / name, index=False)
        if extra is not None:
            extra(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
        if out.exists():
            old = parent / f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{out}: cannot write results ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
