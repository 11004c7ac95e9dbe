"""Calibration: synthetic truth recovery, resume, bad calibration files, the stock-flow yardstick.

Small on purpose (a few seconds each): short horizons, one or two free parameters, small
budgets, fixed seeds.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from calibration import stockflow
from calibration.config import Calibration, CalibrationError, check_paths
from calibration.config import load as load_calibration
from calibration.fit import calibrate, make_problem
from calibration.store import EvaluationLog
from calibration.uncertainty import bootstrap
from sim.replications import SerialExecutor, run_replications
from sim.scenario import load, with_overrides


def _calibration(**over) -> Calibration:
    raw = {
        "region": "leidschendam-voorburg",
        "scenario": "baseline",
        "fit_years": (2013, 2016),
        "budget": 24,
        "reps": 2,
        "seed": 11,
        "popsize": 4,
        "polish_share": 0.5,
        "bootstrap": 400,
        "band_draws": 0,
        "fitted_file": "fitted-test.toml",
        "parameters": [
            {
                "path": "inflow.base_notifications_per_year",
                "lower": 500.0,
                "upper": 1500.0,
                "start": 800.0,
                "prior_mean": 1000.0,
                "prior_sd": 2000.0,
                "source": "test",
            },
            {
                "path": "work.other_exit_per_month",
                "lower": 0.0,
                "upper": 0.02,
                "start": 0.004,
                "prior_mean": 0.01,
                "prior_sd": 0.05,
                "source": "test",
            },
        ],
    }
    raw.update(over)
    return Calibration.model_validate(raw)


def _synthetic_observed(truth: dict, until: int, reps: int, seed: int) -> tuple[pd.Series, float]:
    """The model's own mean December caseload at known parameters, with seeds the fit never uses, and
    its inflow as a share of the mean stock over the years after the start."""
    scenario = with_overrides(load("baseline").scenario, {**truth, "simulation": {"until_year": until}})
    yearly = run_replications(scenario, seed, reps, SerialExecutor()).yearly
    shares = []
    for _, rep in yearly.groupby("replication"):
        y = rep.set_index("year")
        years = list(range(2014, until + 1))
        mean_stock = sum((y.loc[t - 1, "caseload_december"] + y.loc[t, "caseload_december"]) / 2 for t in years)
        shares.append(float(y.loc[years, "inflow"].sum()) / mean_stock)
    return yearly.groupby("year")["caseload_december"].mean().astype(float), float(np.mean(shares))


@pytest.mark.theory
def test_synthetic_truth_is_recovered_within_the_reported_intervals(tmp_path):
    truth = {"inflow": {"base_notifications_per_year": 1050.0}, "work": {"other_exit_per_month": 0.009}}
    observed, inflow_share = _synthetic_observed(truth, 2016, reps=4, seed=987)
    # stocks alone trade inflow against exits along a ridge; the inflow share (a flow, as in the
    # real calibration's secondary moments) separates them
    calibration = _calibration(
        moments=[
            {
                "statistic": "inflow_share_of_stock",
                "years": [2014, 2015, 2016],
                "value": inflow_share,
                "sd": 0.01,
                "source": "synthetic truth",
            }
        ]
    )
    fit = calibrate(calibration, tmp_path, SerialExecutor(), observed=observed)
    unc = bootstrap(fit, calibration.bootstrap, calibration.seed)
    table = unc.table.set_index("parameter")
    known = {"inflow.base_notifications_per_year": 1050.0, "work.other_exit_per_month": 0.009}
    for name, value in known.items():
        low, high = table.loc[name, "low"], table.loc[name, "high"]
        assert low <= value <= high, (name, value, low, high)
        span = table.loc[name, "upper_bound"] - table.loc[name, "lower_bound"]
        assert high - low < 0.8 * span, f"{name}: interval {low}-{high} says nothing"
    # the fit moved from the start towards the truth
    start = np.array([800.0, 0.004])
    truth_v = np.array(list(known.values()))
    scale = np.array([1000.0, 0.02])
    assert np.abs((fit.theta - truth_v) / scale).sum() < np.abs((start - truth_v) / scale).sum()


def _tiny(**over) -> Calibration:
    return _calibration(
        **{
            "fit_years": (2013, 2015),
            "reps": 1,
            "budget": 12,
            "seed": 5,
            "parameters": [
                {
                    "path": "inflow.base_notifications_per_year",
                    "lower": 500.0,
                    "upper": 1500.0,
                    "start": 800.0,
                    "prior_mean": 900.0,
                    "prior_sd": 500.0,
                    "source": "test",
                }
            ],
            **over,
        }
    )


class _Stop(KeyboardInterrupt):
    pass


@pytest.mark.unit
def test_resume_after_interruption_gives_the_uninterrupted_result(tmp_path):
    calibration = _tiny()
    whole = calibrate(calibration, tmp_path / "whole", SerialExecutor())

    def stop_after_five(_ev, evaluator):
        if evaluator.new_count >= 5:
            raise _Stop

    with pytest.raises(_Stop):
        calibrate(calibration, tmp_path / "resumed", SerialExecutor(), on_evaluation=stop_after_five)
    log_files = list((tmp_path / "resumed").glob("*.jsonl"))
    assert len(log_files) == 1 and len(EvaluationLog(log_files[0])) == 5
    # a kill in the middle of a write leaves a torn last line: it is ignored, not fatal
    with log_files[0].open("a") as fh:
        fh.write('{"key": "torn')
    counts = {}

    def count(_ev, evaluator):
        counts["cached"], counts["new"] = evaluator.cached_count, evaluator.new_count

    resumed = calibrate(calibration, tmp_path / "resumed", SerialExecutor(), on_evaluation=count)
    assert counts["cached"] >= 5 and counts["new"] < whole.evaluations_new
    np.testing.assert_array_equal(resumed.theta, whole.theta)
    assert resumed.best.objective == whole.best.objective
    np.testing.assert_array_equal(resumed.jacobian, whole.jacobian)


def _write(tmp_path, text: str):
    path = tmp_path / "cal.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
region = "leidschendam-voorburg"
fitted_file = "fitted-x.toml"
[[parameters]]
path = "work.elasticity_work"
lower = 0.0
upper = 2.0
start = 0.5
prior_mean = 1.0
prior_sd = 1.0
source = "test"
"""


def _top(line: str) -> str:
    """GOOD with a top-level line added (before the first table)."""
    return line + "\n" + GOOD


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (_top("budgett = 10"), "budgett", ["unknown field", "Did you mean 'budget'"]),
        (GOOD + "scource = 'x'\n", "parameters[0].scource", ["unknown field", "Did you mean 'source'"]),
        (_top("reps = 0"), "reps", ["greater than or equal to 1"]),
        (GOOD.replace("lower = 0.0", "lower = 3.0"), "parameters[0]", ["lower (3.0) must be below upper"]),
        (GOOD.replace("start = 0.5", "start = 9.0"), "parameters[0]", ["start (9.0) must lie within"]),
        (_top('fit_years = "2017-2013"'), "fit_years", ["FIRST-LAST"]),
        (
            GOOD + '[[moments]]\nstatistic = "net_chnage"\nyears = [2019]\nvalue = 1.0\nsd = 1.0\nsource = "x"\n',
            "moments[0].statistic",
            ["allowed", "net_change"],
        ),
        (GOOD.replace("prior_sd = 1.0", "prior_sd = -1.0"), "parameters[0].prior_sd", ["greater than 0"]),
        (GOOD.replace("upper = 2.0", "upper = inf"), "parameters[0].upper", ["finite number"]),
        (_top("budget = 9"), "budget", ["at least 10 for 1 free parameter with popsize 4", "got 9"]),
        (GOOD.replace('"leidschendam-voorburg"', '"../x"'), "region", ["letters, digits", "got '../x'"]),
        (GOOD.replace("[[parameters]]", "[[parameters]\n"), "", ["malformed TOML"]),
    ],
)
def test_bad_calibration_files_name_file_field_and_what_is_allowed(tmp_path, text, field, words):
    path = _write(tmp_path, text)
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


@pytest.mark.unit
def test_a_misspelt_parameter_path_names_the_allowed_fields(tmp_path):
    calibration, path = load_calibration(_write(tmp_path, GOOD.replace("elasticity_work", "elasticty_work")))
    problem = make_problem(calibration)
    with pytest.raises(CalibrationError) as info:
        check_paths(calibration, problem.base, str(path))
    assert "Did you mean 'elasticity_work'" in str(info.value) and info.value.field == "parameters[0].path"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("work.base_work_per_month", ["is dict, not a number"]),
        ("region.name", ["is str ('leidschendam-voorburg'), not a number"]),
        ("drivers.years.0", ["drivers.years is a list, not a table"]),
        ("work.elasticity_work.x", ["work.elasticity_work is a value, not a table"]),
    ],
)
def test_a_parameter_path_that_is_not_a_number_in_a_table_says_what_it_is(tmp_path, path, words):
    calibration, file = load_calibration(_write(tmp_path, GOOD.replace("work.elasticity_work", path)))
    with pytest.raises(CalibrationError) as info:
        check_paths(calibration, load("baseline").scenario, str(file))
    assert info.value.field == "parameters[0].path" and info.value.message.startswith(f"{path!r}: ")
    for word in words:
        assert word in info.value.message


@pytest.mark.cli
def test_cli_rejects_a_bad_calibration_file_with_one_line_and_exit_2(tmp_path):
    from cli import app

    path = _write(tmp_path, _top("budgett = 10"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["calibrate", "--region", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "budgett: unknown field" in result.output and "Traceback" not in result.output
    assert not out.exists()
    bad_years = CliRunner().invoke(app, ["calibrate", "--fit-years", "2013", "--out", str(out)])
    assert bad_years.exit_code == 2 and "--fit-years" in bad_years.output


@pytest.mark.unit
def test_shipped_calibration_files_are_valid():
    from calibration.fit import load_checked

    for name in ("leidschendam-voorburg", "netherlands", "corona-netherlands"):
        # paths, bounds the scenario allows, observed years, the fitted file kept from
        calibration, _ = load_checked(name)
        assert json.dumps(calibration.model_dump(mode="json"))


@pytest.mark.unit
def test_stockflow_yardstick_recovers_its_own_synthetic_truth():
    years = list(range(2013, 2020))
    unemployment = pd.Series([7.3, 7.4, 6.9, 6.0, 4.9, 3.8, 3.4], index=years)
    truth = np.array([0.3, 0.8, 0.27, 0.6])
    sim = stockflow.simulate(truth, 1660.0, years[1:], unemployment, 7.3)
    observed = pd.concat([pd.Series({2013: 1660.0}), sim["stock"]])
    shares = [
        (kind, 2017, float(sim.loc[2017, kind] / sim.loc[2017, "mean_stock"]), 0.01) for kind in ("inflow", "outflow")
    ]
    fit = stockflow.fit(observed, unemployment, (2013, 2019), shares)
    np.testing.assert_allclose(list(fit.params.values()), truth, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fit.path.to_numpy(), observed.to_numpy(), rtol=1e-6)
    # fitted on 2013-2017 only, it still predicts its own 2018-2019 (the data follow the model exactly)
    short = stockflow.fit(observed, unemployment, (2013, 2017), shares, until_year=2019)
    np.testing.assert_allclose(
        short.path.loc[[2018, 2019]].to_numpy(), observed.loc[[2018, 2019]].to_numpy(), rtol=1e-3
    )


@pytest.mark.cli
def test_outputs_are_complete_and_the_fitted_file_is_includable(tmp_path):
    from calibration.pipeline import run_calibration
    from calibration.report import write_outputs

    calibration = _tiny(band_draws=2, bootstrap=50, fitted_file="fitted-leidschendam-voorburg.toml")
    result = run_calibration(calibration, tmp_path / "state", SerialExecutor())
    # fitted on 2013-2015, predicted to the last observed year
    assert list(result.path.index) == list(range(2013, 2020))
    assert result.path.loc[2016:, "in_sample"].eq(False).all()
    assert result.path[["simulated", "stockflow", "low", "high"]].notna().all().all()
    out = write_outputs(result, tmp_path / "out", "test")
    for name in (
        "report.md",
        "fit.png",
        "fitted-leidschendam-voorburg.toml",
        "caseload.csv",
        "estimates.csv",
        "manifest.json",
    ):
        assert (out / name).stat().st_size > 0, name
    report = (out / "report.md").read_text()
    assert "out of sample" in report and "Weakly identified" in report
    scenario = tmp_path / "uses-fit.toml"
    scenario.write_text(f'include = ["baseline", "{out / "fitted-leidschendam-voorburg.toml"}"]\n')
    loaded = load(scenario).scenario
    assert loaded.inflow.base_notifications_per_year == pytest.approx(result.fit.theta[0], rel=1e-5)
    # written whole or not at all: an existing folder is not replaced without force
    from sim.output import OutputError

    with pytest.raises(OutputError):
        write_outputs(result, tmp_path / "out", "test")
