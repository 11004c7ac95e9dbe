"""The command line (cli.py): runs write whole folders; bad input, bad options and places that
cannot be written exit 2 with one message, writing nothing."""

from __future__ import annotations

import errno
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app

pytestmark = pytest.mark.cli

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_writes_yearly_monthly_manifest(tmp_path):
    out = tmp_path / "r"
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2016, "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "monthly.csv", "yearly.csv"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"] == "baseline" and manifest["seed"] == 3 and manifest["replications"] == 1
    assert manifest["parameters"]["simulation"]["until_year"] == 2016
    yearly = pd.read_csv(out / "yearly.csv")
    assert yearly["year"].tolist() == [2013, 2014, 2015, 2016]


def test_run_is_reproducible_from_the_cli(tmp_path):
    for name in ("a", "b"):
        assert (
            invoke(
                "run", "--parameter-draws", "0", "baseline", "--until", 2015, "--seed", 9, "--out", tmp_path / name
            ).exit_code
            == 0
        )
    assert (tmp_path / "a" / "yearly.csv").read_text() == (tmp_path / "b" / "yearly.csv").read_text()


def test_replications_serial_and_parallel_identical(tmp_path):
    a = invoke(
        "run",
        "--parameter-draws",
        "0",
        "baseline",
        "--until",
        2015,
        "--reps",
        3,
        "--workers",
        1,
        "--out",
        tmp_path / "s",
    )
    b = invoke(
        "run",
        "--parameter-draws",
        "0",
        "baseline",
        "--until",
        2015,
        "--reps",
        3,
        "--workers",
        2,
        "--out",
        tmp_path / "p",
    )
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert (tmp_path / "s" / "yearly.csv").read_text() == (tmp_path / "p" / "yearly.csv").read_text()
    assert "90% band" in a.output


def test_events_option_writes_the_event_log(tmp_path):
    out = tmp_path / "e"
    assert invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--events", "--out", out).exit_code == 0
    events = pd.read_csv(out / "events.csv")
    assert {"day", "client", "event", "detail", "replication"} <= set(events.columns)


def test_existing_results_replaced_only_with_force(tmp_path):
    out = tmp_path / "r"
    assert invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", out).exit_code == 0
    (out / "keep.txt").write_text("from the first run")
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", out)
    assert result.exit_code == 2
    assert "--force" in result.output
    assert (out / "keep.txt").read_text() == "from the first run"
    assert invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", out, "--force").exit_code == 0
    assert not (out / "keep.txt").exists()


def test_a_users_own_folder_is_never_replaced(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for extra in ([], ["--force"]):
        result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", out, *extra)
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
        (["run", "--parameter-draws", "0", "baselin"], ["unknown scenario 'baselin'", "Did you mean 'baseline'"]),
        (["run", "--parameter-draws", "0", "baseline", "--until", 2010], ["--until", "2013"]),
        (["run", "--parameter-draws", "0", "baseline", "--reps", 0], ["--reps"]),
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
    result = invoke("run", "--parameter-draws", "0", path, "--out", out)
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
    assert json.loads(shown.output)["policies"]["broad"]["door"]["gatekeeper_share"] == 0.36
    assert invoke("scenarios", "show", "nope").exit_code == 2


# -- options out of range, runs too large ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--seed", str(2**32)], "--seed: give a whole number from 0 to 4,294,967,295"),
        (["--seed", "-1"], "--seed"),
        (["--reps", str(10**20)], "--reps: give 1 to 1,000,000"),
        (["--reps", "0"], "--reps"),
        (["--workers", "100000"], "--workers: give 1 to"),
        (["--scheduler", "not-an-address"], "--scheduler: 'not-an-address' is not an address"),
    ],
)
def test_out_of_range_options_are_one_line(tmp_path, args, fragment):
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()] and result.output.startswith("error: ")
    assert fragment in result.output
    assert _leftovers(tmp_path) == []


def test_a_run_too_large_for_memory_is_refused_before_it_starts(tmp_path):
    result = invoke("run", "--parameter-draws", "0", "national", "--reps", 1_000_000, "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output.startswith("error: --reps: 1,000,000 replications")
    assert "GiB of memory" in result.output and _leftovers(tmp_path) == []


def test_a_long_run_says_what_it_will_cost_first(tmp_path, monkeypatch):
    import sim.replications

    monkeypatch.setattr(sim.replications, "LARGE_RUN_SECONDS", 0.0)
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", tmp_path / "out")
    assert result.exit_code == 0
    assert "note: 1 replications on 1 worker(s): about" in result.output
    assert "GiB of memory for the results (rough estimate)" in result.output


def test_compare_across_start_years_says_why_no_option_helps(tmp_path):
    later = _write(
        tmp_path, 'include = "broad"\nname = "later"\n[simulation]\nstart_year = 2014\n[region]\ninitial_stock = 1700\n'
    )
    result = invoke("compare", "--parameter-draws", "0", "focus", later, "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "simulation.start_year: the scenarios start in different years" in result.output
    assert "--until" not in result.output
    shorter = _write(tmp_path, 'include = "broad"\nname = "shorter"\n[simulation]\nuntil_year = 2025\n', "b.toml")
    result = invoke("compare", "--parameter-draws", "0", "focus", shorter, "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "give --until 2025" in result.output


# -- places the results cannot go ------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _write(folder: Path, text: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_disk_full_is_a_clear_error_and_nothing_is_written(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "No space left on device" in result.output
    assert "Traceback" not in result.output
    assert _leftovers(tmp_path) == []


def test_unwritable_output_folder_is_a_clear_error(tmp_path, monkeypatch):
    """A read-only parent (simulated: tests run as root, where chmod does not stop writes)."""

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", tmp_path / "sub" / "out")
    assert result.exit_code == 2
    assert (
        result.output.startswith("error: ") and "cannot create the output folder (Permission denied)" in result.output
    )
    assert "Traceback" not in result.output
    assert _leftovers(tmp_path) == []  # the parent folder it made for --out is gone again


def test_output_path_under_a_regular_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", blocker / "out")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "cannot create the output folder" in result.output
    assert "Traceback" not in result.output
    assert _leftovers(tmp_path) == ["file.txt"] and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("force", [False, True])
def test_output_path_that_is_a_file_is_never_replaced(tmp_path, force):
    blocker = tmp_path / "out"
    blocker.write_text("precious")
    result = invoke(
        "run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", blocker, *(["--force"] if force else [])
    )
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert blocker.read_text() == "precious"
    assert _leftovers(tmp_path) == ["out"]


def test_the_out_folder_that_is_a_file_does_not_suggest_force(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("precious")
    result = invoke("run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", blocker)
    assert "is not a folder" in result.output and "--force" not in result.output


# -- compare, sensitivity and report: bad names and flags ------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["compare", "--parameter-draws", "0", "focus", "brod"], ["unknown scenario 'brod'", "Did you mean 'broad'"]),
        (["compare", "--parameter-draws", "0", "focus"], ["at least two scenarios"]),
        (["compare", "--parameter-draws", "0", "focus", "focus"], ["named twice"]),
        (["compare", "--parameter-draws", "0", "focus", "broad", "--reps", 0], ["--reps"]),
        (["compare", "--parameter-draws", "0", "focus", "broad", "--workers", 0], ["--workers"]),
        (["compare", "--parameter-draws", "0", "focus", "broad", "--discount-rate", 1.5], ["--discount-rate"]),
        (["compare", "--parameter-draws", "0", "focus", "broad", "--until", 2010], ["--until"]),
        (["compare", "--parameter-draws", "0", "focus", "broad", "--until", 2018], ["--from-year", "2019"]),
        (["compare", "--parameter-draws", "0", "focus", "broad", "--seed", -1], ["--seed"]),
        (
            ["sensitivity", "focus", "broad", "--params", "work.elastcity_work"],
            ["unknown 'elastcity_work'", "work.elasticity_work"],
        ),
        (["sensitivity", "focus", "broad", "--params", "work.work_multiplier_by_group"], ["not a number"]),
        (
            ["sensitivity", "focus", "broad", "--params", "work.fulltime_share", "--spread", 0.99],
            ["fulltime_share", "--spread"],
        ),
        (["sensitivity", "focus", "brod", "--params", "work.elasticity_work"], ["unknown scenario 'brod'"]),
        (
            ["sensitivity", "focus", "broad", "--params", "work.elasticity_work", "--sobol", 6],
            ["--sobol", "power of 2"],
        ),
        (["report", "nowhere"], ["not a comparison folder"]),
    ],
)
def test_bad_names_and_flags_exit_2_with_a_message_and_write_nothing(tmp_path, args, fragments):
    out = tmp_path / "out"
    extra = [] if args[0] == "report" else ["--out", out]
    result = invoke(*args, *extra)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


# -- conventions: scenarios diff, verbosity, progress, numbers, start-up ----------------------------


def test_scenarios_diff_says_lever_by_lever_how_two_shipped_scenarios_differ():
    result = invoke("scenarios", "diff", "focus", "broad")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "broad against focus (focus's setting -> broad's):"
    assert "  from 2019-01-01: policy focus -> broad" in lines
    assert "    door: no gatekeeper -> a gatekeeper stops 36% of notifications" in lines
    assert any(line.startswith("    who is served: ") and "everyone, whatever the distance" in line for line in lines)
    assert not any(line.startswith("    aftercare: ") for line in lines)  # the same in both
    assert lines[-2:] == ["Other settings:", "  the same"]


def test_scenarios_diff_names_other_settings_and_says_when_nothing_differs():
    shock = invoke("scenarios", "diff", "focus", "focus-corona")
    assert shock.exit_code == 0
    assert "  the same levers in every period" in shock.output.splitlines()
    assert "  shocks: none -> corona from 2020-03-01" in shock.output
    national = invoke("scenarios", "diff", "focus", "national").output.splitlines()
    assert "    region.initial_stock: 1660 -> 413030" in national
    same = invoke("scenarios", "diff", "focus", "baseline").output.splitlines()
    assert same[-4:] == [
        "Policies in force, lever by lever:",
        "  the same levers in every period",
        "Other settings:",
        "  the same",
    ]
    bad = invoke("scenarios", "diff", "focus", "brod")
    assert bad.exit_code == 2 and bad.output.startswith("error: ") and "Did you mean 'broad'" in bad.output


def test_a_runs_terminal_table_has_peoples_headings_and_numbers(tmp_path):
    result = invoke(
        "run",
        "--parameter-draws",
        "0",
        "baseline",
        "--until",
        2015,
        "--reps",
        2,
        "--workers",
        1,
        "--out",
        tmp_path / "r",
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("year"))
    assert "December caseload (90% band)" in header and "benefits" in header and "_" not in header
    row = next(line for line in result.output.splitlines() if line.startswith("2015"))
    assert re.search(r"\b\d,\d{3} \(\d,\d{3}-\d,\d{3}\)", row) and re.search(r"EUR \d+\.\d M", row), row


def test_compare_states_the_order_of_its_differences_in_millions(tmp_path):
    args = [
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        "broad",
        "--reps",
        2,
        "--until",
        2020,
        "--workers",
        1,
        "--no-attribution",
    ]
    result = invoke(*args, "--out", tmp_path / "c")
    assert result.exit_code == 0, result.output
    assert "broad - focus, 2019-2020 (mean, 95% interval):" in result.output
    assert re.search(r"  total spending: EUR [+-]?\d+\.\d M \(", result.output)
    assert "(focus - broad; positive: broad spends less)" in result.output
    assert "_eur" not in result.output


def test_progress_is_plain_lines_off_a_terminal_and_quiet_silences_it(tmp_path):
    args = ["run", "--parameter-draws", "0", "baseline", "--until", 2014, "--reps", 3, "--workers", 1]
    shown = invoke(*args, "--out", tmp_path / "a")
    assert shown.exit_code == 0
    assert "baseline: 3/3 replications, " in shown.output and "\r" not in shown.output
    quiet = runner.invoke(app, ["-q", *map(str, args), "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0, quiet.output
    assert "replications, " not in quiet.output.replace("replication(s) of", "")
    assert "December caseload" in quiet.output  # the results still
    assert "debug:" not in shown.output + quiet.output


def test_verbose_shows_debug_records_and_verbose_with_quiet_is_refused(tmp_path):
    result = runner.invoke(
        app, ["-v", "run", "--parameter-draws", "0", "baseline", "--until", 2014, "--out", str(tmp_path / "v")]
    )
    assert result.exit_code == 0, result.output
    assert "debug: caseload: scenario baseline from " in result.output
    assert "debug: caseload: executor: SerialExecutor" in result.output
    both = runner.invoke(app, ["-v", "-q", "scenarios"])
    assert both.exit_code == 2 and both.output.strip() == "error: --verbose, --quiet: give one of them, not both"


def test_shell_completion_is_on():
    assert "--install-completion" in invoke("--help").output


def test_importing_the_command_line_loads_no_model():
    """`caseload --help` and `caseload scenarios` import no numba, pandas, numpy or the schema (each
    command imports what it uses; typer itself brings pydantic); the start-up time is in
    docs/performance.md."""
    heavy = ["numba", "pandas", "numpy", "matplotlib", "scipy", "sim.scenario", "sim.parameters", "rich.progress"]
    code = f"import sys, cli; print(sorted(set({heavy!r}) & set(sys.modules)))"
    root = Path(__file__).resolve().parents[1]
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert shown.stdout.strip() == "[]"
    listing = (
        "import sys, cli; cli.app(['scenarios'], standalone_mode=False); print(sorted(set({!r}) & set(sys.modules)))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", listing.format(heavy)], capture_output=True, text=True, check=True, cwd=root
    )
    assert shown.stdout.strip().splitlines()[-1] == "[]" and "baseline" in shown.stdout
