"""caseload: a discrete-event microsimulation of a Dutch municipality's social-assistance caseload."""

import hashlib
from pathlib import Path

import numba

__version__ = "0.1.0"


def _compiled_cache_dir() -> str:
    """Where numba keeps the compiled functions: a folder keyed on all of sim's sources.

    Numba checks a cached function against its own file only, not against the compiled functions
    it calls in other modules, so an edit of, say, the keyed hash in randomness.py would leave the
    month step running the old hash. Keying the folder on every source file makes any edit
    recompile (about 10 s, once). Numba falls back to its own places if this one is not writable.
    """
    here = Path(__file__).parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()[:16]
    return str(here / "__pycache__" / f"numba-{digest}")


numba.config.CACHE_DIR = _compiled_cache_dir()
