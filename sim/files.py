"""Reading the user's input files and naming the files we write: one set of rules for both.

Input files (scenarios, their includes, calibration files) must be regular files of at most
`MAX_INPUT_BYTES`: a device file would otherwise read without end and a FIFO would hang. Any
name that becomes a file or folder name (a scenario's `name`, a calibration's `fitted_file`)
must be a safe slug, so it can never point outside the folder it is written into.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_INPUT_BYTES = 1_000_000
"""Largest input file read (1 MB): the biggest shipped scenario is about 7 kB."""

SLUG_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
SLUG_RULE = (
    "a name of 1 to 80 letters, digits, '.', '_' or '-' that starts with a letter or digit "
    "and holds no '..' (it becomes a file or folder name)"
)
_SLUG = re.compile(SLUG_PATTERN)


class FileProblem(Exception):
    """An input file that cannot be read as text; the message says why (callers add the file name)."""


def is_slug(name: str) -> bool:
    """Whether `name` is safe as one file or folder name (no separators, no '..', no leading dot)."""
    return isinstance(name, str) and _SLUG.fullmatch(name) is not None


def slugify(text: str) -> str:
    """A safe slug made from free text (e.g. a file's stem): other characters become '-'."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    slug = re.sub(r"\.{2,}", ".", slug).lstrip(".-_")[:80].rstrip(".-_")
    return slug or "scenario"


def read_text(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes`; FileProblem otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise FileProblem("is a folder, not a file") from None
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem("not a regular file (a device, pipe, socket or folder); give a TOML file")
        if info.st_size > max_bytes:
            raise FileProblem(f"file of {info.st_size:,} bytes; at most {max_bytes:,} are read")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileProblem(f"file larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
