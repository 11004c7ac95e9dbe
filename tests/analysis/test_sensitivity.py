"""Sensitivity (sim/analysis/sensitivity.py): one-at-a-time ranges, the Latin hypercube and Sobol'
designs, the headline, and the inputs: counts run at rounded values and every table says which;
bad options, parameters and calibration files are one error line, exit 2, before anything runs."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paired_runs import YEARS
from typer.testing import CliRunner

import calibration.config
from cli import app
from sim.analysis.comparison import compare
from sim.analysis.sensitivity import SensitivityError, parameter_ranges, whole, with_parameters
from sim.scenario import load, with_overrides

runner = CliRunner()
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COUNT = "chain.intakes_per_weekday"  # a whole-number field: 4 intakes a working day


@pytest.fixture(scope="module")
def pair():
    return tuple(with_overrides(load(n).scenario, {"simulation": {"until_year": 2019}}) for n in ("focus", "broad"))


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


# -- ranges and rounding ---------------------------------------------------------------------------


@pytest.mark.unit
@given(st.floats(-1e12, 1e12))
def test_whole_rounds_to_the_nearest_and_halves_away_from_zero(x):
    n = whole(x)
    assert isinstance(n, int) and abs(n - x) <= 0.5
    if abs(n - x) == 0.5:
        assert abs(n) > abs(x)


@pytest.mark.unit
@FUZZ
@given(x=st.floats(0, 1000), spread=st.floats(0.13, 0.95))
def test_a_count_runs_at_its_rounded_value_and_its_range_says_so(pair, x, spread):
    a, b = pair
    assert with_parameters(a, {COUNT: x}).chain.intakes_per_weekday == whole(x)
    assert (
        with_parameters(a, {"work.elasticity_work": x / 200}).work.elasticity_work == x / 200
    )  # a float runs as given
    ranges = parameter_ranges(a, b, [COUNT], spread).iloc[0]
    assert (ranges["low_a"], ranges["high_a"]) == (whole(4 * (1 - spread)), whole(4 * (1 + spread)))
    assert all(isinstance(ranges[c], int) for c in ("value_a", "low_a", "high_a", "low_b", "high_b"))
    assert "rounded" in ranges["source"]


@pytest.mark.unit
def test_calibration_bounds_come_from_the_checked_calibration_file(pair):
    a, b = pair
    shipped, _ = calibration.config.load(calibration.config.CALIBRATION_DIR / f"{a.region.name}.toml")
    bounds = {p.path: (p.lower, p.upper) for p in shipped.parameters}
    ranges = parameter_ranges(
        a,
        b,
        ["work.elasticity_work", "contact.contact_effect_max"],
        0.25,
        calibration.config.fitted_bounds(a.region.name),
    ).set_index("parameter")
    assert tuple(ranges.loc["work.elasticity_work", ["low_a", "high_a"]]) == bounds["work.elasticity_work"]
    assert ranges.loc["work.elasticity_work", "source"] == "calibration bounds"


@pytest.mark.unit
def test_a_region_without_a_calibration_file_falls_back_to_the_spread(pair, tmp_path, monkeypatch):
    monkeypatch.setattr(calibration.config, "CALIBRATION_DIR", tmp_path)
    a, b = pair
    ranges = parameter_ranges(
        a, b, ["work.elasticity_work"], 0.25, calibration.config.fitted_bounds(a.region.name)
    ).iloc[0]
    assert ranges["source"] == "value x (1 +- 0.25)"
    assert ranges["low_a"] == pytest.approx(0.75 * a.work.elasticity_work)


@pytest.mark.unit
def test_a_parameter_outside_the_schema_names_the_setting_and_scenario(pair):
    a, b = pair
    with pytest.raises(
        SensitivityError, match=r"^--params: work.fulltime_share=.*: not allowed in focus \(work.fulltime_share: "
    ):
        parameter_ranges(a, b, ["work.fulltime_share"], 0.99)
    assert math.isclose(
        parameter_ranges(a, b, ["work.fulltime_share"], 0.1).iloc[0]["high_a"], 1.1 * a.work.fulltime_share
    )


# -- the headline and the designs ------------------------------------------------------------------


@pytest.mark.unit
def test_the_sensitivity_headline_is_what_compare_gives(paired):
    from sim.analysis.sensitivity import headline

    scenarios, yearlies = paired
    found = headline(yearlies["focus"], yearlies["broad"], scenarios["focus"], scenarios["broad"], YEARS[0])
    t = compare(yearlies, scenarios, YEARS).table.set_index(["year", "metric", "scenario"])
    expected = t.loc[("total", "cumulative_net_saving_eur", "broad"), ["diff_mean", "diff_low", "diff_high"]]
    assert found["cumulative_net_saving_eur"] == pytest.approx(tuple(expected), rel=1e-12)
    # dropping a replication of one scenario drops the pair, as in compare
    fewer = yearlies["broad"][yearlies["broad"]["replication"] != 0]
    found = headline(yearlies["focus"], fewer, scenarios["focus"], scenarios["broad"], YEARS[0])
    t = compare({"focus": yearlies["focus"], "broad": fewer}, scenarios, YEARS).table.set_index(
        ["year", "metric", "scenario"]
    )
    expected = t.loc[("total", "cumulative_net_saving_eur", "broad"), ["diff_mean", "diff_low", "diff_high"]]
    assert found["cumulative_net_saving_eur"] == pytest.approx(tuple(expected), rel=1e-12)


@pytest.mark.unit
def test_sobol_design_and_indices_are_scipys_and_reproducible(monkeypatch):
    """With the model replaced by the Ishigami function, run_sobol gives what scipy's own
    sobol_indices gives for it, and the same intervals for the same seed."""
    from scipy.stats import sobol_indices, uniform

    import sim.analysis.sensitivity as sensitivity

    def ishigami(u):  # u in [0, 1]^3 -> x in [-pi, pi]^3
        x = -np.pi + 2 * np.pi * np.asarray(u)
        return np.sin(x[0]) + 7 * np.sin(x[1]) ** 2 + 0.1 * x[2] ** 4 * np.sin(x[0])

    def fake_headlines(a, b, ranges, u, seed, reps, executor, on_done, first_year):
        return pd.DataFrame(
            {"sample": range(len(u)), **{p: u[:, j] for j, p in enumerate(ranges["parameter"])}, "y": ishigami(u.T)}
        )

    monkeypatch.setattr(sensitivity, "headlines_at", fake_headlines)
    ranges = pd.DataFrame({"parameter": ["x1", "x2", "x3"]})
    indices, points = sensitivity.run_sobol(None, None, ranges, 256, seed=9, reps=1, executor=None)
    expected = sobol_indices(func=ishigami, n=256, dists=[uniform(0, 1)] * 3, rng=np.random.default_rng(9))
    assert indices["first_order"].to_numpy() == pytest.approx(expected.first_order, abs=1e-12)
    assert indices["total_order"].to_numpy() == pytest.approx(expected.total_order, abs=1e-12)
    assert len(points) == 256 * 5
    assert ((indices["first_low"] <= indices["first_order"]) & (indices["first_order"] <= indices["first_high"])).all()
    again, _ = sensitivity.run_sobol(None, None, ranges, 256, seed=9, reps=1, executor=None)
    pd.testing.assert_frame_equal(indices, again)


# -- the command -----------------------------------------------------------------------------------


@pytest.mark.cli
def test_sensitivity_writes_the_table_and_a_tornado(tmp_path):
    out = tmp_path / "s"
    result = invoke(
        "sensitivity",
        "focus",
        "broad",
        "--params",
        "work.elasticity_work,trajectories.basket.0.price_eur",
        "--reps",
        2,
        "--until",
        2020,
        "--seed",
        3,
        "--out",
        out,
        "--workers",
        2,
        "--samples",
        4,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert sorted(set(table["setting"])) == ["base", "high", "low"]
    assert set(table["metric"]) == {"cumulative_net_saving_eur"}  # 2025 and 2030 are after --until
    price = table[(table["parameter"] == "trajectories.basket.0.price_eur")].set_index("setting")
    base_price = load("focus").scenario.trajectories.basket[0].price_eur
    assert price.loc["low", "value_a"] == pytest.approx(0.75 * base_price)
    assert price.loc["low", "diff_mean"] != price.loc["high", "diff_mean"]
    assert (out / "tornado.png").stat().st_size > 10_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"] == ["work.elasticity_work", "trajectories.basket.0.price_eur"]
    # all parameters together over a Latin hypercube: one regression per headline metric
    points = pd.read_csv(out / "global_samples.csv")
    assert len(points) == 4 and points[manifest["params"]].apply(lambda c: c.between(0, 1)).all().all()
    for column in manifest["params"]:  # Latin hypercube: one point in each quarter of every range
        assert sorted((points[column] * 4).astype(int)) == [0, 1, 2, 3]
    indices = pd.read_csv(out / "global.csv")
    assert list(indices["parameter"]) == manifest["params"]
    assert indices["r_squared"].between(0, 1).all() and (indices["variance_share"] >= 0).all()


@pytest.mark.cli
def test_sobol_indices_are_zero_for_a_parameter_without_effect(tmp_path):
    """A trajectory's price moves the saving but never the caseload: with common random numbers
    its Sobol' indices on the caseload difference are exactly zero; the labour market's are not."""
    out = tmp_path / "s"
    result = invoke(
        "sensitivity",
        "focus",
        "broad",
        "--params",
        "work.elasticity_work,trajectories.basket.0.price_eur",
        "--reps",
        1,
        "--until",
        2025,
        "--seed",
        3,
        "--out",
        out,
        "--workers",
        2,
        "--sobol",
        4,
    )
    assert result.exit_code == 0, result.output
    indices = pd.read_csv(out / "sobol.csv").set_index(["metric", "parameter"])
    assert set(indices.index.get_level_values("metric")) == {"cumulative_net_saving_eur", "caseload_diff_2025"}
    assert (indices["points"] == 4 * (2 + 2)).all()
    price = indices.loc[("caseload_diff_2025", "trajectories.basket.0.price_eur")]
    assert price["first_order"] == 0.0 and price["total_order"] == 0.0
    assert indices.loc[("caseload_diff_2025", "work.elasticity_work"), "total_order"] > 0
    assert indices.loc[("cumulative_net_saving_eur", "trajectories.basket.0.price_eur"), "total_order"] > 0
    points = pd.read_csv(out / "sobol_samples.csv")
    assert len(points) == 16 and points["sample"].tolist() == list(range(16))
    assert (out / "sobol.png").stat().st_size > 10_000
    assert json.loads((out / "manifest.json").read_text())["sobol"] == 4


@pytest.mark.cli
def test_the_tables_and_the_manifest_report_the_values_that_ran(tmp_path):
    out = tmp_path / "s"
    result = invoke(
        "sensitivity",
        "focus",
        "broad",
        "--params",
        f"{COUNT},work.elasticity_work",
        "--spread",
        0.3,
        "--reps",
        1,
        "--until",
        2019,
        "--seed",
        3,
        "--workers",
        1,
        "--samples",
        4,
        "--sobol",
        2,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sensitivity.csv")
    count = table[table["parameter"] == COUNT].set_index("setting")
    assert (count.loc["low", "value_a"], count.loc["high", "value_a"]) == (3, 5)  # 2.8 and 5.2 ran as 3 and 5
    ranges = {r["parameter"]: r for r in json.loads((out / "manifest.json").read_text())["ranges"]}
    assert (ranges[COUNT]["low_a"], ranges[COUNT]["high_a"], ranges[COUNT]["value_a"]) == (3, 5, 4)
    assert ranges["work.elasticity_work"]["low_a"] == pytest.approx(0.7 * load("focus").scenario.work.elasticity_work)
    for name in ("global_samples.csv", "sobol_samples.csv"):
        points = pd.read_csv(out / name)
        for side in ("a", "b"):
            ran = points[f"value_{side}:{COUNT}"]
            assert (ran == [whole(3 + u * (5 - 3)) for u in points[COUNT]]).all(), name
            elasticity = points[f"value_{side}:work.elasticity_work"]
            low, high = ranges["work.elasticity_work"][f"low_{side}"], ranges["work.elasticity_work"][f"high_{side}"]
            assert elasticity.to_numpy() == pytest.approx(
                (low + points["work.elasticity_work"] * (high - low)).to_numpy()
            )
    assert set(pd.read_csv(out / "global.csv")["parameter"]) == {COUNT, "work.elasticity_work"}


@pytest.mark.cli
@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--params", "work.elasticity_work", "--until", 2016], ["--until: the headline is summed from 2019", "2016"]),
        (
            ["--params", "simulation.until_year"],
            ["--params: simulation.until_year: the simulated years are not varied"],
        ),
        (["--params", "simulation.start_year"], ["simulation.start_year", "--until"]),
        (
            ["--params", "chain.information_meetings_per_week"],
            ["chain.information_meetings_per_week: low and high are the same", "--spread"],
        ),
        (["--params", "simulation.burn_in_years"], ["low and high are the same (0", "value of 0"]),
        (["--params", "work.elasticity_work", "--samples", 2], ["--samples: give 3 (parameters + 2"]),
        (["--params", "work.elasticity_work", "--samples", 10**7], ["--samples", "up to 65536"]),
        (["--params", "work.elasticity_work", "--sobol", 2**40], ["--sobol", "up to 65536"]),
        (["--params", "work.elasticity_work,work.elasticity_work"], ["--params: work.elasticity_work: named twice"]),
        (["--params", "work"], ["--params: work: is dict, not a number"]),
        (["--params", "work.elasticity_work.x"], ["is a value, not a table"]),
        (["--params", "drivers.years.99"], ["--params: drivers.years.99", "give an index"]),
        (["--params", "nowhere.at_all"], ["--params: nowhere.at_all: unknown 'nowhere'"]),
        (["--params", " , "], ["--params: give at least one"]),
        (
            ["--params", "drivers.years.3", "--spread", 0.01],
            ["drivers.years.3=1993: not allowed in focus (drivers.years: ", "--spread"],
        ),
        (["--params", "region.initial_stock", "--spread", 0.01, "--sobol", 3], ["--sobol: give a power of 2"]),
    ],
)
def test_bad_sensitivity_inputs_are_one_line_before_anything_runs(tmp_path, args, fragments):
    out = tmp_path / "out"
    result = invoke("sensitivity", "focus", "broad", "--reps", 1, *args, "--out", out)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert list(tmp_path.iterdir()) == []


BROKEN = [
    (lambda text: b"region = [unclosed\n", ["malformed TOML"]),
    (lambda text: b"region = '\xff'\n", ["not UTF-8"]),
    (
        lambda text: re.sub(r"(?m)^upper = .*$", "upper = -1e9", text, count=1).encode(),
        ["parameters[0]", "below upper"],
    ),
    (
        lambda text: text.replace("[[parameters]]", "[[parameters]]\ncolour = 1", 1).encode(),
        ["parameters[0].colour", "unknown field"],
    ),
]


@pytest.mark.cli
@pytest.mark.parametrize(("edit", "fragments"), BROKEN)
def test_a_broken_calibration_file_is_one_error_line(tmp_path, monkeypatch, edit, fragments):
    shipped = (calibration.config.CALIBRATION_DIR / "leidschendam-voorburg.toml").read_text(encoding="utf-8")
    folder = tmp_path / "calibration"
    folder.mkdir()
    path = folder / "leidschendam-voorburg.toml"
    path.write_bytes(edit(shipped))
    monkeypatch.setattr(calibration.config, "CALIBRATION_DIR", folder)
    result = invoke(
        "sensitivity",
        "focus",
        "broad",
        "--params",
        "work.elasticity_work",
        "--calibration-bounds",
        "--reps",
        1,
        "--until",
        2019,
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not (tmp_path / "out").exists()
