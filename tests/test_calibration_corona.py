"""Calibration of flows between two years (calibration/targets.py) and the corona shock's fit
(calibration/corona-netherlands.toml): the change statistics on a hand-made table, the checks of a
change moment, stock targets that stop at `stocks.last_year`, and the corona file loaded and fitted
end to end at a tiny budget into an includable fitted file."""

from __future__ import annotations

import pandas as pd
import pytest

from calibration.config import Calibration, CalibrationError
from calibration.config import validate as validate_calibration
from calibration.fit import load_checked
from calibration.pipeline import run_calibration
from calibration.report import write_outputs
from calibration.targets import TargetSet
from sim.replications import SerialExecutor
from sim.scenario import load

pytestmark = pytest.mark.unit

PARAMETER = {
    "path": "work.elasticity_work",
    "lower": 0.0,
    "upper": 2.0,
    "start": 0.5,
    "prior_mean": 1.0,
    "prior_sd": 1.0,
    "source": "test",
}
INFLOW_2020 = {
    "statistic": "inflow_change",
    "years": [2019, 2020],
    "value": 0.22,
    "sd": 0.02,
    "source": "test",
}
OUTFLOW_Q2 = {**INFLOW_2020, "statistic": "outflow_change", "quarter": 2, "value": -0.32}


def _calibration(moments: list[dict], **over) -> Calibration:
    raw = {
        "region": "netherlands",
        "fitted_file": "fitted-test.toml",
        "fit_years": (2013, 2020),
        "parameters": [PARAMETER],
        "moments": moments,
        "stocks": {"last_year": 2019},
        **over,
    }
    return validate_calibration(raw, "cal.toml")


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One replication's yearly and monthly tables, 2013-2020: 100 in and 110 out a month, except
    2020: 130 in a month, and 60 out a month in April-June."""
    months = []
    for year in range(2014, 2021):
        for month in range(1, 13):
            inflow = 130 if year == 2020 else 100
            outflow = 60 if year == 2020 and 4 <= month <= 6 else 110
            months.append({"replication": 0, "year": year, "month": month, "inflow": inflow, "outflow": outflow})
    monthly = pd.DataFrame(months)
    sums = monthly.groupby("year")[["inflow", "outflow"]].sum()
    stock = [1000]
    for year in sums.index:
        stock.append(stock[-1] + sums.loc[year, "inflow"] - sums.loc[year, "outflow"])
    yearly = pd.DataFrame(
        {
            "year": range(2013, 2021),
            "policy": "focus",
            "caseload_december": stock,
            "inflow": [None, *sums["inflow"]],
            "outflow": [None, *sums["outflow"]],
        }
    )
    return yearly, monthly


def test_the_change_statistics_compare_years_and_quarters_from_the_monthly_table():
    calibration = _calibration([INFLOW_2020, OUTFLOW_Q2, {**OUTFLOW_Q2, "quarter": None, "value": -0.1}])
    yearly, monthly = _tables()
    observed = pd.Series(yearly["caseload_december"].to_numpy(float), index=yearly["year"]).loc[:2019]
    targets = TargetSet(calibration, calibration.fit_years, observed)
    # December stocks to 2019 only: 2020 has no observed stock and is run for its flows
    assert targets.names == [
        *(f"caseload {t}" for t in range(2014, 2020)),
        "inflow_change 2019-2020",
        "outflow_change Q2 2019-2020",
        "outflow_change 2019-2020",
    ]
    assert [t.kind for t in targets.targets[-3:]] == ["flow"] * 3
    simulated = targets.simulated(yearly, monthly)
    assert simulated[:6].tolist() == observed.loc[2014:2019].tolist()
    assert simulated[6] == pytest.approx(130 / 100 - 1)
    assert simulated[7] == pytest.approx(60 / 110 - 1)  # Q2 2020 against Q2 2019
    assert simulated[8] == pytest.approx((9 * 110 + 3 * 60) / (12 * 110) - 1)


def test_a_quarters_change_needs_the_monthly_table():
    yearly, _ = _tables()
    observed = pd.Series(yearly["caseload_december"].to_numpy(float), index=yearly["year"]).loc[:2019]
    targets = TargetSet(_calibration([OUTFLOW_Q2]), (2013, 2020), observed)
    with pytest.raises(ValueError, match="monthly table"):
        targets.simulated(yearly)


def test_without_stocks_last_year_a_fitted_year_without_an_observed_stock_is_refused():
    yearly, _ = _tables()
    observed = pd.Series(yearly["caseload_december"].to_numpy(float), index=yearly["year"]).loc[:2019]
    calibration = _calibration([INFLOW_2020], stocks={})
    with pytest.raises(KeyError, match="in 2020; observed: 2013-2019 .stocks.last_year"):
        TargetSet(calibration, (2013, 2020), observed)


@pytest.mark.parametrize(
    ("moment", "field", "words"),
    [
        ({**INFLOW_2020, "years": [2020]}, "moments[0].years", ["compares two years", "[BASE, YEAR]"]),
        ({**INFLOW_2020, "years": [2020, 2019]}, "moments[0].years", ["BASE first", "[2020, 2019]"]),
        ({**OUTFLOW_Q2, "quarter": 5}, "moments[0].quarter", ["less than or equal to 4"]),
        ({**INFLOW_2020, "statistic": "net_change", "quarter": 2}, "moments[0].quarter", ["only for inflow_change"]),
    ],
)
def test_a_bad_change_moment_names_its_field(moment, field, words):
    with pytest.raises(CalibrationError) as info:
        _calibration([moment])
    assert info.value.field == field and "\n" not in str(info.value)
    for word in words:
        assert word in info.value.message


def test_the_corona_fit_runs_end_to_end_into_a_fitted_file_the_scenario_includes(tmp_path):
    # the shipped file at a tiny size and budget: checked against its scenario and data as the CLI does
    tiny = {"budget": 17, "reps": 1, "population_scale": 0.002, "bootstrap": 20, "band_draws": 0}
    calibration, _ = load_checked("corona-netherlands", tiny)
    assert [p.path for p in calibration.parameters] == [
        "shocks.corona.inflow_multiplier",
        "shocks.corona-lockdown.work_multiplier",
    ]
    result = run_calibration(calibration, tmp_path / "state", SerialExecutor())
    names = result.fit.problem.targets.names
    assert names[-2:] == ["inflow_change 2019-2020", "outflow_change Q2 2019-2020"]
    assert "caseload 2020" not in names and result.fit.evaluations <= 17
    out = write_outputs(result, tmp_path / "out", "test")
    fitted = out / "fitted-corona.toml"
    assert "inflow_change 2019-2020, outflow_change Q2 2019-2020" in fitted.read_text().splitlines()[0]
    scenario = tmp_path / "uses-fit.toml"
    scenario.write_text(f'include = ["national-corona", "{fitted}"]\n')
    shocks = load(scenario).scenario.shocks
    inflow, work = result.fit.theta
    assert shocks["corona"].inflow_multiplier == pytest.approx(inflow, rel=1e-5)
    assert shocks["corona-lockdown"].work_multiplier == pytest.approx(work, rel=1e-5)
    # the shocks' timing stays the scenario's
    assert shocks["corona-lockdown"].start == load("national-corona").scenario.shocks["corona-lockdown"].start
