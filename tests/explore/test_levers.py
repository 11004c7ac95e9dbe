"""The explorer's settings as scenario files (caseload/explore/levers.py): what the page runs is what
its exported file runs, the history is kept, shocks switch on and off, bad values name their control."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("tomli_w", reason="the explorer's extra is not installed: pip install -e '.[explore]'")

from caseload.explore.levers import (  # noqa: E402
    EXPLORED,
    LEVER_FIELDS,
    Settings,
    build,
    field_of,
    lever_start,
    lever_values,
)
from sim.scenario import ScenarioError, load  # noqa: E402

pytestmark = pytest.mark.unit


def _written_and_loaded(settings: Settings, tmp_path):
    loaded, text = build(settings, tmp_path)
    path = tmp_path / f"{loaded.scenario.name}.toml"
    path.write_text(text, encoding="utf-8")
    return loaded, load(path)


def test_the_exported_file_loads_to_the_scenario_the_page_runs(tmp_path):
    settings = Settings("broad", "mild", 2027, {"door.gatekeeper_share": 0.2, "served.routes": ("direct", "mediation")})
    shown, again = _written_and_loaded(settings, tmp_path)
    assert again.scenario == shown.scenario
    # the fitted files are still included, so the file keeps the calibration's parameter draws
    assert again.files == shown.files
    assert any(f.name == "fitted-corona.toml" for f in again.files)


def test_levers_act_from_2019_and_the_history_is_kept():
    loaded, _ = build(Settings("broad", changes={"door.gatekeeper_share": 0.2}))
    scenario, base = loaded.scenario, load("broad").scenario
    schedule = [(p.start, p.policy) for p in scenario.policy_schedule]
    assert schedule == [(dt.date(2014, 1, 1), "broad"), (dt.date(2019, 1, 1), EXPLORED)]
    assert scenario.policies["broad"] == base.policies["broad"]  # 2014-2018 as calibrated
    explored = scenario.policies[EXPLORED]
    assert explored.door.gatekeeper_share == 0.2
    assert explored.model_dump(exclude={"door", "description"}) == base.policies["broad"].model_dump(
        exclude={"door", "description"}
    )
    assert scenario.name == "broad-explored"


def test_a_later_last_period_is_where_the_levers_act():
    base = load("focus-participation").scenario
    assert lever_start(base) == dt.date(2021, 1, 1)
    assert lever_values(base)["contact.guidance_share"] == 0.3
    loaded, _ = build(Settings("focus-participation", changes={"contact.guidance_share": 0.5}))
    schedule = [(p.start.year, p.policy) for p in loaded.scenario.policy_schedule]
    assert schedule == [(2014, "broad"), (2019, "focus"), (2021, EXPLORED)]


def test_unchanged_levers_give_the_base_itself():
    values = lever_values(load("focus").scenario)
    loaded, text = build(Settings("focus", changes=values))
    assert loaded.scenario == load("focus").scenario
    assert EXPLORED not in text
    # routes in another order are the same routes
    shuffled = {**values, "served.routes": tuple(reversed(values["served.routes"]))}
    assert Settings("focus", changes=shuffled).changed_from(load("focus").scenario) == {}


def test_the_horizon_and_an_emptied_optional_field():
    loaded, _ = build(
        Settings(
            "focus",
            until=2024,
            changes={"trajectories.yearly_budget_eur": 250_000.0, "staffing.max_work_consultants": None},
        )
    )
    assert loaded.scenario.simulation.until_year == 2024
    assert loaded.scenario.policies[EXPLORED].trajectories.yearly_budget_eur == 250_000.0
    # a ceiling set, then emptied again: no ceiling, as in the base
    again, _ = build(Settings("focus", changes={"trajectories.yearly_budget_eur": None}))
    assert EXPLORED not in again.scenario.policies


def test_shocks_switch_on_as_shipped_and_off_at_strength_zero():
    mild, _ = build(Settings("focus", "mild"))
    assert mild.scenario.shocks == load("focus-corona-mild").scenario.shocks
    severe = load("focus-corona-severe").scenario
    off, text = build(Settings("focus-corona-severe", "none"))
    assert set(off.scenario.shocks) == set(severe.shocks)
    assert all(s.strength == 0.0 for s in off.scenario.shocks.values())
    assert "Switched off" in text
    # from severe to mild: the severe shock's extra unemployment is switched off
    to_mild, _ = build(Settings("focus-corona-severe", "mild"))
    assert to_mild.scenario.shocks["corona-unemployment"].strength == 0.0
    assert to_mild.scenario.shocks["corona"] == load("focus-corona-mild").scenario.shocks["corona"]


@pytest.mark.parametrize(
    ("changes", "control", "words"),
    [
        ({"door.gatekeeper_share": 1.5}, "door.gatekeeper_share", "less than or equal to 1"),
        ({"staffing.caseload_norm": -3.0}, "staffing.caseload_norm", "greater than 0"),
        (
            {"staffing.rule": "fixed", "staffing.work_consultants": None},
            "staffing.work_consultants",
            "rule 'fixed' needs it",
        ),
        ({"contact.guidance_share": 0.4, "contact.guidance_months": 0.0}, "contact.guidance_months", "must be above 0"),
    ],
)
def test_a_value_out_of_range_names_its_control_with_the_schemas_message(changes, control, words):
    base = "focus" if "contact.guidance_share" in changes else "broad"
    with pytest.raises(ScenarioError) as caught:
        build(Settings(base, changes=changes))
    assert field_of(caught.value.field) == control
    assert words in caught.value.message


def test_every_control_is_a_field_of_a_policy_lever():
    values = lever_values(load("broad").scenario)
    assert set(values) == {f.path for f in LEVER_FIELDS}
