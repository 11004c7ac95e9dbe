"""Fixtures of the analysis tests: the paired runs are made once for the session."""

from __future__ import annotations

import pytest
from paired_runs import paired_runs


@pytest.fixture(scope="session")
def paired():
    return paired_runs()
