"""The Python API (caseload/__init__.py): runs and comparisons in memory give what the commands
write; a run whose every replication fails raises; the README's example runs under spawn, and
without its `__main__` guard fails at once with one message naming it."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from folders import assert_same_results
from typer.testing import CliRunner

import caseload
import sim.replications as replications
from cli import app
from sim.analysis.comparison import ComparisonError
from sim.replications import RunFailed, SerialExecutor, run_replications

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.cli
def test_a_run_in_memory_writes_what_caseload_run_writes(tmp_path):
    results = caseload.run("baseline", reps=2, seed=5, until=2015, events=True, workers=1)
    assert results.replications == 2 and not results.failures and results.events is not None
    results.to_folder(tmp_path / "api")
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
    shown = runner.invoke(app, [*args, "--out", str(tmp_path / "cli")])
    assert shown.exit_code == 0, shown.output
    assert_same_results(tmp_path / "api", tmp_path / "cli")


@pytest.mark.cli
def test_a_comparison_in_memory_writes_what_caseload_compare_writes(tmp_path):
    comparison = caseload.compare("focus", "broad", reps=2, seed=3, until=2020, workers=1)
    assert comparison.reference == "focus" and comparison.years == (2019, 2020)
    assert comparison.attribution is not None and set(comparison.yearly) == {"focus", "broad"}
    comparison.to_folder(tmp_path / "api")
    args = [
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        "broad",
        "--reps",
        "2",
        "--seed",
        "3",
        "--until",
        "2020",
        "--workers",
        "1",
    ]
    shown = runner.invoke(app, [*args, "--out", str(tmp_path / "cli")])
    assert shown.exit_code == 0, shown.output
    assert_same_results(tmp_path / "api", tmp_path / "cli")
    # the terminal's summary is the object's
    for line in comparison.summary():
        assert line in shown.output


def _broken(task):
    raise FloatingPointError("hazard is NaN")


@pytest.mark.unit
def test_a_run_whose_every_replication_fails_raises_and_says_why(monkeypatch, short_baseline):
    monkeypatch.setattr(replications, "run_task", _broken)
    with pytest.raises(RunFailed, match="hazard is NaN") as caught:
        caseload.run(short_baseline, reps=3, workers=1)
    assert len(caught.value.results.failures) == 3
    with pytest.raises(RunFailed):  # the layer below too: never an empty result
        run_replications(short_baseline, seed=1, reps=2, executor=SerialExecutor())


@pytest.mark.unit
def test_a_comparison_whose_every_replication_fails_raises(monkeypatch):
    monkeypatch.setattr(replications, "run_task", _broken)
    with pytest.raises(ComparisonError, match="nothing to compare.*hazard is NaN"):
        caseload.compare("focus", "broad", reps=2, until=2020, workers=1, attribution=False)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("refs", "options", "words"),
    [
        (("focus",), {}, "at least two scenarios"),
        (("focus", "focus"), {}, "named twice"),
        (("focus", "broad"), {"from_year": 2031}, "from_year: 2031 is outside"),
        (("focus", "broad"), {"discount_rate": 1.5}, "discount_rate"),
    ],
)
def test_scenarios_that_cannot_be_compared_are_one_error_before_any_run(refs, options, words):
    with pytest.raises(ComparisonError, match=words):
        caseload.compare(*refs, reps=10**6, **options)  # would run for days: the checks come first


def _readme_example() -> str:
    """The README's Python example, with few replications so that it runs in seconds."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    small = re.sub(r"reps=\d+", "reps=2", block)
    assert small != block, "the README's example no longer says reps=N: update this test"
    return small


def _run_script(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )


SPAWN = 'import multiprocessing\nmultiprocessing.set_start_method("spawn", force=True)  # as on macOS and Windows\n'


@pytest.mark.cli
def test_the_readme_example_runs_under_spawn(tmp_path):
    done = _run_script(tmp_path, SPAWN + _readme_example())
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert written and all((tmp_path / "results" / name / "manifest.json").is_file() for name in written)


@pytest.mark.cli
def test_without_the_main_guard_under_spawn_it_fails_at_once_with_one_message_naming_it(tmp_path):
    lines = _readme_example().splitlines()
    guard = next(i for i, line in enumerate(lines) if line.startswith("if __name__"))
    body = textwrap.dedent("\n".join(lines[guard + 1 :]))
    unguarded = "\n".join([*lines[:guard], body]) + "\n"
    done = _run_script(tmp_path, SPAWN + unguarded)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sim.replications.ExecutorError: ") and 'if __name__ == "__main__":' in last, done.stderr
    assert "example.py, line" in last
    # no worker started (none ran the script again), nothing was written
    assert "bootstrapping phase" not in done.stderr
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.cli
def test_a_comparison_in_memory_with_parameter_draws_has_total_intervals_and_reads_back(tmp_path):
    from sim.analysis.comparison import ComparisonError

    made = caseload.compare("focus", "broad", reps=1, until=2021, parameter_draws=2, attribution=False, workers=1)
    assert set(made.uncertainty) == {"bands", "variance", "break_even_draws"}
    assert {"total_low", "total_high"} <= set(made.table.columns)
    back = caseload.read(made.to_folder(tmp_path / "c"))
    again, first = back.uncertainty["variance"], made.uncertainty["variance"]
    numbers = first.select_dtypes("number").columns
    pd.testing.assert_frame_equal(again[numbers], first[numbers], check_dtype=False)
    assert (again["weak"].astype(str) == first["weak"].astype(str)).all()
    # a Scenario object carries no files, so no draws: one clear error
    with pytest.raises(ComparisonError, match="no fitted parameter file"):
        caseload.compare(caseload.scenario("focus"), "broad", reps=1, parameter_draws=2, attribution=False)
