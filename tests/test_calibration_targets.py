"""Targets of a calibration (calibration/targets.py): the secondary statistics on hand-made tables,
and 'at most' targets that only count a value above them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.config import Moment
from calibration.targets import TargetSet, _stat
from sim.consultants import trial_job_finding_gain
from sim.scenario import load

pytestmark = pytest.mark.unit

YEARS = [2014, 2015, 2016]


def _yearly() -> pd.DataFrame:
    y = pd.DataFrame(index=pd.Index([2013, *YEARS], name="year"))
    y["caseload_december"] = [1000.0, 1010.0, 1020.0, 1030.0]
    y["outflow"] = [np.nan, 200.0, 300.0, 500.0]
    y["leavers_back_6m"] = [np.nan, 30.0, 40.0, 80.0]
    y["leavers_back_12m"] = [np.nan, 40.0, 70.0, 100.0]
    y["leavers_back_24m"] = [np.nan, 60.0, 90.0, 150.0]
    for column, values in {
        "outflow_work_fulltime": [60.0, 90.0, 150.0],
        "outflow_work_temporary": [30.0, 40.0, 60.0],
        "outflow_self_employment": [5.0, 5.0, 10.0],
        "outflow_education": [5.0, 15.0, 30.0],
        "leavers_work_education_back_6m": [10.0, 12.0, 20.0],
        "leavers_salaried_back_18m": [9.0, 13.0, 21.0],
        "placements_category_1": [80.0, 100.0, 120.0],
        "placements_category_2": [10.0, 20.0, 30.0],
        "placements_category_3": [0.0, 5.0, 5.0],
    }.items():
        y[column] = [np.nan, *values]
    return y


def _moment(statistic: str, years=YEARS, **extra) -> Moment:
    return Moment(statistic=statistic, years=years, value=0.1, sd=0.01, source="test", **extra)


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [
        ("back_within_6m", 150 / 1000),
        ("back_within_12m", 210 / 1000),
        ("back_within_24m", 300 / 1000),
        ("work_education_back_within_6m", 42 / 500),
        ("salaried_back_within_18m", 43 / 430),
        ("placements", (90 + 125 + 155) / 3 / 0.5),
    ],
)
def test_return_and_placement_statistics_on_a_hand_made_table(statistic, expected):
    assert _stat(_moment(statistic), _yearly(), 0.5, None, None) == pytest.approx(expected)


def test_placements_in_the_first_half_come_from_the_monthly_table():
    monthly = pd.DataFrame({"year": [2015] * 12 + [2016] * 12, "month": list(range(1, 13)) * 2})
    for k, column in enumerate(("placements_category_1", "placements_category_2", "placements_category_3")):
        monthly[column] = np.arange(24) + k
    first_half = sum(m + k for m in range(6) for k in range(3))
    got = _stat(_moment("placements_first_half", years=[2015]), _yearly(), 1.0, monthly, None)
    assert got == first_half
    with pytest.raises(ValueError, match="monthly"):
        _stat(_moment("placements_first_half", years=[2015]), _yearly(), 1.0, None, None)


def test_the_contact_trial_gain_is_the_scenarios_own():
    scenario = load("baseline").scenario
    trial = {"caseload": 30.0, "control_caseload": 120.0, "months": 24.0, "years_on": 3.0}
    moment = _moment("contact_trial_gain", years=[2015], trial=trial)
    assert _stat(moment, _yearly(), 1.0, None, scenario) == trial_job_finding_gain(scenario, 30.0, 120.0, 24.0, 3.0)


def test_a_trial_is_given_for_the_trial_statistic_and_only_for_it():
    with pytest.raises(ValueError, match="trial"):
        _moment("contact_trial_gain", years=[2017])
    with pytest.raises(ValueError, match="trial"):
        _moment("placements", trial={"caseload": 30.0, "control_caseload": 120.0, "months": 24.0, "years_on": 3.0})


def test_an_at_most_target_counts_only_a_value_above_it():
    from calibration.config import load as load_calibration

    calibration = load_calibration("leidschendam-voorburg")[0]
    targets = TargetSet(calibration, (2013, 2019))
    i = targets.names.index("work_education_back_within_6m 2014-2016")
    assert targets.at_most[i] and not targets.at_most[:i].any()
    below = targets.values.copy()
    below[i] -= 0.05
    assert targets.residuals(below)[i] == 0.0
    above = targets.values.copy()
    above[i] += 0.02
    assert targets.residuals(above)[i] == pytest.approx(np.sqrt(targets.weights[i]) * 0.02 / targets.sds[i])
