"""The Python API (sim/runs.py) writes the folders `caseload run` writes, and refuses what it refuses."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from folders import assert_same_results
from typer.testing import CliRunner

from cli import app
from sim.output import OutputError
from sim.runs import RunFailed, run_to_folder
from sim.scenario import load, with_overrides

runner = CliRunner()


@pytest.mark.cli
def test_run_to_folder_writes_what_caseload_run_writes(tmp_path):
    scenario = with_overrides(load("baseline").scenario, {"simulation": {"until_year": 2015}})
    outcome = run_to_folder(scenario, tmp_path / "api", seed=5, reps=2, record_events=True)
    assert outcome.folder == tmp_path / "api" and not outcome.results.failures
    result = runner.invoke(
        app,
        [
            "run",
            "--parameter-draws",
            "0",
            "baseline",
            "--until",
            "2015",
            "--seed",
            "5",
            "--reps",
            "2",
            "--events",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "cli"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert_same_results(tmp_path / "api", tmp_path / "cli")
    manifest = json.loads((tmp_path / "api" / "manifest.json").read_text())
    assert manifest["written_by"] == "caseload" and manifest["command"] == "run" and manifest["seed"] == 5


@pytest.mark.unit
def test_the_api_refuses_an_existing_folder_before_any_work(tmp_path):
    scenario = load("baseline").scenario
    (tmp_path / "mine").mkdir()
    with pytest.raises(OutputError, match="not a results folder of caseload"):
        run_to_folder(scenario, tmp_path / "mine", reps=10**6)  # would run for days: the check comes first


@pytest.mark.unit
def test_a_run_whose_every_replication_fails_writes_nothing(tmp_path, monkeypatch):
    import sim.replications as replications

    def broken(task):
        raise ValueError("broken replication")

    monkeypatch.setattr(replications, "run_task", broken)
    with pytest.raises(RunFailed) as info:
        run_to_folder(load("baseline").scenario, tmp_path / "out", reps=2)
    assert len(info.value.results.failures) == 2 and not (tmp_path / "out").exists()


@pytest.mark.cli
def test_caseload_run_format_parquet_writes_the_same_numbers_as_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    import caseload

    args = [
        "run",
        "--parameter-draws",
        "0",
        "baseline",
        "--until",
        "2015",
        "--seed",
        "5",
        "--reps",
        "2",
        "--events",
        "--workers",
        "1",
    ]
    result = runner.invoke(app, [*args, "--format", "parquet", "--out", str(tmp_path / "pq")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == [
        "events.parquet",
        "manifest.json",
        "monthly.parquet",
        "yearly.parquet",
    ]
    scenario = with_overrides(load("baseline").scenario, {"simulation": {"until_year": 2015}})
    outcome = run_to_folder(scenario, tmp_path / "csv", seed=5, reps=2, record_events=True)
    back = caseload.read(tmp_path / "pq")
    assert back.manifest["table_format"] == "parquet"
    for name in ("yearly", "monthly", "events"):
        expected = getattr(outcome.results, name)
        expected = expected.astype({c: "str" for c in expected.columns if expected[c].dtype == object})
        pd.testing.assert_frame_equal(getattr(back, name), expected, check_dtype=False, obj=name)


@pytest.mark.cli
def test_caseload_run_with_a_format_it_cannot_write_is_one_line_and_no_folder(tmp_path):
    result = runner.invoke(app, ["run", "baseline", "--format", "xlsx", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --format: 'xlsx' is not a table format; give csv or parquet"
    assert not (tmp_path / "x").exists()
