"""The scenario schema (sim/parameters.py), checked directly rather than through a file: frozen
blocks without unknown keys, shares that add up, consistent drivers and schedules, counts marked.

How a problem is worded for a file, and which file is blamed, is tests/test_scenario.py's.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from sim.parameters import Aftercare, Chain, Drivers, Inflow, Money, Scenario, Shock, Simulation, Staffing, is_count

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
        Shock(start=0, end=dt.date(2021, 1, 1))
    with pytest.raises(ValidationError, match="end: must be after start"):
        Shock(start=dt.date(2021, 1, 1), end=dt.date(2021, 1, 1))


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


# -- policies as levers: based_on and a lever taken by a policy's name ----------------------------


def _with_policies(data: dict, **policies: dict) -> dict:
    return {**data, "policies": {**data["policies"], **policies}}


def _policies(data: dict, **policies: dict) -> dict:
    return Scenario.model_validate(_with_policies(data, **policies)).policies


def test_based_on_lays_the_base_under_the_policy(data):
    guidance = {"guidance_share": 0.2, "guidance_contacts_per_year": 4.0, "guidance_months": 12.0}
    policies = _policies(
        data,
        x={"based_on": "focus", "contact": guidance},
        y={"based_on": "x", "door": {"gatekeeper_share": 0.1}, "description": "y"},
    )
    focus, x, y = policies["focus"], policies["x"], policies["y"]
    # levers not given are the base's; a lever given in part keeps the base's other fields
    for lever in ("door", "served", "staffing", "trajectories", "aftercare"):
        assert getattr(x, lever) == getattr(focus, lever), lever
    assert x.contact == focus.contact.model_copy(update=guidance)
    assert x.description == focus.description
    # and a base may itself be based on another
    assert y.door.gatekeeper_share == 0.1 and y.description == "y"
    assert (y.contact, y.served, y.staffing) == (x.contact, focus.served, focus.staffing)
    # the base is unchanged
    assert policies["focus"] == Scenario.model_validate(data).policies["focus"]


def test_a_lever_given_as_a_policy_name_copies_that_lever(data):
    bare = {
        "served": {"max_distance_months": 10.0},
        "staffing": {"rule": "fixed", "caseload_norm": 50.0, "work_consultants": 2.0},
    }
    policies = _policies(
        data,
        x={"based_on": "focus", "door": "broad", "staffing": "broad"},
        y={"based_on": "broad"},
        z={"based_on": "focus", "served": "y", "aftercare": "bare"},
        bare=bare,
    )
    broad, focus = policies["broad"], policies["focus"]
    x = policies["x"]
    assert (x.door, x.staffing) == (broad.door, broad.staffing)
    assert (x.served, x.contact, x.trajectories, x.aftercare) == (
        focus.served,
        focus.contact,
        focus.trajectories,
        focus.aftercare,
    )
    # the named policy's lever as resolved (y is based on broad); a lever it left out is the default
    assert policies["z"].served == broad.served
    assert policies["z"].aftercare == Aftercare()
    # the shipped variants that isolate the door
    assert policies["focus-gatekeeper"] == focus.model_copy(
        update={"door": broad.door, "description": policies["focus-gatekeeper"].description}
    )
    assert policies["broad-open-door"] == broad.model_copy(
        update={"door": focus.door, "description": policies["broad-open-door"].description}
    )


POLICY_ERRORS = [
    ({"x": {"based_on": "nosuch"}}, ["x.based_on", "names policy 'nosuch'", "defined: broad"]),
    ({"x": {"based_on": 3}}, ["x.based_on", "names policy 3"]),
    ({"x": {"based_on": "focus", "door": "nosuch"}}, ["x.door", "names policy 'nosuch'"]),
    ({"x": {"based_on": "y"}, "y": {"based_on": "x"}}, ["based_on", "in a circle", "x -> y -> x"]),
    ({"x": {"based_on": "x"}}, ["x.based_on", "in a circle"]),
    ({"x": {"based_on": "focus", "door": "x"}}, ["x.door", "takes its lever from itself"]),
    ({"x": {"based_on": "focus", "doors": {"gatekeeper_share": 0.1}}}, ["x.doors", "Extra inputs are not permitted"]),
    ({"x": {"based_on": "focus", "door": {"gatekeeper": 0.1}}}, ["x.door.gatekeeper", "Extra inputs"]),
    (
        {"x": {"based_on": "focus", "door": {"gatekeeper_share": 1.5}}},
        ["x.door.gatekeeper_share", "less than or equal to 1"],
    ),
    ({"x": {"based_on": "focus", "staffing": {"caseload_norm": 0.0}}}, ["x.staffing.caseload_norm", "greater than 0"]),
    (
        {"x": {"based_on": "focus", "staffing": {"review_months": 13}}},
        ["x.staffing.review_months", "less than or equal to 12"],
    ),
    ({"x": {"based_on": "focus", "staffing": {"rule": "team"}}}, ["x.staffing.rule", "'fixed', 'norm' or 'budget'"]),
    (
        {"x": {"based_on": "focus", "staffing": {"rule": "fixed"}}},
        ["x.staffing", "work_consultants: rule 'fixed' needs it"],
    ),
    (
        {"x": {"based_on": "focus", "staffing": {"rule": "budget"}}},
        ["x.staffing", "budget_eur_per_year: rule 'budget' needs it"],
    ),
    (
        {"x": {"based_on": "focus", "contact": {"guidance_share": 0.2}}},
        ["x.contact", "guidance_months: must be above 0 when guidance_share is set"],
    ),
    (
        {"x": {"based_on": "focus", "contact": {"guidance_share": 0.2, "guidance_months": 12.0}}},
        ["x.contact", "guidance_contacts_per_year: must be above 0 when guidance_share is set"],
    ),
    (
        {"x": {"based_on": "focus", "served": {"routes": ["direct", "mediation", "direct"]}}},
        ["x.served.routes", "names a route twice"],
    ),
    (
        {"x": {"based_on": "focus", "trajectories": {"routes": ["sheltered", "sheltered"]}}},
        ["x.trajectories.routes", "names a route twice"],
    ),
    ({"x": {"based_on": "focus", "served": {"routes": ["direkt"]}}}, ["x.served.routes.0", "'direct'"]),
    ({"x": {"door": {}, "staffing": {"rule": "norm", "caseload_norm": 80.0}}}, ["x.served", "Field required"]),
]


@pytest.mark.parametrize(("policies", "fragments"), POLICY_ERRORS)
def test_a_wrong_policy_is_refused_naming_the_field(data, policies, fragments):
    _refused(_with_policies(data, **policies), *fragments)


def test_a_lever_set_for_its_rule_is_accepted(data):
    staffing = {"rule": "budget", "caseload_norm": 80.0, "budget_eur_per_year": 400_000.0}
    contact = {"guidance_share": 0.2, "guidance_contacts_per_year": 4.0, "guidance_months": 12.0}
    policies = _policies(data, x={"based_on": "focus", "staffing": staffing, "contact": contact})
    assert policies["x"].staffing.budget_eur_per_year == 400_000.0
    # rule fixed from a norm-following base: only the team is needed
    fixed = _policies(data, x={"based_on": "focus", "staffing": {"rule": "fixed", "work_consultants": 9.0}})
    assert fixed["x"].staffing.caseload_norm == 80.0 and fixed["x"].staffing.work_consultants == 9.0


def test_two_policies_may_each_take_a_different_lever_from_the_other(data):
    policies = _policies(
        data,
        x={"based_on": "focus", "door": "y", "served": {"max_distance_months": 12.0}},
        y={"based_on": "broad", "served": "x"},
    )
    assert policies["x"].door == policies["broad"].door
    assert policies["y"].served == policies["x"].served
    assert policies["y"].served.max_distance_months == 12.0


def test_levers_taken_from_each_other_in_a_circle_are_refused_as_a_circle(data):
    _refused(
        _with_policies(data, x={"based_on": "focus", "door": "y"}, y={"based_on": "focus", "door": "x"}),
        "door",
        "in a circle",
    )
