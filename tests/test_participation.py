"""Participation as an outcome (sim/participation.py): the activity's rates from the source's
figures, and a guided group in the month step reaching the share the source observed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bands import share_band
from pydantic import ValidationError
from verification_scenarios import flat_hazards

from sim.calendar import DAYS_PER_YEAR
from sim.clients import Category, ClientTable, Route, State
from sim.month_step import STOCK_COLUMNS, STREAMS, MonthColumns, MonthInputs, month_on_benefit, run_rules
from sim.parameters import Participation
from sim.participation import activity_rates, share_active_after
from sim.randomness import Streams
from sim.scenario import with_overrides

pytestmark = pytest.mark.unit


def test_the_closed_form_starts_where_it_starts_and_ends_at_the_steady_share():
    assert share_active_after(0.0, 0.3, 0.02, 0.04) == pytest.approx(0.3)
    assert share_active_after(1e6, 0.3, 0.02, 0.04) == pytest.approx(0.02 / 0.06)
    assert share_active_after(10.0, 0.3, 0.0, 0.0) == 0.3


def test_the_rates_reproduce_the_long_run_share_and_the_trial():
    p = Participation()
    r = activity_rates(p)
    usual = r.base + r.per_contact * p.usual_contacts_per_year
    assert usual / (usual + r.end) == pytest.approx(p.share_active_income_consultant, rel=1e-9)
    trial = r.base + r.per_contact * p.trial_contacts_per_year
    after = share_active_after(p.trial_months, p.share_active_income_consultant, trial, r.end)
    assert after == pytest.approx(p.trial_share_active, rel=1e-9)
    assert r.per_contact > 0 and r.base >= 0


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("trial_share_active", {"trial_share_active": 0.1}),  # below the share without the trial
        ("trial_contacts_per_year", {"trial_contacts_per_year": 0.5}),  # fewer contacts than usual
        ("end_per_month", {"end_per_month": 0.0}),
    ],
)
def test_a_participation_block_the_figures_cannot_come_from_is_refused(field, values):
    with pytest.raises(ValidationError, match=field):
        Participation(**values)


def _participation_clients(n: int) -> tuple[ClientTable, np.ndarray]:
    t = ClientTable(capacity=n)
    ids = t.add(n)
    t.key[ids] = ids
    t.state[ids] = State.ON_BENEFIT
    t.route[ids] = Route.PARTICIPATION
    t.category[ids] = Category.C3B
    t.distance_true[ids] = t.distance_diag[ids] = t.route_start_distance[ids] = 80.0
    t.birth_day[ids] = -40 * DAYS_PER_YEAR
    t.spell_start_day[ids] = t.grant_day[ids] = t.route_start_day[ids] = -5 * DAYS_PER_YEAR
    return t, ids


@pytest.mark.parametrize("contacts", [1.0, 6.0])
def test_a_group_in_the_month_step_follows_the_closed_form(contacts):
    """Clients who never leave, reviewed never, with `contacts` a year: the share active after 18
    months is the two-state chain's, from the long-run share with the usual contacts."""
    scenario = with_overrides(flat_hazards(0.0, 0.0), {"work": {"other_exit_per_month": 0.0}})
    p = scenario.participation
    r = activity_rates(p)
    n = 20_000
    t, ids = _participation_clients(n)
    start_u = Streams(4).keyed_uniforms("start", 0, ids)
    t.active[ids] = start_u < p.share_active_income_consultant
    rules = run_rules(scenario)
    served = np.zeros(n, dtype=bool)
    day = 0.0
    for month in range(18):
        inputs = MonthInputs(
            start=day,
            end=day + 30.4375,
            pension_age=80.0,
            market_multiplier=1.0,
            guidance_on=False,
            guidance_share=0.0,
            trajectory_routes=np.zeros(Route.PARTICIPATION + 1, dtype=bool),
            p_review=0.0,
            trajectory_budget_left=np.inf,
            contacts_per_year=np.full(4, contacts),
            contact_multiplier=np.ones(4),
            intensity=np.zeros(4),
            bases=Streams(9).bases(STREAMS, month),
        )
        out = month_on_benefit(ids, served, t.columns(MonthColumns), inputs, rules)
        assert len(out.left) == 0
        day += 30.4375
    hazard = r.base + r.per_contact * contacts
    # from the drawn start share (itself a binomial draw), the chain's expectation
    expected = share_active_after(18.0, float((start_u < p.share_active_income_consultant).mean()), hazard, r.end)
    assert abs(t.active[ids].mean() - expected) < share_band(expected, n)
    assert out.stocks[STOCK_COLUMNS.index("stock_participation_active")] == int(t.active[ids].sum())
    if contacts == p.trial_contacts_per_year:
        assert math.isclose(expected, p.trial_share_active, abs_tol=share_band(0.42, n))
