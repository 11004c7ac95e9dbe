"""Work consultants: whom they serve, the contacts that allows, and what contact does to job-finding
(sim/consultants.py, docs/model.md 'Consultants')."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from sim.parameters import Contact
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
    # beyond 24 months or on a route the policy does not serve: never
    assert np.flatnonzero(to_serve).tolist() == [1, 2, 3, 4, 5, 6]
    guidance = assign_consultants(distance, to_serve, 1.0, 4.0, scenario.contact)
    # a team of one at norm 4: the 4 closest (ties in order)
    assert np.flatnonzero(guidance.served).tolist() == [1, 2, 4, 5]
    assert guidance.caseload_per_consultant == 4.0 and guidance.work_consultants == 1.0
    assert guidance.contacts_per_served_per_year == contact_rate(4.0, scenario.contact)


def test_the_team_is_fixed_follows_the_norm_or_is_what_the_budget_pays(scenario):
    money = scenario.money
    norm = scenario.policies["focus"].staffing  # norm 80
    assert team_size(norm, 400, money) == 5.0
    assert team_size(norm.model_copy(update={"max_work_consultants": 4.0}), 400, money) == 4.0
    fixed = norm.model_copy(update={"rule": "fixed", "work_consultants": 9.0})
    assert team_size(fixed, 400, money) == team_size(fixed, 4000, money) == 9.0
    budget = norm.model_copy(update={"rule": "budget", "budget_eur_per_year": 400_000.0})
    assert team_size(budget, 400, money) == 400_000.0 / money.work_consultant_eur_per_fte_year
    # a team that follows its norm serves everyone it is for, at exactly the norm
    distance = np.linspace(0, 20, 401)
    to_serve = np.ones(len(distance), dtype=bool)
    team = team_size(norm, len(distance), money)
    guidance = assign_consultants(distance, to_serve, team, norm.caseload_norm, scenario.contact)
    assert guidance.served.all() and guidance.caseload_per_consultant == pytest.approx(norm.caseload_norm)


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
