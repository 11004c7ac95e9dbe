"""Shared fixtures (small, fast scenarios with fixed seeds) and the check that every test has a tier."""

from __future__ import annotations

import pytest

from sim.model import run
from sim.scenario import load, with_overrides

TIERS = ("unit", "invariants", "theory", "cli")
"""The tiers of docs/verification.md, registered as markers in pyproject.toml."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # exactly one tier each, so that `-m unit` is the quick tier and no test falls between the tiers
    # (a test marked twice would also be picked by both; --strict-markers only catches unknown names)
    registered = {line.split(":")[0].strip() for line in config.getini("markers")}
    missing = [tier for tier in TIERS if tier not in registered]
    if missing:
        raise pytest.UsageError(f"tiers not registered in pyproject.toml's markers: {', '.join(missing)}")
    wrong = []
    for item in items:
        tiers = sorted({m.name for m in item.iter_markers() if m.name in TIERS})
        if len(tiers) != 1:
            wrong.append(f"{item.nodeid}: {', '.join(tiers) or 'no tier'}")
    if wrong:
        raise pytest.UsageError(
            "every test needs exactly one tier marker (" + ", ".join(TIERS) + "):\n  " + "\n  ".join(wrong)
        )


@pytest.fixture(scope="session")
def baseline():
    return load("baseline").scenario


@pytest.fixture(scope="session")
def short_baseline(baseline):
    """Baseline to 2020: covers both policies, runs in a fraction of a second."""
    return with_overrides(baseline, {"simulation": {"until_year": 2020}})


@pytest.fixture(scope="session")
def short_run(short_baseline):
    return run(short_baseline, 7, record_events=True)
