"""The README documents what the model uses."""

from __future__ import annotations

from pathlib import Path

from sim.docs import reference
from sim.results import YEARLY_COLUMNS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_holds_the_generated_scenario_reference():
    assert reference() in README, "run `python -m sim.docs` and paste into README between the reference markers"


def test_readme_documents_every_yearly_column():
    for column in YEARLY_COLUMNS:
        stem = column.replace("stock_duration_", "")
        assert column in README or stem in README, column
