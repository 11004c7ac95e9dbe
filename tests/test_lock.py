"""The lock file (requirements-lock.txt): every dependency the project declares is pinned there,
at a version its declaration allows, with hashes, and CI installs from it (docs/installing.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
LOCKED_EXTRAS = ("test", "parquet", "dask", "explore")
"""The extras .ci/lock locks: what CI installs."""


def _pins() -> dict[str, list[tuple[Requirement, int]]]:
    """name -> [(the pin with its marker, number of hashes)] from the lock file."""
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, list[tuple[Requirement, int]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec = line.split(" --hash", 1)[0].strip()
        requirement = Requirement(spec)
        pins.setdefault(canonicalize_name(requirement.name), []).append((requirement, line.count("--hash=sha256:")))
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + [r for e in LOCKED_EXTRAS for r in extras[e]]]


@pytest.mark.unit
def test_every_declared_dependency_is_pinned_at_an_allowed_version_with_hashes():
    pins = _pins()
    assert pins, "the lock file is empty"
    for requirement in _declared():
        found = pins.get(canonicalize_name(requirement.name))
        assert found, f"{requirement.name} is declared in pyproject.toml but not in the lock: run .ci/lock"
        for pin, hashes in found:
            (exact,) = pin.specifier
            assert exact.operator == "==", pin
            assert requirement.specifier.contains(exact.version, prereleases=True), (
                f"{pin} does not satisfy pyproject.toml's {requirement}: run .ci/lock"
            )
            assert hashes >= 1, f"{pin} has no hash"
    assert "distributed" in pins, "dask[distributed]'s extra is pinned too"


@pytest.mark.unit
def test_every_pin_has_hashes_and_ci_installs_from_the_lock_with_them():
    for name, found in _pins().items():
        assert all(hashes >= 1 for _, hashes in found), name
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"pip install .*--require-hashes -r requirements-lock.txt", ci)
    assert re.search(r"pip install .*--no-deps -e \.", ci), "the project goes on top without pulling in anything"
