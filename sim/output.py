"""Writing results: a folder is written whole or not at all.

Files go to a hidden temporary folder beside the target, which is renamed into place once
everything is written, and only if no other run took the place meanwhile. An existing folder is
only replaced with `force`, and only if this tool wrote it (its manifest says so) and it is not
the working folder or one of its parents; an interrupted or failed write leaves no folder that
looks complete. Text that a spreadsheet would run as a formula is written with a leading quote.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import glob
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


class OutputError(Exception):
    """The output folder cannot be written; nothing was left half-written."""


MANIFEST = "manifest.json"
WRITTEN_BY = "caseload"
"""Every manifest says who wrote its folder: `--force` replaces only such a folder."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Text a spreadsheet would run as a formula (OWASP, CSV injection); written with a leading quote."""


def written_by_us(folder: Path) -> bool:
    """Whether `folder` holds a manifest this tool wrote (older versions' manifests included)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    # manifests written before the marker existed all carried the version and creation time
    return manifest.get("written_by") == WRITTEN_BY or {"version", "created"} <= manifest.keys()


def _holds_working_folder(out: Path) -> bool:
    try:
        here, target = Path.cwd().resolve(), out.resolve()
    except OSError:
        return False
    return here == target or target in here.parents


def check_target(out: Path, force: bool) -> None:
    """Fail early, before any work, if `out` may not be written (or replaced, with `force`)."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink():
        raise OutputError(f"{out}: is a symbolic link; give a folder that does not exist yet, or the folder itself")
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    if _holds_working_folder(out):
        raise OutputError(
            f"{out}: is the working folder or one of its parents; it is never replaced, not even with --force"
        )
    if not written_by_us(out):
        raise OutputError(
            f"{out}: exists and is not a results folder of caseload (no caseload {MANIFEST}); it is never "
            "replaced, not even with --force: choose another --out"
        )
    if not force:
        raise OutputError(f"{out}: output folder exists; use --force to replace it, or choose another --out")


TABLE_FORMATS = ("csv", "parquet")
"""How tables are written: CSV (the default: a spreadsheet opens it), or Parquet (typed, compressed,
fast to read back: for large monthly tables and event logs; needs the `parquet` extra, pyarrow)."""


def check_table_format(table_format: str) -> None:
    """OutputError before any work if tables cannot be written as `table_format`."""
    if table_format not in TABLE_FORMATS:
        raise OutputError(f"--format: {table_format!r} is not a table format; give {' or '.join(TABLE_FORMATS)}")
    if table_format == "parquet":
        try:
            import pyarrow  # noqa: F401  (pandas writes Parquet through it)
        except ImportError:
            raise OutputError(
                '--format: parquet needs pyarrow, which is not installed; pip install -e ".[parquet]" '
                "(or pip install pyarrow), or give --format csv"
            ) from None


def table_file(name: str, table_format: str = "csv") -> str:
    """A table's file name in the given format: `yearly.csv` becomes `yearly.parquet` for Parquet."""
    return name if table_format == "csv" else str(Path(name).with_suffix(f".{table_format}"))


def _safe_table_name(name: str) -> Path:
    """A table's file name inside the folder: relative, without '..' (e.g. scenarios/focus/yearly.csv)."""
    path = Path(name)
    if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
        raise ValueError(f"table name {name!r} must be a relative path inside the output folder")
    return path


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with text that a spreadsheet would run as a formula quoted by a leading apostrophe."""
    text = [
        c for c in frame.columns if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])
    ]
    if not text:
        return frame
    out = frame.copy()
    for column in text:
        out[column] = out[column].map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
    return out


_RENAME_NOREPLACE = 1


def _rename_exclusive(source: Path, target: Path) -> None:
    """Rename `source` to `target`, failing (FileExistsError) if `target` exists, without a race.

    Linux has renameat2 with RENAME_NOREPLACE; elsewhere a plain rename of a folder onto an
    existing non-empty folder fails too, which is what matters: a results folder is never empty.
    """
    libc = _libc()
    if libc is not None:
        at_fdcwd = -100
        rc = libc.renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):  # not supported by this kernel or file system
            raise OSError(err, os.strerror(err), str(target))
    if target.exists():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno == errno.ENOTEMPTY:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        raise


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.renameat2  # noqa: B018  (glibc 2.28 and newer)
    except (OSError, AttributeError):
        return None
    return libc


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
            pid = path.name[len(f".{out.name}.{kind}-") :].split("-", 1)[0]
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
    table_format: str = "csv",
) -> Path:
    """Write tables, `manifest.json` and any extra files into `out`, atomically.

    Table names may hold subfolders (`scenarios/focus/yearly.csv`), never '..'; with
    `table_format="parquet"` they are written as Parquet under the same name ending in
    `.parquet` (as they are, no formula quoting: no spreadsheet opens them). Files go to
    `.NAME.partial-PID-XXXX` beside `out`; the manifest is written before `extra` runs, so extra
    files (a report) can read it. The folder is moved into place only if nothing took `out`
    meanwhile (another run to the same place fails, it does not replace the first); with `force`
    an existing results folder of this tool is replaced. On any failure or interruption the
    partial folder is removed, parent folders this call created are removed again, and a folder
    being replaced is put back.
    """
    out = Path(out)
    check_target(out, force)
    check_table_format(table_format)
    names = {name: _safe_table_name(table_file(name, table_format)) for name in tables}
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
            (tmp / names[name]).parent.mkdir(parents=True, exist_ok=True)
            if table_format == "parquet":
                frame.to_parquet(tmp / names[name], index=False, engine="pyarrow")
            else:
                spreadsheet_safe(frame).to_csv(tmp / names[name], index=False)
        text = json.dumps({"written_by": WRITTEN_BY, **manifest}, indent=2, default=str) + "\n"
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        if extra is not None:
            extra(tmp)
        if force and out.exists():
            check_target(out, force)  # it may have changed while we ran
            old = parent / f".{out.name}.old-{os.getpid()}-{tmp.name.rsplit('-', 1)[-1]}"
            out.rename(old)
        try:
            _rename_exclusive(tmp, out)
        except FileExistsError:
            raise OutputError(
                f"{out}: another run wrote this folder while this one ran; nothing of this run was written "
                "(use --force to replace it, or choose another --out)"
            ) from None
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


RECORDED_PACKAGES = ("numpy", "numba", "scipy", "pandas", "simpy", "pydantic")
"""The libraries whose versions a manifest records: the ones the numbers depend on."""


def software() -> dict[str, Any]:
    """What made the numbers: Python, the libraries' versions and, in a git checkout, the commit
    (with `dirty` when the working tree has changes); None where it cannot be told."""
    import platform
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    root = Path(__file__).resolve().parent.parent
    commit = None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
        oid = next((line.split()[2] for line in head.splitlines() if line.startswith("# branch.oid ")), None)
        dirty = any(not line.startswith("#") for line in head.splitlines())
        commit = None if oid in (None, "(initial)") else oid + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass  # not a checkout, or no git: the version says what it can
    return {
        "python": platform.python_version(),
        "packages": {name: package(name) for name in RECORDED_PACKAGES},
        "git_commit": commit,
    }


def manifest(command: str, **fields: Any) -> dict[str, Any]:
    """A results folder's manifest: the command that wrote it, the version, when, the software
    (Python, libraries, git commit), then `fields`.

    `write_folder` adds who wrote it (`written_by`), which `--force` relies on.
    """
    from sim import __version__

    return {
        "command": command,
        "version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "software": software(),
        **fields,
    }
