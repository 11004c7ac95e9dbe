"""Calibration inputs: every bad value is refused when the file is loaded, naming the file and field,
and the CLI shows it as one line with exit 2 before any evaluation; a fit keeps to its budget; a
failed or interrupted evaluation is never disguised.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_calibration import GOOD, _tiny
from typer.testing import CliRunner

from calibration.config import CALIBRATION_DIR, SEED_MAX, CalibrationError, minimum_budget
from calibration.config import load as load_calibration
from calibration.fit import calibrate, load_checked
from calibration.objective import EvaluationFailed, Evaluator
from sim.files import MAX_INPUT_BYTES, is_slug

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _file(tmp_path, text: str):
    path = tmp_path / "cal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path, field: str, *words: str, check=load_calibration, **kwargs) -> CalibrationError:
    with pytest.raises(CalibrationError) as info:
        check(path, **kwargs)
    assert info.value.file == str(path) and info.value.field == field, str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def _parameter(
    path="work.elasticity_work", lower="0.0", upper="2.0", start="0.5", prior_mean="1.0", prior_sd="1.0", extra=""
) -> str:
    return (
        f'[[parameters]]\npath = "{path}"\nlower = {lower}\nupper = {upper}\nstart = {start}\n'
        f'prior_mean = {prior_mean}\nprior_sd = {prior_sd}\nsource = "test"\n{extra}'
    )


HEAD = 'region = "leidschendam-voorburg"\nfitted_file = "fitted-x.toml"\n'


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.unit
@FUZZ
@given(
    field=st.sampled_from(["lower", "upper", "start", "prior_mean", "prior_sd"]),
    value=st.sampled_from(["inf", "-inf", "nan", "+inf", "-nan"]),
)
def test_a_non_finite_parameter_value_is_refused_naming_it(tmp_path, field, value):
    path = _file(tmp_path, HEAD + _parameter(**{field: value}))
    _refused(path, f"parameters[0].{field}", "finite number")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("population_scale = nan", "population_scale"),
        ("polish_share = inf", "polish_share"),
        ("fd_step = nan", "fd_step"),
    ],
)
def test_a_non_finite_setting_is_refused_naming_it(tmp_path, line, field):
    _refused(_file(tmp_path, line + "\n" + GOOD), field, "finite number")


@pytest.mark.unit
def test_non_finite_targets_are_refused_naming_them(tmp_path):
    moment = '[[moments]]\nstatistic = "net_change"\nyears = [2019]\nvalue = inf\nsd = 1.0\nsource = "x"\n'
    _refused(_file(tmp_path, GOOD + moment), "moments[0].value", "finite number")
    _refused(_file(tmp_path, GOOD + "[stocks]\nrelative_sd = nan\n"), "stocks.relative_sd", "finite number")


@pytest.mark.unit
@FUZZ
@given(lower=st.floats(-0.5, 1.5, allow_nan=False), width=st.floats(0.01, 1.0))
def test_bounds_of_a_share_are_refused_when_loaded_iff_the_scenario_refuses_them(tmp_path, lower, width):
    upper = lower + width
    text = HEAD + _parameter("work.temporary_share", lower=repr(lower), upper=repr(upper), start=repr(lower))
    path = _file(tmp_path, text)
    if lower >= 0.0 and upper <= 0.52:  # 0.45 full-time + 0.03 self-employed leave 0.52 for temporary jobs
        load_checked(path)
        return
    bad = lower if not 0.0 <= lower <= 0.52 else upper  # the lower bound is checked first
    which = "lower" if bad == lower else "upper"
    error = _refused(path, f"parameters[0].{which}", "work.temporary_share", check=load_checked)
    allowed = "greater than or equal to 0" if bad < 0 else ("less than or equal to 1" if bad > 1 else "at most 1")
    assert allowed in error.message


@pytest.mark.unit
def test_a_count_is_checked_at_the_simulated_size(tmp_path):
    text = HEAD + _parameter("inflow.base_notifications_per_year", lower="-10.0", upper="2000.0", start="900.0")
    _refused(_file(tmp_path, text), "parameters[0].lower", "-10.0", "greater than or equal to 0", check=load_checked)


@pytest.mark.unit
def test_whether_a_parameter_scales_with_the_population_follows_from_the_schema(tmp_path):
    text = HEAD + _parameter("inflow.base_notifications_per_year") + _parameter("work.elasticity_work")
    calibration, _ = load_calibration(_file(tmp_path, text))
    assert [p.scales_with_population for p in calibration.parameters] == [True, False]
    agreeing = HEAD + _parameter("policies.focus.work_consultants", extra="scales_with_population = true\n")
    assert load_calibration(_file(tmp_path, agreeing))[0].parameters[0].scales_with_population


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "given"), [("inflow.base_notifications_per_year", "false"), ("work.elasticity_work", "true")]
)
def test_a_scales_with_population_flag_the_schema_contradicts_is_refused(tmp_path, path, given):
    text = HEAD + _parameter(path, extra=f"scales_with_population = {given}\n")
    _refused(
        _file(tmp_path, text),
        "parameters[0].scales_with_population",
        path,
        "sim/parameters.py marks the counts",
        f"got {given}",
    )


@pytest.mark.unit
def test_bounds_allowed_alone_but_not_together_are_refused(tmp_path):
    text = (
        HEAD
        + _parameter("work.fulltime_share", "0.3", "0.7", "0.45")
        + _parameter("work.temporary_share", "0.1", "0.5", "0.25")
    )
    _refused(_file(tmp_path, text), "parameters", "upper values together", "at most 1", check=load_checked)


@pytest.mark.cli
def test_cli_refuses_a_bound_the_scenario_rejects_before_any_evaluation(tmp_path, monkeypatch):
    monkeypatch.setattr(Evaluator, "_run", lambda *a, **k: pytest.fail("a model evaluation ran"))
    path = _file(tmp_path, HEAD + _parameter("work.temporary_share", "0.1", "1.5", "0.25"))
    result = _cli("--region", str(path), "--out", str(tmp_path / "out"))
    line = _one_error_line(result, 2)
    assert line.startswith(f"error: {path}: parameters[0].upper: 1.5 is not allowed for work.temporary_share: ")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.state").exists()


# -- seed and budget ----------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("seed", "ok"), [(0, True), (SEED_MAX, True), (SEED_MAX + 1, False), (-1, False)])
def test_the_seed_is_a_32_bit_number_in_the_file_and_on_the_command_line(tmp_path, seed, ok):
    path = _file(tmp_path, f"seed = {seed}\n" + GOOD)
    if ok:
        assert load_calibration(path)[0].seed == seed
        assert load_calibration(_file(tmp_path, GOOD), {"seed": seed})[0].seed == seed
        return
    _refused(path, "seed", str(seed))
    _refused(_file(tmp_path, GOOD), "--seed", str(seed), overrides={"seed": seed})


@pytest.mark.unit
@FUZZ
@given(popsize=st.integers(2, 6), n=st.integers(1, 4), budget=st.integers(4, 80))
def test_a_budget_below_the_first_population_and_polish_is_refused(tmp_path, popsize, n, budget):
    params = "".join(
        _parameter(path)
        for path in [
            "work.elasticity_work",
            "work.other_exit_per_month",
            "inflow.elasticity_inflow",
            "contact.contact_effect_max",
        ][:n]
    )
    params = params.replace("upper = 2.0", "upper = 0.5").replace("start = 0.5", "start = 0.1")
    path = _file(tmp_path, HEAD + f"budget = {budget}\npopsize = {popsize}\n" + params)
    least = max(5, popsize * n) + 4 * n + 1
    assert minimum_budget(popsize, n) == least
    if budget >= least:
        assert load_calibration(path)[0].budget == budget
        return
    _refused(path, "budget", f"at least {least} ", f"got {budget}")
    _refused(path, "--budget", f"at least {least} ", overrides={"budget": budget})


@pytest.mark.cli
def test_cli_budget_30_names_the_minimum_for_the_default_file():
    shipped = load_calibration(CALIBRATION_DIR / "leidschendam-voorburg.toml")[0]
    n = len(shipped.parameters)
    result = _cli("--budget", "30", "--out", "/nonexistent/out")
    least = minimum_budget(shipped.popsize, n)
    assert f"--budget: at least {least} for {n} free parameters" in _one_error_line(result, 2)


@pytest.mark.unit
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(popsize=st.integers(2, 5), share=st.floats(0.0, 0.95), extra=st.integers(0, 14))
def test_a_fit_never_runs_more_evaluations_than_its_budget(tmp_path_factory, popsize, share, extra):
    budget = minimum_budget(popsize, 1) + extra
    calibration = _tiny(popsize=popsize, polish_share=share, budget=budget)
    seen: list[int] = []
    fit = calibrate(
        calibration, tmp_path_factory.mktemp("state"), on_evaluation=lambda _ev, e: seen.append(len(e.evaluations))
    )
    assert fit.evaluations_new <= fit.evaluations <= budget
    assert seen == list(range(1, fit.evaluations + 1))  # the progress count is of distinct evaluations


# -- names that become paths, and the file itself --------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("name", ["../escape.toml", "/tmp/abs.toml", "a/b.toml", ".hidden.toml", "x.txt", "fitted", ""])
def test_fitted_file_must_be_a_slug_ending_in_toml(tmp_path, name):
    _refused(_file(tmp_path, GOOD.replace('"fitted-x.toml"', repr(name).replace("'", '"'))), "fitted_file")


@pytest.mark.unit
@FUZZ
@given(name=st.text(st.characters(codec="ascii"), max_size=12) | st.sampled_from(["x.toml", "a..b.toml", "-x.toml"]))
def test_fitted_file_is_accepted_iff_it_is_a_toml_slug(tmp_path, name):
    raw_toml = GOOD.replace('fitted_file = "fitted-x.toml"', "fitted_file = " + _toml_string(name))
    path = _file(tmp_path, raw_toml)
    if is_slug(name) and name.endswith(".toml"):
        assert load_calibration(path)[0].fitted_file == name
    else:
        _refused(path, "fitted_file")


def _toml_string(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c in " ._-/" else f"\\u{ord(c):04x}" for c in text) + '"'


@pytest.mark.unit
@pytest.mark.parametrize("region", ["../up", "a/b", "", "with space", "x" * 81])
def test_region_must_be_a_slug(tmp_path, region):
    _refused(_file(tmp_path, GOOD.replace('"leidschendam-voorburg"', _toml_string(region))), "region")


@pytest.mark.unit
def test_an_unknown_region_scenario_or_year_names_its_field(tmp_path):
    _refused(
        _file(tmp_path, GOOD.replace('"leidschendam-voorburg"', '"atlantis"')),
        "region",
        "no observed caseload",
        check=load_checked,
    )
    _refused(_file(tmp_path, 'scenario = "nope"\n' + GOOD), "scenario", "nope", check=load_checked)
    _refused(
        _file(tmp_path, GOOD),
        "--fit-years",
        "observed: 2013-2019",
        check=load_checked,
        overrides={"fit_years": (2013, 2030)},
    )


@pytest.mark.unit
def test_a_fitted_file_that_is_not_one_is_refused_when_loaded(tmp_path):
    # netherlands.toml is a calibration file in calibration/: keeping "its" values would fail after the fit
    path = _file(tmp_path, GOOD.replace('"fitted-x.toml"', '"netherlands.toml"'))
    _refused(path, "fitted_file", "not a fitted parameter file", check=load_checked)


@pytest.mark.unit
def test_the_file_is_read_as_a_bounded_regular_file(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    _refused(fifo, "", "not a regular file")  # and does not wait for a writer
    big = _file(tmp_path, GOOD + "#" * MAX_INPUT_BYTES)
    _refused(big, "", "at most")
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    _refused(folder, "", "not a regular file")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe" + GOOD.encode())
    _refused(binary, "", "not UTF-8")


# -- failures and interrupts --------------------------------------------------------------------


class _Yields:
    """An executor that answers every task with one given result (a failure or an interrupt)."""

    def __init__(self, result=None, raises=None) -> None:
        self.result, self.raises = result, raises

    def map_unordered(self, fn, items):
        if self.raises is not None:
            raise self.raises
        for i, _ in enumerate(items):
            yield i, self.result

    def close(self) -> None:
        pass


@pytest.mark.unit
@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3)])
def test_an_interrupt_from_the_executor_is_raised_as_it_is(tmp_path, interrupt):
    for executor in (_Yields(result=interrupt), _Yields(raises=interrupt)):
        with pytest.raises(type(interrupt)):
            calibrate(_tiny(), tmp_path / "state", executor)


@pytest.mark.unit
@pytest.mark.parametrize("exc", [TypeError("executor broke"), ValueError("bad value"), OSError("lost worker")])
def test_an_executor_failure_is_raised_as_it_is_not_as_an_optimiser_error(tmp_path, exc):
    # differential_evolution would turn a TypeError or ValueError into a RuntimeError about its map
    with pytest.raises(type(exc), match=re.escape(str(exc))):
        calibrate(_tiny(), tmp_path / "state", _Yields(raises=exc))


@pytest.mark.unit
def test_a_failed_replication_is_one_line_naming_where(tmp_path):
    with pytest.raises(EvaluationFailed) as info:
        calibrate(_tiny(), tmp_path / "state", _Yields(result=ValueError("boom\n  at line 2")))
    message = str(info.value)
    assert "\n" not in message and message.startswith("replication 0 (seed 5) failed at [")
    assert message.endswith("ValueError: boom at line 2")


@pytest.mark.cli
def test_cli_a_failed_replication_is_one_error_line_with_exit_1(tmp_path, monkeypatch):
    import calibration.objective as objective

    def broken(_task):
        raise ValueError("the model broke")

    monkeypatch.setattr(objective, "run_task", broken)
    path = _file(tmp_path, _tiny_file())
    result = _cli("--region", str(path), "--out", str(tmp_path / "out"))
    line = _one_error_line(result, 1)
    assert "failed at [" in line and line.endswith(
        f"ValueError: the model broke; the evaluations before it are kept in {tmp_path / 'out.state'}"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.cli
def test_cli_an_interrupt_is_exit_130_without_a_traceback(tmp_path, monkeypatch):
    import calibration.objective as objective

    def interrupted(_task):
        raise KeyboardInterrupt

    monkeypatch.setattr(objective, "run_task", interrupted)
    result = _cli("--region", str(_file(tmp_path, _tiny_file())), "--out", str(tmp_path / "out"))
    assert result.exit_code == 130 and "error: interrupted; the evaluations so far are kept in" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def _tiny_file() -> str:
    return (
        HEAD
        + 'fit_years = "2013-2015"\nbudget = 12\nreps = 1\nseed = 5\nbootstrap = 10\nband_draws = 0\n'
        + _parameter("inflow.base_notifications_per_year", "500.0", "1500.0", "800.0", "900.0", "500.0")
    )


def _cli(*args):
    from cli import app

    return CliRunner().invoke(app, ["calibrate", "--workers", "1", *args])


def _one_error_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return errors[0]


@pytest.mark.cli
def test_cli_progress_and_report_give_the_same_count_and_best_and_the_report_plots_the_trace(tmp_path):
    import json

    import pandas as pd

    out = tmp_path / "out"
    result = _cli("--region", str(_file(tmp_path, _tiny_file())), "--out", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    progress = [line for line in result.output.splitlines() if line.startswith("calibrate: ")]
    assert progress, result.output  # not a terminal: plain lines
    evaluations, objective = manifest["evaluations"], manifest["objective"]
    assert progress[-1].startswith(f"calibrate: {evaluations:,}/12 evaluations")
    assert f"best objective {objective:,.2f}," in progress[-1]
    assert f"{evaluations:,} evaluations in" in result.output and f"best objective {objective:,.2f}" in result.output
    trace = pd.read_csv(out / "convergence.csv")
    assert list(trace["evaluation"]) == list(range(1, evaluations + 1))
    assert trace["best_so_far"].iloc[-1] == pytest.approx(objective)
    assert trace["best_so_far"].is_monotonic_decreasing
    assert trace["phase"].iloc[-1] == "Jacobian at the optimum"
    report = (out / "report.md").read_text()
    assert "## Convergence" in report and "(convergence.png)" in report
    assert (out / "convergence.png").stat().st_size > 5_000


@pytest.mark.cli
def test_cli_quiet_calibration_shows_no_progress(tmp_path):
    from cli import app

    args = ["-q", "calibrate", "--workers", "1", "--region", str(_file(tmp_path, _tiny_file()))]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert not [line for line in result.output.splitlines() if line.startswith(("calibrate: ", "note: "))]
