"""Shocks (sim/shocks.py): a shock acts from its start up to, not on, its end; shocks that overlap
multiply their multipliers and add their shifts; a shock fades linearly over its last fade_months
and its strength scales it (a multiplier m at weight w acts as m ** w, a shift s as w x s)."""

from __future__ import annotations

import datetime as dt

import pytest

from sim.calendar import DAYS_PER_MONTH
from sim.parameters import Shock
from sim.scenario import ScenarioError, load, with_overrides
from sim.shocks import ShockEffect, effect_on, weight_on

pytestmark = pytest.mark.unit

CORONA = Shock(
    start=dt.date(2020, 3, 1),
    end=dt.date(2021, 7, 1),
    inflow_multiplier=1.2,
    work_multiplier=0.7,
    newcomer_distance_shift_months=6.0,
    unemployment_pct_add=1.5,
)
SECOND = Shock(
    start=dt.date(2021, 1, 1),
    end=dt.date(2022, 1, 1),
    inflow_multiplier=1.5,
    work_multiplier=0.5,
    newcomer_distance_shift_months=-2.0,
    unemployment_pct_add=0.5,
)
# in full April-June, fading to none over July-September
LOCKDOWN = Shock(start=dt.date(2020, 4, 1), end=dt.date(2020, 10, 1), work_multiplier=0.64, fade_months=3)


@pytest.mark.parametrize("date", [dt.date(2020, 2, 29), dt.date(2021, 7, 1), dt.date(2030, 1, 1)])
def test_outside_its_window_a_shock_has_no_effect(date):
    assert effect_on({"corona": CORONA}, date) == ShockEffect()
    assert effect_on({}, date) == ShockEffect(1.0, 1.0, 0.0, 0.0)


@pytest.mark.parametrize("date", [dt.date(2020, 3, 1), dt.date(2020, 12, 31), dt.date(2021, 6, 30)])
def test_inside_its_window_a_shock_has_its_full_effect(date):
    assert effect_on({"corona": CORONA}, date) == ShockEffect(1.2, 0.7, 6.0, 1.5)


def test_overlapping_shocks_multiply_and_add():
    shocks = {"corona": CORONA, "second": SECOND}
    both = effect_on(shocks, dt.date(2021, 3, 1))
    assert both.inflow_multiplier == pytest.approx(1.2 * 1.5, rel=1e-15)
    assert both.work_multiplier == pytest.approx(0.7 * 0.5, rel=1e-15)
    assert both.newcomer_distance_shift_months == 4.0 and both.unemployment_pct_add == 2.0
    assert effect_on(shocks, dt.date(2021, 8, 1)) == ShockEffect(1.5, 0.5, -2.0, 0.5)
    assert effect_on(shocks, dt.date(2020, 6, 1)) == effect_on({"corona": CORONA}, dt.date(2020, 6, 1))


@pytest.mark.parametrize(
    ("date", "weight"),
    [
        (dt.date(2020, 3, 31), 0.0),  # before its start
        (dt.date(2020, 5, 15), 1.0),  # the lockdown quarter, in full
        (dt.date(2020, 7, 1), 1.0),  # the fade starts three months before the end
        (dt.date(2020, 8, 15), (dt.date(2020, 10, 1) - dt.date(2020, 8, 15)).days / (3 * DAYS_PER_MONTH)),
        (dt.date(2020, 9, 30), 1 / (3 * DAYS_PER_MONTH)),  # one day before the end
        (dt.date(2020, 10, 1), 0.0),  # recovered
    ],
)
def test_a_fading_shock_acts_in_full_then_fades_linearly_to_none_at_its_end(date, weight):
    assert weight_on(LOCKDOWN, date) == pytest.approx(weight, abs=1e-12)
    assert effect_on({"lockdown": LOCKDOWN}, date).work_multiplier == pytest.approx(0.64**weight, rel=1e-12)


def test_job_finding_dips_in_the_lockdown_quarter_and_recovers_while_inflow_stays_high():
    aftermath = Shock(start=dt.date(2020, 3, 1), end=dt.date(2021, 7, 1), inflow_multiplier=1.3, fade_months=6)
    shocks = {"corona": aftermath, "corona-lockdown": LOCKDOWN}
    work = [effect_on(shocks, dt.date(2020, m, 15)).work_multiplier for m in range(1, 13)]
    inflow = [effect_on(shocks, dt.date(2020, m, 15)).inflow_multiplier for m in range(1, 13)]
    assert work[:3] == [1.0] * 3 and work[3:6] == [0.64] * 3 and work[9:] == [1.0] * 3
    assert work[5] < work[6] < work[7] < work[8] < 1.0  # recovering over the third quarter
    assert inflow[:2] == [1.0] * 2 and inflow[2:] == [1.3] * 10  # high from March to December
    assert 1.0 < effect_on(shocks, dt.date(2021, 4, 15)).inflow_multiplier < 1.3  # fading in 2021


def test_strength_scales_every_effect_a_multiplier_as_a_power():
    half = CORONA.model_copy(update={"strength": 0.5})
    effect = effect_on({"corona": half}, dt.date(2020, 6, 1))
    assert effect.inflow_multiplier == pytest.approx(1.2**0.5, rel=1e-12)
    assert effect.work_multiplier == pytest.approx(0.7**0.5, rel=1e-12)
    assert (effect.newcomer_distance_shift_months, effect.unemployment_pct_add) == (3.0, 0.75)
    none = CORONA.model_copy(update={"strength": 0.0})
    assert effect_on({"corona": none}, dt.date(2020, 6, 1)) == ShockEffect()


def _refused(shocks: object, *words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        with_overrides(load("focus").scenario, {"shocks": shocks})
    message = str(caught.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_bad_shocks_are_refused_in_one_line_naming_the_field():
    window = {"start": dt.date(2020, 4, 1), "end": dt.date(2020, 10, 1)}
    _refused({"lockdown": {**window, "fade_months": 7}}, "shocks.lockdown.fade_months", "at most the shock's length")
    _refused({"lockdown": {**window, "fade_months": -1}}, "shocks.lockdown.fade_months", "greater than or equal to 0")
    _refused({"lockdown": {**window, "strength": 4}}, "shocks.lockdown.strength", "less than or equal to 3")
    _refused({"lockdown": {**window, "work_multiplier": 0}}, "shocks.lockdown.work_multiplier")
    _refused({"lockdown": {**window, "end": dt.date(2020, 4, 1)}}, "shocks.lockdown.end", "must be after start")
    _refused({"lockdown": {**window, "fade": 3}}, "shocks.lockdown.fade", "unknown field", "fade_months")
    _refused([{"name": "corona", **window}], "shocks:", "[shocks.NAME]")


def test_a_shock_as_long_as_its_fade_fades_from_its_start():
    whole = Shock(
        start=dt.date(2020, 1, 1), end=dt.date(2020, 7, 1), inflow_multiplier=2.0, fade_months=181 / DAYS_PER_MONTH
    )
    assert weight_on(whole, dt.date(2020, 1, 1)) == pytest.approx(1.0)
    assert 0.0 < weight_on(whole, dt.date(2020, 4, 1)) < 1.0
