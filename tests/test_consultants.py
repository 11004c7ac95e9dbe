"""Work consultants: whom they serve, the contacts that allows, and what contact does to job-finding
(sim/consultants.py, docs/model.md 'Consultants')."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.clients import Route
from sim.consultants import (
    assign_consultants,
    clients_to_serve,
    closest_first,
    contact_intensity,
    contact_level,
    contact_levels,
    contact_multiplier,
    contact_rate,
    team_size,
)
from sim.parameters import Contact, Money, Staffing
from sim.policies import served_route_mask
from sim.scenario import load

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def scenario():
    return load("focus-participation").scenario


def test_the_contact_multiplier_is_one_without_contact_and_saturates_at_one_plus_the_effect(scenario):
    contact = scenario.contact
    contacts = np.array([0.0, 1.0, 6.0, 24.0, 1e6])
    multiplier = contact_multiplier(contact_intensity(contacts, contact), contact)
    assert multiplier[0] == 1.0
    assert multiplier[-1] == 1.0 + contact.contact_effect_max
    assert (np.diff(multiplier) > 0).all() and (multiplier < 1.0 + contact.contact_effect_max)[:-1].all()
    # at the saturation contacts a year, 1 - 1/e of the full effect (63%)
    at_saturation = contact_multiplier(
        contact_intensity(np.array([contact.contact_saturation_per_year]), contact), contact
    )
    assert at_saturation[0] == pytest.approx(1.0 + contact.contact_effect_max * (1 - math.exp(-1)), rel=1e-12)


def test_no_contact_effect_leaves_job_finding_alone(scenario):
    contact = scenario.contact.model_copy(update={"contact_effect_max": 0.0})
    assert (contact_multiplier(contact_intensity(np.array([0.0, 5.0, 50.0]), contact), contact) == 1.0).all()


def test_consultants_serve_the_eligible_closest_first_up_to_staff_times_norm(scenario):
    policy = scenario.policies["focus"]
    distance = np.array([30.0, 5.0, 1.0, 20.0, 2.0, 2.0, 10.0, 0.5, 40.0])
    on_route = np.array([True, True, True, True, True, True, True, False, True])
    to_serve = clients_to_serve(distance, on_route, policy)
    guidance = assign_consultants(distance, to_serve, 2.0, 3.0, scenario.contact)
    # beyond 24 months or without a route: never; of the rest, the 6 closest (ties in order)
    assert np.flatnonzero(guidance.served).tolist() == [1, 2, 3, 4, 5, 6]
    assert guidance.work_consultants == 2.0
    assert guidance.caseload_per_consultant == 3.0
    assert guidance.contacts_per_served_per_year == contact_rate(3.0, scenario.contact)


def test_whom_the_consultants_serve_is_the_served_routes_within_the_served_distance(scenario):
    focus, broad = scenario.policies["focus"], scenario.policies["broad"]
    # by route code (none, direct, mediation, development, sheltered, participation): focus serves
    # category 1's routes
    assert served_route_mask(focus).tolist() == [False, True, True, True, False, False]
    assert served_route_mask(broad)[Route.DIRECT :].all()
    distance = np.array([1.0, 24.0, 24.5, 10.0, 10.0, 100.0])
    route = np.array(
        [Route.DIRECT, Route.MEDIATION, Route.DEVELOPMENT, Route.SHELTERED, Route.PARTICIPATION] + [Route.PARTICIPATION]
    )
    assert clients_to_serve(distance, served_route_mask(focus)[route], focus).tolist() == [
        True,
        True,
        False,  # beyond 24 months
        False,  # 2B's sheltered route
        False,  # participation
        False,
    ]
    assert clients_to_serve(distance, served_route_mask(broad)[route], broad).all()


def test_a_team_that_follows_its_norm_serves_everyone_at_exactly_the_norm(scenario):
    staffing = Staffing(rule="norm", caseload_norm=80.0)
    distance = np.linspace(0.0, 20.0, 1001)
    to_serve = np.ones(len(distance), dtype=bool)
    team = team_size(staffing, len(distance), scenario.money)
    assert team == 1001 / 80.0
    guidance = assign_consultants(distance, to_serve, team, staffing.caseload_norm, scenario.contact)
    # the product team x norm may round below 1001: nobody is dropped for that
    assert guidance.served.all()
    assert guidance.caseload_per_consultant == pytest.approx(80.0, rel=1e-12)


def test_the_three_staffing_rules_give_their_team():
    money = Money(work_consultant_eur_per_fte_year=80_000.0)
    assert team_size(Staffing(rule="fixed", caseload_norm=90.0, work_consultants=9.0), 5000, money) == 9.0
    assert team_size(Staffing(rule="fixed", caseload_norm=90.0, work_consultants=9.0), 0, money) == 9.0
    assert team_size(Staffing(rule="norm", caseload_norm=120.0), 1800, money) == 15.0
    assert team_size(Staffing(rule="norm", caseload_norm=120.0), 0, money) == 0.0
    capped = Staffing(rule="norm", caseload_norm=120.0, max_work_consultants=10.0)
    assert team_size(capped, 1800, money) == 10.0
    assert team_size(capped, 600, money) == 5.0
    budget = Staffing(rule="budget", caseload_norm=90.0, budget_eur_per_year=1_000_000.0)
    assert team_size(budget, 5000, money) == 1_000_000.0 / 80_000.0 == 12.5


def test_contacts_are_capacity_over_caseload_at_most_the_maximum():
    contact = Contact(contacts_per_consultant_per_year=1200.0, max_contacts_per_client_per_year=24.0)
    assert contact_rate(100.0, contact) == 12.0
    assert contact_rate(10.0, contact) == 24.0
    assert contact_rate(0.0, contact) == 24.0
    assert contact_rate(math.inf, contact) == 0.0


def test_without_staff_nobody_is_served(scenario):
    guidance = assign_consultants(np.array([1.0, 2.0]), np.array([True, True]), 0.0, 80.0, scenario.contact)
    assert not guidance.served.any() and math.isinf(guidance.caseload_per_consultant)


def test_guided_clients_get_at_least_the_guidance_contacts(scenario):
    policy = scenario.policies["focus-participation"]
    guidance = assign_consultants(np.array([1.0, 2.0]), np.array([True, True]), 1.0, 80.0, scenario.contact)
    levels = contact_levels(guidance, policy)
    unserved, served = policy.contact.unserved_contacts_per_year, guidance.contacts_per_served_per_year
    guided = policy.contact.guidance_contacts_per_year
    assert levels[[contact_level(False, False), contact_level(True, False)]].tolist() == [unserved, served]
    assert levels[[contact_level(False, True), contact_level(True, True)]].tolist() == [
        max(unserved, guided),
        max(served, guided),
    ]


@settings(max_examples=200, deadline=None)
@given(
    distance=st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0, 24.0, 30.0]) | st.floats(0, 100), max_size=40),
    k=st.integers(-1, 45),
)
def test_closest_first_is_the_stable_sort_set(distance, k):
    """The partition the consultants use for speed picks the set a stable sort would."""
    distance = np.array(distance, dtype=float)
    expected = np.sort(np.argsort(distance, kind="stable")[: max(k, 0)])
    assert np.array_equal(closest_first(distance, k), expected)


def test_the_trial_gain_is_the_hazards_difference_at_the_two_caseloads(scenario):
    from sim.consultants import trial_job_finding_gain
    from sim.scenario import with_overrides

    work, contact = scenario.work, scenario.contact
    h = (
        work.base_work_per_month["near"]
        * work.work_multiplier_by_group["older"]
        * math.exp(-work.scarring_per_year * 3)
    )

    def finds(caseload: float) -> float:
        contacts = min(contact.max_contacts_per_client_per_year, contact.contacts_per_consultant_per_year / caseload)
        multiplier = 1 + contact.contact_effect_max * (1 - math.exp(-contacts / contact.contact_saturation_per_year))
        return 1 - math.exp(-h * multiplier * 24)

    gain = trial_job_finding_gain(scenario, 30.0, 120.0, 24.0, 3.0)
    assert gain == pytest.approx(finds(30.0) - finds(120.0), rel=1e-12)
    assert gain > 0
    # without a contact effect there is nothing to gain; with a slower saturation the same effect gains more
    none = with_overrides(scenario, {"contact": {"contact_effect_max": 0.0}})
    assert trial_job_finding_gain(none, 30.0, 120.0, 24.0, 3.0) == 0.0
    slower = with_overrides(scenario, {"contact": {"contact_saturation_per_year": 20.0}})
    fast = with_overrides(scenario, {"contact": {"contact_saturation_per_year": 2.0}})
    assert trial_job_finding_gain(slower, 30.0, 120.0, 24.0, 3.0) > trial_job_finding_gain(fast, 30.0, 120.0, 24.0, 3.0)
