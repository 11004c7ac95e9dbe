"""Comparing results folders: the same files with the same bytes, manifests alike but for when and where."""

from __future__ import annotations

import json
from pathlib import Path

VOLATILE = {"created", "run_seconds", "scenario_file", "scenario_files"}
"""Manifest fields that differ between two writes of the same results: time taken, when, from where."""


def assert_same_results(a: Path, b: Path) -> None:
    """Folders `a` and `b` hold the same files; tables byte for byte, manifests but for VOLATILE."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for name in files:
        if name.name == "manifest.json":
            ma, mb = (json.loads((x / name).read_text()) for x in (a, b))
            differ = sorted(k for k in ma.keys() | mb.keys() - VOLATILE if k not in VOLATILE and ma.get(k) != mb.get(k))
            assert not differ, f"{name}: the manifests differ in {differ}"
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
