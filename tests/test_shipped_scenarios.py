"""The shipped scenarios' documented parameters are what the model uses.

docs/scenarios.md's "Shipped scenarios' key parameters" table is generated from the resolved
scenarios (`sim.analysis.docs.shipped_parameters_table`, written by `python -m sim.analysis.docs --write`);
the figures the documentation quotes in prose are read back and compared with the resolved
baseline; and a run reports (manifest) and uses (policy in force, gatekeeper) those same
parameters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from sim.analysis.docs import SCENARIOS_DOC, block, shipped_parameters_table
from sim.model import run
from sim.scenario import load, shipped_names, with_overrides

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MODEL = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
SCENARIOS = SCENARIOS_DOC.read_text(encoding="utf-8")


@pytest.mark.unit
def test_scenarios_doc_holds_the_generated_key_parameters_table():
    expected = shipped_parameters_table()
    assert block(SCENARIOS, "shipped-parameters") == expected, (
        "docs/scenarios.md's shipped-scenario parameters differ from the scenario files; rewrite the table "
        f"between the shipped-parameters markers with\n  python -m sim.analysis.docs --write\n\n{expected}"
    )


def _shipped_scenarios_table() -> str:
    return SCENARIOS.split("\n## Shipped scenarios\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]


@pytest.mark.unit
def test_every_shipped_scenario_is_described_in_the_scenarios_doc():
    table = _shipped_scenarios_table()
    assert table.startswith("| name | what it is |")
    for name in shipped_names():
        assert f"`{name}`" in table, f"{name} is shipped but not in docs/scenarios.md's shipped-scenarios table"


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, pattern
    return float(match.group(1).replace(",", ""))


@pytest.mark.unit
def test_figures_quoted_in_the_docs_are_the_baselines():
    """Figures docs/model.md (the chain, money), the README (the stock) and docs/scenarios.md
    (the shipped scenarios) quote in prose."""
    baseline = load("baseline").scenario
    broad = baseline.policies["broad"]
    chain = baseline.chain
    assert _number(r"\((\d+)%\s+under\s+the\s+broad\s+policy\)", MODEL) / 100 == broad.door.gatekeeper_share
    assert _number(r"information\s+meeting\s+\((\d+)\s+places", MODEL) == chain.information_meeting_places
    assert (
        _number(r"Individual\s+diagnosis\s+talks\s+\((\d+)\s+a\s+working\s+day\)", MODEL)
        == chain.diagnosis_talks_per_weekday
    )
    assert (
        _number(r"intakes\s+by\s+income\s+consultants\s+\((\d+)\s+a\s+working\s+day\)", MODEL)
        == chain.intakes_per_weekday
    )
    assert _number(r"make\s+contact\s+within\s+(\d+)\s+days", MODEL) == chain.contact_days
    assert _number(r"×\s+EUR\s+([\d,]+)\s+/\s+12", MODEL) == baseline.money.benefit_eur_per_full_year
    assert _number(r"the\s+(\d+)-\d+\s+week\s+dream-job\s+period", MODEL) * 7 == chain.dream_job_days_min
    assert _number(r"the\s+\d+-(\d+)\s+week\s+dream-job\s+period", MODEL) * 7 == chain.dream_job_days_max
    assert _number(r"\((\d[\d,]*)\s+clients\s+in\s+December\s+2013\)", README) == baseline.region.initial_stock
    # "broad policy 2014-2018, focus from January 2019, run to 2030"
    table = _shipped_scenarios_table()
    assert "broad policy 2014-2018, focus from January 2019, run to 2030" in table
    assert [(p.start.isoformat(), p.policy) for p in baseline.policy_schedule] == [
        ("2014-01-01", "broad"),
        ("2019-01-01", "focus"),
    ]
    assert baseline.simulation.until_year == 2030
    assert [p.policy for p in load("broad").scenario.policy_schedule] == ["broad"]
    for name in ("focus-corona", "broad-corona"):
        shocks = load(name).scenario.shocks
        assert shocks["corona"].start.isoformat() == "2020-03-01"  # "from March 2020"
        assert min(s.start for s in shocks.values()).isoformat() == "2020-03-01"


@pytest.mark.cli
@pytest.mark.parametrize("name", ["baseline", "broad-corona"])
def test_the_model_uses_the_resolved_parameters(tmp_path, name):
    """The manifest holds exactly the resolved scenario, and the run follows its policy schedule."""
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", name, "--until", "2020", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    resolved = with_overrides(load(name).scenario, {"simulation": {"until_year": 2020}})
    assert manifest["parameters"] == resolved.model_dump(mode="json")
    monthly = run(resolved, 1).monthly
    for period_start, period_end, policy in _periods(resolved):
        months = monthly[
            (monthly["year"] * 100 + monthly["month"] >= period_start)
            & (monthly["year"] * 100 + monthly["month"] < period_end)
        ]
        assert (months["policy"] == policy).all()
        share = resolved.policies[policy].door.gatekeeper_share
        assert (months["gatekept"].sum() > 0) == (share > 0)


def _periods(scenario):
    schedule = scenario.policy_schedule
    bounds = [p.start.year * 100 + p.start.month for p in schedule] + [999_999]
    return [(bounds[i], bounds[i + 1], p.policy) for i, p in enumerate(schedule)]
