"""Sensitivity inputs: counts run at rounded values and every table says which; bad options,
parameters and calibration files are one error line, exit 2, before anything runs."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import calibration.config
from cli import app
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


@given(st.floats(-1e12, 1e12))
def test_whole_rounds_to_the_nearest_and_halves_away_from_zero(x):
    n = whole(x)
    assert isinstance(n, int) and abs(n - x) <= 0.5
    if abs(n - x) == 0.5:
        assert abs(n) > abs(x)


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


def test_a_region_without_a_calibration_file_falls_back_to_the_spread(pair, tmp_path, monkeypatch):
    monkeypatch.setattr(calibration.config, "CALIBRATION_DIR", tmp_path)
    a, b = pair
    ranges = parameter_ranges(
        a, b, ["work.elasticity_work"], 0.25, calibration.config.fitted_bounds(a.region.name)
    ).iloc[0]
    assert ranges["source"] == "value x (1 +- 0.25)"
    assert ranges["low_a"] == pytest.approx(0.75 * a.work.elasticity_work)


def test_a_parameter_outside_the_schema_names_the_setting_and_scenario(pair):
    a, b = pair
    with pytest.raises(
        SensitivityError, match=r"^--params: work.fulltime_share=.*: not allowed in focus \(work.fulltime_share: "
    ):
        parameter_ranges(a, b, ["work.fulltime_share"], 0.99)
    assert math.isclose(
        parameter_ranges(a, b, ["work.fulltime_share"], 0.1).iloc[0]["high_a"], 1.1 * a.work.fulltime_share
    )
