"""Compiled code: one decorator for every numba function, cached on disk in a folder of our own.

Numba checks a cached function against its own file only, not against the compiled functions
it calls in other modules, so an edit of, say, the keyed hash in randomness.py would leave the
month step running the old hash. The cache folder is therefore keyed on all of the model's
source files: any edit recompiles (about 10 s, once). Numba falls back to its own places if this
one is not writable. The folder is chosen when the first compiled function is defined, because
numba fixes a function's cache place then; importing `sim` alone compiles and hashes nothing.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numba

_configured = False


def cache_dir() -> str:
    """The cache folder for the current model sources (sim/*.py)."""
    here = Path(__file__).parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()[:16]
    return str(here / "__pycache__" / f"numba-{digest}")


def compiled(function: Callable) -> Callable:
    """`numba.njit(cache=True)`, with the cache folder keyed on the model's sources."""
    global _configured
    if not _configured:
        numba.config.CACHE_DIR = folder = cache_dir()
        for stale in Path(folder).parent.glob("numba-*"):  # compiled from sources that are gone
            if str(stale) != folder:
                shutil.rmtree(stale, ignore_errors=True)
        _configured = True
    return numba.njit(cache=True)(function)
