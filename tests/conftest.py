"""Shared fixtures: small, fast scenarios with fixed seeds."""

from __future__ import annotations

import pytest

from sim.model import run
from sim.scenario import load, with_overrides


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
