"""How a client's distance to the labour market changes each month on benefit (sim/distance.py,
docs/model.md 'Distance dynamics')."""

from __future__ import annotations

import numpy as np
import pytest
from verification_scenarios import steady_state

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.clients import State
from sim.distance import DistanceRules, activation, distance_after_month, distance_rules
from sim.model import Model
from sim.parameters import Distance

pytestmark = pytest.mark.unit

RULES = DistanceRules(
    drift_months_per_month=0.3, drift_growth_per_year=0.2, activation_gain_months_per_month=0.5, max_months=120.0
)


def test_the_rules_are_the_scenarios_distance_parameters():
    d = Distance(
        activation_gain_months_per_month=0.7,
        inactivity_drift_months_per_month=0.2,
        drift_growth_per_year=0.1,
        max_months=90,
    )
    assert distance_rules(d) == DistanceRules(0.2, 0.1, 0.7, 90.0)


def test_without_activation_the_distance_drifts_faster_the_longer_on_assistance():
    assert distance_after_month(10.0, 0.0, 0.0, 0.0, 1.0, RULES) == pytest.approx(10.3, rel=1e-15)
    # five years on: the drift has doubled (1 + 0.2 × 5): the granite stock hardens
    assert distance_after_month(10.0, 0.0, 0.0, 5.0, 1.0, RULES) == pytest.approx(10.6, rel=1e-15)
    # half a month on benefit: half the change
    assert distance_after_month(10.0, 0.0, 0.0, 0.0, 0.5, RULES) == pytest.approx(10.15, rel=1e-15)


def test_full_activation_removes_the_drift_and_gains_the_activation_and_trajectory_gains():
    assert distance_after_month(10.0, 1.0, 0.0, 3.0, 1.0, RULES) == pytest.approx(9.5, rel=1e-15)
    assert distance_after_month(10.0, 1.0, 1.5, 3.0, 1.0, RULES) == pytest.approx(8.0, rel=1e-15)


def test_drift_and_gain_balance_at_the_break_even_activation():
    a = RULES.drift_months_per_month / (RULES.drift_months_per_month + RULES.activation_gain_months_per_month)
    assert distance_after_month(10.0, a, 0.0, 0.0, 1.0, RULES) == pytest.approx(10.0, rel=1e-15)
    assert (
        distance_after_month(10.0, a + 0.01, 0.0, 0.0, 1.0, RULES)
        < 10.0
        < distance_after_month(10.0, a - 0.01, 0.0, 0.0, 1.0, RULES)
    )


def test_the_distance_stays_between_zero_and_the_cap():
    assert distance_after_month(0.2, 1.0, 1.5, 0.0, 1.0, RULES) == 0.0
    assert distance_after_month(119.9, 0.0, 0.0, 10.0, 1.0, RULES) == 120.0
    assert distance_after_month(130.0, 0.0, 0.0, 0.0, 0.0, RULES) == 120.0  # a cap lowered below a distance holds


def test_a_trajectory_activates_fully_and_otherwise_contact_does():
    assert activation(True, 0.0) == 1.0
    assert activation(True, 0.4) == 1.0
    assert activation(False, 0.4) == 0.4
    assert activation(False, 0.0) == 0.0


def test_the_month_step_drifts_everyone_without_contact_or_trajectories():
    """No consultants, no income-consultant talks, no trajectories: activation is 0 for everyone,
    so each client who stays on benefit drifts by the rule over their days on benefit that month."""
    scenario = steady_state(
        policies={
            "focus": {
                "staffing": {"rule": "fixed", "work_consultants": 0.0},
                "contact": {"unserved_contacts_per_year": 0.0},
            }
        },
        trajectories={"start_per_month": 0.0},
        region={"initial_stock": 400},
        inflow={"base_notifications_per_year": 300.0},
    )
    model = Model(scenario, 3)
    t, r = model.table, distance_rules(scenario.distance)
    for _, _, start, end in model.calendar.month_starts()[:3]:
        on = t.in_state(State.ON_BENEFIT)
        before = t.distance_true[on].copy()
        model.env.run(until=end + 0.01)
        stayed = t.state[on] == State.ON_BENEFIT
        ids, distance = on[stayed], before[stayed]
        spell = t.spell_start_day[ids]
        years_on = (end - spell) / DAYS_PER_YEAR
        exposure = (end - np.maximum(spell, start)) / DAYS_PER_MONTH
        expected = np.minimum(
            distance + r.drift_months_per_month * (1 + r.drift_growth_per_year * years_on) * exposure, r.max_months
        )
        assert len(ids) > 300
        np.testing.assert_allclose(t.distance_true[ids], expected, rtol=1e-13)
