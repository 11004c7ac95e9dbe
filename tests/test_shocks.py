"""Shocks (sim/shocks.py): a shock acts from its start up to, not on, its end; shocks that overlap
multiply their multipliers and add their shifts."""

from __future__ import annotations

import datetime as dt

import pytest

from sim.parameters import Shock
from sim.shocks import ShockEffect, effect_on

pytestmark = pytest.mark.unit

CORONA = Shock(
    name="corona",
    start=dt.date(2020, 3, 1),
    end=dt.date(2021, 7, 1),
    inflow_multiplier=1.2,
    work_multiplier=0.7,
    newcomer_distance_shift_months=6.0,
    unemployment_pct_add=1.5,
)
SECOND = Shock(
    name="second",
    start=dt.date(2021, 1, 1),
    end=dt.date(2022, 1, 1),
    inflow_multiplier=1.5,
    work_multiplier=0.5,
    newcomer_distance_shift_months=-2.0,
    unemployment_pct_add=0.5,
)


@pytest.mark.parametrize("date", [dt.date(2020, 2, 29), dt.date(2021, 7, 1), dt.date(2030, 1, 1)])
def test_outside_its_window_a_shock_has_no_effect(date):
    assert effect_on([CORONA], date) == ShockEffect()
    assert effect_on([], date) == ShockEffect(1.0, 1.0, 0.0, 0.0)


@pytest.mark.parametrize("date", [dt.date(2020, 3, 1), dt.date(2020, 12, 31), dt.date(2021, 6, 30)])
def test_inside_its_window_a_shock_has_its_full_effect(date):
    assert effect_on([CORONA], date) == ShockEffect(1.2, 0.7, 6.0, 1.5)


def test_overlapping_shocks_multiply_and_add():
    both = effect_on([CORONA, SECOND], dt.date(2021, 3, 1))
    assert both.inflow_multiplier == pytest.approx(1.2 * 1.5, rel=1e-15)
    assert both.work_multiplier == pytest.approx(0.7 * 0.5, rel=1e-15)
    assert both.newcomer_distance_shift_months == 4.0 and both.unemployment_pct_add == 2.0
    assert effect_on([CORONA, SECOND], dt.date(2021, 8, 1)) == ShockEffect(1.5, 0.5, -2.0, 0.5)
    assert effect_on([CORONA, SECOND], dt.date(2020, 6, 1)) == effect_on([CORONA], dt.date(2020, 6, 1))
