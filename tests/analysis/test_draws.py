"""Parameter uncertainty (sim/analysis/draws.py): the shipped draws, percentiles and variance shares,
keyed seeds per draw, --parameter-draws 0 as before, total intervals that hold the noise ones,
serial, processes and Dask that agree, run, sensitivity and the report with draws, and one clear
error for every bad draws file."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from folders import assert_same_results
from typer.testing import CliRunner

from cli import app
from sim.analysis.comparison import COLUMNS, compare_to_folder, run_paired_draws
from sim.analysis.draws import (
    DRAW_COLUMN,
    DrawsError,
    drawn_scenarios,
    find_draws,
    first_order_share,
    read_draws,
    total_interval,
    variance_shares,
)
from sim.replications import DaskExecutor, ProcessExecutor, SerialExecutor
from sim.scenario import load, shipped_dir, with_overrides

runner = CliRunner()
YEARS = (2019, 2020)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def short(name: str):
    loaded = load(name)
    return with_overrides(loaded.scenario, {"simulation": {"until_year": YEARS[1]}}), loaded.files


@pytest.fixture(scope="module")
def shipped():
    return read_draws(*find_draws(load("focus").files))


@pytest.mark.unit
def test_the_shipped_fit_carries_at_least_200_draws_of_every_fitted_parameter(shipped):
    assert len(shipped) >= 200
    estimates = pd.read_csv(shipped.file.with_name("estimates-leidschendam-voorburg.csv"))
    assert shipped.parameters == list(estimates["parameter"])
    assert set(shipped.weak) == set(estimates.loc[estimates["weak"], "parameter"])
    assert shipped.file.name == "draws-leidschendam-voorburg.csv"


@pytest.mark.unit
def test_percentiles_of_a_known_distribution_come_out_right():
    n = 200_000
    rng = np.random.default_rng(1)
    low, high = total_interval(rng.standard_normal(n))
    # the sampling sd of a 2.5% quantile: sqrt(p (1 - p) / n) / density at the quantile
    sd = np.sqrt(0.025 * 0.975 / n) / 0.0584
    assert abs(low + 1.959964) < 5 * sd and abs(high - 1.959964) < 5 * sd
    assert total_interval(np.arange(101.0), level=0.9) == pytest.approx((5.0, 95.0))


@pytest.mark.unit
def test_a_parameter_without_effect_gets_a_variance_share_of_about_zero():
    n = 2000
    rng = np.random.default_rng(2)
    x1, x2 = rng.uniform(size=n), rng.uniform(size=n)
    y = 3 * x1 + rng.normal(0, 0.5, n)
    expected = (9 / 12) / (9 / 12 + 0.25)
    assert first_order_share(x2, y) < 0.02  # bias corrected: the 45 bins' own noise would give 0.02
    assert abs(first_order_share(x1, y) - expected) < 0.03
    # over draws x replications: the replications' spread within a draw is simulation noise
    draws = pd.DataFrame({"a": x1[:400], "b": x2[:400]})
    pairs = pd.DataFrame({DRAW_COLUMN: np.repeat(np.arange(400), 2)})
    pairs["m"] = 3 * draws["a"].to_numpy()[pairs[DRAW_COLUMN]] + rng.normal(0, 0.5, 800)
    shares = variance_shares(pairs, draws, ["m"], weak=["b"]).set_index("source")["share"]
    assert shares["b"] < 0.04
    assert abs(shares["a"] - expected) < 0.06
    assert abs(shares["simulation noise"] - (1 - expected)) < 0.06


@pytest.mark.unit
def test_a_scaled_region_gets_the_draws_counts_at_its_own_size(shipped):
    national = load(shipped_dir() / "_netherlands-scaled.toml").scenario  # the default region, scaled
    drawn, held = drawn_scenarios(national, shipped, 2)
    ratio = national.inflow.base_notifications_per_year / shipped.fitted["inflow.base_notifications_per_year"]
    assert held == []
    for d in range(2):
        assert drawn[d].inflow.base_notifications_per_year == pytest.approx(
            shipped.values.at[d, "inflow.base_notifications_per_year"] * ratio
        )
        assert drawn[d].inflow.refused_share == shipped.values.at[d, "inflow.refused_share"]


@pytest.mark.unit
def test_a_parameter_the_scenario_sets_itself_is_held_at_its_value(shipped):
    focus = load("focus").scenario
    own = with_overrides(focus, {"contact": {"contact_effect_max": 2.5}})
    drawn, held = drawn_scenarios(own, shipped, 3)
    assert held == ["contact.contact_effect_max"]
    assert {s.contact.contact_effect_max for s in drawn} == {2.5}


@pytest.mark.invariants
def test_the_same_seed_gives_the_same_draws_and_draw_d_does_not_depend_on_how_many_run(shipped):
    focus, _ = short("focus")
    few, _ = drawn_scenarios(focus, shipped, 2)
    more, _ = drawn_scenarios(focus, shipped, 3)
    _, a, _ = run_paired_draws({}, {"focus": few}, 5, 2, SerialExecutor())
    _, b, _ = run_paired_draws({}, {"focus": more}, 5, 2, SerialExecutor())
    pd.testing.assert_frame_equal(a["focus"], b["focus"][b["focus"]["draw"] < 2].reset_index(drop=True))
    # replication 0 of draw 0 is not replication 0 at the estimate: draws get seeds of their own
    plain, _, _ = run_paired_draws({"focus": focus}, {}, 5, 1, SerialExecutor())
    assert not plain["focus"]["caseload_december"].equals(a["focus"].iloc[: len(plain["focus"])]["caseload_december"])


@pytest.mark.cli
def test_zero_draws_give_exactly_the_tables_of_a_comparison_without_draws(tmp_path, shipped):
    focus, _ = short("focus")
    broad, _ = short("broad")
    scenarios = {"focus": focus, "broad": broad}
    compare_to_folder(scenarios, tmp_path / "plain", YEARS, 3, 2, attribution=False)
    compare_to_folder(scenarios, tmp_path / "zero", YEARS, 3, 2, attribution=False, draws=shipped, parameter_draws=0)
    for name in ("comparison.csv", "break_even.csv", "parameters.csv", "scenarios/focus/yearly.csv"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "zero" / name).read_bytes()
    assert not (tmp_path / "zero" / "bands.csv").exists()
    assert list(pd.read_csv(tmp_path / "zero" / "comparison.csv").columns) == COLUMNS


@pytest.mark.cli
def test_total_intervals_hold_the_noise_ones_and_serial_and_processes_agree(tmp_path, shipped):
    focus, _ = short("focus")
    broad, _ = short("broad-open-door")
    scenarios = {"focus": focus, "broad-open-door": broad}
    args = (YEARS, 3, 2)
    serial = compare_to_folder(
        scenarios, tmp_path / "serial", *args, SerialExecutor(), draws=shipped, parameter_draws=3
    )
    pool = ProcessExecutor(2)
    try:
        compare_to_folder(scenarios, tmp_path / "pool", *args, pool, draws=shipped, parameter_draws=3)
    finally:
        pool.close()
    assert_same_results(tmp_path / "serial", tmp_path / "pool")
    if importlib.util.find_spec("dask") is not None:  # the optional extra: Dask gives the same too
        cluster = DaskExecutor("local", 2)
        try:
            compare_to_folder(scenarios, tmp_path / "dask", *args, cluster, draws=shipped, parameter_draws=3)
        finally:
            cluster.close()
        assert_same_results(tmp_path / "serial", tmp_path / "dask")
    table = serial.result.table
    assert {"total_low", "total_high"} <= set(table.columns)
    assert (table["total_low"] <= table["diff_low"] + 1e-9).all()
    assert (table["total_high"] >= table["diff_high"] - 1e-9).all()
    assert (table["total_low"] <= table["diff_mean"] + 1e-9).all()
    shares = pd.read_csv(tmp_path / "serial" / "attribution.csv")
    assert (shares["total_low"] <= shares["share_low"] + 1e-6).all()
    assert (shares["total_high"] >= shares["share_high"] - 1e-6).all()
    even = pd.read_csv(tmp_path / "serial" / "break_even_draws.csv")
    assert even["broken_even_share"].between(0, 1).all() and even["broken_even_share"].is_monotonic_increasing
    manifest = json.loads((tmp_path / "serial" / "manifest.json").read_text())
    assert manifest["parameter_draws"]["used"] == 3
    assert manifest["parameter_draws"]["sha256"] == shipped.sha256
    assert manifest["parameter_draws"]["file"] == str(shipped.file)
    variance = pd.read_csv(tmp_path / "serial" / "variance.csv")
    assert set(variance["source"]) >= set(shipped.parameters)


# -- bad input ---------------------------------------------------------------------------------------


def _own_fit(tmp_path, draws: str | None):
    """A scenario that includes a copy of the fitted file in tmp_path, with `draws` beside it."""
    shutil.copy(
        shipped_dir().parent / "calibration" / "fitted-leidschendam-voorburg.toml", tmp_path / "fitted-mine.toml"
    )
    if draws is not None:
        (tmp_path / "draws-mine.csv").write_text(draws)
    for name in ("focus", "broad"):
        (tmp_path / f"{name}.toml").write_text(f'include = ["{name}", "fitted-mine.toml"]\n')
    return tmp_path / "focus.toml", tmp_path / "broad.toml"


@pytest.mark.cli
@pytest.mark.parametrize(
    ("draws", "asked", "words"),
    [
        (None, 2, ["draws-mine.csv", "caseload calibrate"]),
        ("draw,inflow.refused_share\n0,nan\n", 1, ["draws-mine.csv: inflow.refused_share", "not a finite number"]),
        ("number,inflow.refused_share\n0,0.1\n", 1, ["draws-mine.csv: draw", "first column"]),
        ("draw,inflow.not_a_thing\n0,0.1\n", 1, ["draws-mine.csv: inflow.not_a_thing", "not a scenario parameter"]),
        ("draw,inflow.refused_share\n0,5.0\n", 1, ["draws-mine.csv: inflow.refused_share", "draw 0"]),
        ("draw,inflow.refused_share\n0,0.1\n", 2, ["draws-mine.csv: draw", "has 1 draws", "--parameter-draws 1"]),
        ("draw,inflow.reference_unemployment_pct\n0,7.0\n", 1, ["draws-mine.csv: inflow.reference_unemployment_pct"]),
        ("\x00\x01", 1, ["draws-mine.csv"]),
    ],
)
def test_a_bad_draws_file_is_one_line_naming_the_file_and_field_and_nothing_is_written(tmp_path, draws, asked, words):
    a, b = _own_fit(tmp_path, draws)
    out = tmp_path / "out"
    result = invoke("compare", a, b, "--parameter-draws", asked, "--reps", 1, "--until", 2020, "--out", out)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output
    for word in words:
        assert word in lines[0]
    assert not out.exists()


@pytest.mark.cli
def test_draws_missing_a_fitted_parameter_are_refused(tmp_path):
    a, b = _own_fit(tmp_path, "draw,inflow.refused_share\n0,0.1\n")
    estimates = pd.read_csv(shipped_dir().parent / "calibration" / "estimates-leidschendam-voorburg.csv")
    estimates.to_csv(tmp_path / "estimates-mine.csv", index=False)
    result = invoke("compare", a, b, "--parameter-draws", 1, "--reps", 1, "--until", 2020, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "draws-mine.csv: inflow.base_notifications_per_year: column missing" in result.output


@pytest.mark.unit
def test_reading_checks_the_draws_against_the_fitted_file(tmp_path):
    path = tmp_path / "draws.csv"
    path.write_text("draw,trajectories.start_per_month\n0,0.1\n")
    with pytest.raises(DrawsError, match="not a parameter of fitted-leidschendam-voorburg.toml"):
        read_draws(path, shipped_dir().parent / "calibration" / "fitted-leidschendam-voorburg.toml")
    path.write_text("draw,inflow.refused_share\n1,0.1\n")
    with pytest.raises(DrawsError, match="draw: must number the rows 0 to 0"):
        read_draws(path)


@pytest.mark.cli
def test_a_run_with_draws_writes_their_tables_and_both_bands(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "baseline", "--until", 2015, "--reps", 2, "--parameter-draws", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert "noise 90%" in result.output and "total 90%" in result.output
    plain = pd.read_csv(out / "yearly.csv")
    drawn = pd.read_csv(out / "draws" / "yearly.csv")
    assert sorted(set(drawn["draw"])) == [0, 1, 2] and len(drawn) == 3 * len(plain)
    bands = pd.read_csv(out / "bands.csv").set_index(["metric", "year"])
    caseload = drawn.groupby("year")["caseload_december"]
    assert (bands.loc["caseload_december", "p50"] == caseload.median()).all()
    assert json.loads((out / "manifest.json").read_text())["parameter_draws"]["used"] == 3
    zero = tmp_path / "zero"
    assert invoke("run", "baseline", "--until", 2015, "--reps", 2, "--parameter-draws", 0, "--out", zero).exit_code == 0
    assert (zero / "yearly.csv").read_bytes() == (out / "yearly.csv").read_bytes()
    assert not (zero / "bands.csv").exists()


@pytest.mark.cli
def test_sensitivity_with_draws_holds_the_varied_parameter_and_adds_total_intervals(tmp_path):
    out = tmp_path / "s"
    args = ["sensitivity", "focus", "broad", "--params", "inflow.refused_share", "--reps", 2, "--until", 2020]
    result = invoke(*args, "--parameter-draws", 2, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert (table["total_low"] <= table["diff_low"]).all() and (table["total_high"] >= table["diff_high"]).all()
    plain = invoke(*args, "--out", tmp_path / "plain")
    assert plain.exit_code == 0
    before = pd.read_csv(tmp_path / "plain" / "sensitivity.csv")
    pd.testing.assert_frame_equal(before, table[before.columns])


@pytest.mark.cli
def test_compare_with_draws_prints_both_intervals_and_the_report_shows_fan_charts(tmp_path):
    out = tmp_path / "c"
    args = ["compare", "focus", "broad-open-door", "--parameter-draws", 3, "--until", 2020, "--seed", 4]
    result = invoke(*args, "--out", out, "--report")
    assert result.exit_code == 0, result.output
    assert "simulation noise; total, parameters and simulation" in result.output
    total = next(line for line in result.output.splitlines() if line.startswith("  total spending:"))
    assert "(noise " in total and "; total " in total
    assert "parameter draws broken even" in result.output
    assert "total" in next(line for line in result.output.splitlines() if line.startswith("Of "))
    page = (out / "report.html").read_text()
    assert "How sure: parameters and simulation" in page and "total 95% high" in page
    assert "What drives the spread" in page and "Break-even over the draws" in page
    plain = tmp_path / "plain"
    assert invoke(*args[:4], 0, *args[5:], "--out", plain, "--report").exit_code == 0
    assert "Simulation noise only" in (plain / "report.html").read_text()


@pytest.mark.unit
def test_a_scenario_with_two_fits_draws_both_side_by_side():
    from sim.analysis.draws import combined, find_all_draws

    loaded = load("national-corona")
    found = find_all_draws(loaded.files)
    assert [f.name for _, f in found][-2:] == ["fitted-netherlands.toml", "fitted-corona.toml"]
    draws = combined([read_draws(*pair) for pair in found])
    drawn, held = drawn_scenarios(loaded.scenario, draws, 3)
    assert held == []
    corona = pd.read_csv(shipped_dir().parent / "calibration" / "draws-corona.csv")
    national = pd.read_csv(shipped_dir().parent / "calibration" / "draws-netherlands.csv")
    for d in range(3):
        assert drawn[d].shocks["corona"].inflow_multiplier == corona.at[d, "shocks.corona.inflow_multiplier"]
        assert drawn[d].inflow.base_notifications_per_year == pytest.approx(
            national.at[d, "inflow.base_notifications_per_year"]
        )
    assert len(draws.manifest(3)["files"]) == len(found)
