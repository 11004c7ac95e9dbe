"""The scenario schema (sim/parameters.py), checked directly rather than through a file: frozen
blocks without unknown keys, shares that add up, consistent drivers and schedules, counts marked.

How a problem is worded for a file, and which file is blamed, is tests/test_scenario.py's.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from sim.parameters import Chain, Drivers, Inflow, Money, Scenario, Shock, Simulation, Staffing, is_count

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data(baseline) -> dict:
    return baseline.model_dump(mode="python")


def _with(data: dict, section: str, **values) -> dict:
    return {**data, section: {**data[section], **values}}


def _refused(data: dict, *fragments: str) -> None:
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_a_dumped_scenario_validates_to_itself(baseline, data):
    assert Scenario.model_validate(data) == baseline


def test_blocks_are_frozen_and_refuse_unknown_keys_and_non_finite_numbers(baseline, data):
    with pytest.raises(ValidationError, match="frozen"):
        baseline.chain.intakes_per_weekday = 1
    _refused(_with(data, "chain", intakes_per_weekdays=3), "intakes_per_weekdays", "Extra inputs are not permitted")
    _refused(_with(data, "work", other_exit_per_month=float("nan")), "other_exit_per_month")
    _refused(_with(data, "money", benefit_eur_per_full_year=float("inf")), "benefit_eur_per_full_year")


def test_shares_must_add_up_to_one(data):
    shares = {**data["region"]["stock_age_shares"], "under27": 0.9}
    _refused(_with(data, "region", stock_age_shares=shares), "stock_age_shares: must add up to 1")
    _refused(
        _with(data, "inflow", newcomer_age_shares={"under27": 0.5, "27_49": 0.2, "50plus": 0.2}),
        "newcomer_age_shares: must add up to 1 (they add up to 0.9000)",
    )
    shares = data["region"]["stock_category_shares"]
    nudged = {**shares, "1a": shares["1a"] + 5e-7}  # rounding in a file is allowed
    assert Scenario.model_validate(_with(data, "region", stock_category_shares=nudged))


def test_drivers_give_one_value_a_year_for_consecutive_years():
    ok = {"unemployment_pct": [7.0, 7.0], "state_pension_age_years": [65.0, 65.0], "asylum_permits": [0.0, 0.0]}
    assert Drivers(years=[2013, 2014], ww_max_months=[38.0, 38.0], **ok)
    with pytest.raises(ValidationError, match="years: has 2 values but ww_max_months has 1"):
        Drivers(years=[2013, 2014], ww_max_months=[38.0], **ok)
    with pytest.raises(ValidationError, match="years: must be consecutive and increasing"):
        Drivers(years=[2013, 2015], ww_max_months=[38.0, 38.0], **ok)


def test_drivers_must_cover_the_start_year(data):
    shift = data["simulation"]["start_year"] + 1 - data["drivers"]["years"][0]
    drivers = {**data["drivers"], "years": [y + shift for y in data["drivers"]["years"]]}
    _refused({**data, "drivers": drivers}, "drivers.years: start in 2014 but the run starts in 2013")


def test_the_run_ends_after_it_starts():
    assert Simulation(start_year=2013, until_year=2014)
    with pytest.raises(ValidationError, match="until_year: must be after start_year"):
        Simulation(start_year=2013, until_year=2013)


def test_the_schedule_names_defined_policies_on_increasing_dates(data):
    schedule = [{"start": dt.date(2014, 1, 1), "policy": "broad"}, {"start": dt.date(2014, 1, 1), "policy": "focus"}]
    _refused({**data, "policy_schedule": schedule}, "policy_schedule[1].start", "the same date as")
    _refused({**data, "policy_schedule": [{"start": dt.date(2014, 1, 1), "policy": "wide"}]}, "names policy 'wide'")


def test_a_date_is_a_date_not_a_number():
    with pytest.raises(ValidationError, match="a number is not a date"):
        Shock(name="x", start=0, end=dt.date(2021, 1, 1))
    with pytest.raises(ValidationError, match="end: must be after start"):
        Shock(name="x", start=dt.date(2021, 1, 1), end=dt.date(2021, 1, 1))


def test_a_name_that_becomes_a_folder_is_a_slug(data):
    _refused({**data, "name": "../elsewhere"}, "becomes a file or folder name")
    assert Scenario.model_validate({**data, "name": "my-scenario.v2"}).name == "my-scenario.v2"


def test_other_block_rules():
    with pytest.raises(ValidationError, match="dream_job_days_max: must be at least dream_job_days_min"):
        Chain(dream_job_days_min=10, dream_job_days_max=5)
    with pytest.raises(ValidationError, match="keys must be years from 1990 to 2100"):
        Money(state_grant_eur_per_year={"next year": 1.0})


def test_counts_that_scale_with_the_population_are_marked_and_rates_are_not():
    assert is_count(Inflow.model_fields["base_notifications_per_year"])
    assert is_count(Staffing.model_fields["work_consultants"]) and is_count(
        Staffing.model_fields["budget_eur_per_year"]
    )
    assert is_count(Money.model_fields["state_grant_eur_per_year"])
    assert not is_count(Inflow.model_fields["elasticity_inflow"])
    assert not is_count(Staffing.model_fields["caseload_norm"])  # clients per consultant: a ratio
