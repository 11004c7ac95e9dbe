"""The command line: runs write whole folders; bad input exits 2 with one message, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_writes_yearly_monthly_manifest(tmp_path):
    out = tmp_path / "r"
    result = invoke("run", "baseline", "--until", 2016, "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "monthly.csv", "yearly.csv"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"] == "baseline" and manifest["seed"] == 3 and manifest["replications"] == 1
    assert manifest["parameters"]["simulation"]["until_year"] == 2016
    yearly = pd.read_csv(out / "yearly.csv")
    assert yearly["year"].tolist() == [2013, 2014, 2015, 2016]


def test_run_is_reproducible_from_the_cli(tmp_path):
    for name in ("a", "b"):
        assert invoke("run", "baseline", "--until", 2015, "--seed", 9, "--out", tmp_path / name).exit_code == 0
    assert (tmp_path / "a" / "yearly.csv").read_text() == (tmp_path / "b" / "yearly.csv").read_text()


def test_replications_serial_and_parallel_identical(tmp_path):
    a = invoke("run", "baseline", "--until", 2015, "--reps", 3, "--workers", 1, "--out", tmp_path / "s")
    b = invoke("run", "baseline", "--until", 2015, "--reps", 3, "--workers", 2, "--out", tmp_path / "p")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert (tmp_path / "s" / "yearly.csv").read_text() == (tmp_path / "p" / "yearly.csv").read_text()
    assert "90% band" in a.output


def test_events_option_writes_the_event_log(tmp_path):
    out = tmp_path / "e"
    assert invoke("run", "baseline", "--until", 2014, "--events", "--out", out).exit_code == 0
    events = pd.read_csv(out / "events.csv")
    assert {"day", "client", "event", "detail", "replication"} <= set(events.columns)


def test_existing_results_replaced_only_with_force(tmp_path):
    out = tmp_path / "r"
    assert invoke("run", "baseline", "--until", 2014, "--out", out).exit_code == 0
    (out / "keep.txt").write_text("from the first run")
    result = invoke("run", "baseline", "--until", 2014, "--out", out)
    assert result.exit_code == 2
    assert "--force" in result.output
    assert (out / "keep.txt").read_text() == "from the first run"
    assert invoke("run", "baseline", "--until", 2014, "--out", out, "--force").exit_code == 0
    assert not (out / "keep.txt").exists()


def test_a_users_own_folder_is_never_replaced(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for extra in ([], ["--force"]):
        result = invoke("run", "baseline", "--until", 2014, "--out", out, *extra)
        assert result.exit_code == 2 and result.output.startswith("error: ")
        assert "not a results folder of caseload" in result.output and "not even with --force" in result.output
    assert (out / "keep.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def _bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "baselin"], ["unknown scenario 'baselin'", "Did you mean 'baseline'"]),
        (["run", "baseline", "--until", 2010], ["--until", "2013"]),
        (["run", "baseline", "--reps", 0], ["--reps"]),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_write_nothing(tmp_path, args, fragments):
    out = tmp_path / "never"
    result = invoke(*args, "--out", out)
    assert result.exit_code == 2
    for fragment in fragments:
        assert fragment in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('include = "baseline"\n[work]\nelasticity_wrk = 1\n', ["work.elasticity_wrk", "elasticity_work"]),
        ('include = "baseline"\n[money]\nbenefit_eur_per_full_year = "lots"\n', ["money.benefit_eur_per_full_year"]),
        ('include = "baseline"\n[inflow]\nrefused_share = 2\n', ["inflow.refused_share", "less than or equal to 1"]),
        ("[chain\n", ["malformed TOML"]),
    ],
)
def test_bad_scenario_files_exit_2_naming_file_and_field(tmp_path, text, fragments):
    path = _bad(tmp_path, text)
    out = tmp_path / "never"
    result = invoke("run", path, "--out", out)
    assert result.exit_code == 2
    assert str(path) in result.output
    for fragment in fragments:
        assert fragment in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_scenarios_lists_and_shows():
    listed = invoke("scenarios")
    assert listed.exit_code == 0
    for name in ("baseline", "focus", "broad", "focus-corona", "broad-corona"):
        assert name in listed.output
    shown = invoke("scenarios", "show", "broad")
    assert shown.exit_code == 0
    assert json.loads(shown.output)["policies"]["broad"]["gatekeeper_share"] == 0.36
    assert invoke("scenarios", "show", "nope").exit_code == 2
