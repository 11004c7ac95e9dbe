"""The national scenarios: the default region scaled in its counts (`scale_to_stock`), every rate
unchanged, with the national fit (calibration/fitted-netherlands.toml) laid on top."""

from __future__ import annotations

import csv
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from calibration.scaling import scale_overrides
from sim.analysis.docs import SCENARIOS_DOC
from sim.config import read_toml
from sim.parameters import Scenario, is_count
from sim.scenario import SCALE_KEY, count_locations, load, shipped_dir, shipped_names, with_overrides

pytestmark = pytest.mark.unit

SCALED = {
    ("region", "name"),
    ("region", "initial_stock"),
    ("inflow", "base_notifications_per_year"),
    ("inflow", "wajong_wsw_notifications_per_year"),
    ("inflow", "refugee_notifications_per_permit"),
    ("inflow", "ww_notifications_per_year_per_month_shorter"),
    ("chain", "information_meeting_places"),
    ("chain", "extra_meeting_queue_threshold"),
    ("chain", "diagnosis_talks_per_weekday"),
    ("chain", "intakes_per_weekday"),
}
OBSERVED = Path(__file__).resolve().parent.parent / "calibration" / "data" / "observed_caseload.csv"
RATIO = 413_030 / 1_660
"""National over default-region stock, December 2013: what every count is multiplied by."""
OWN = {"name", "description"}
FITTED = Path(__file__).resolve().parent.parent / "calibration" / "fitted-netherlands.toml"


def _fitted() -> dict:
    """The national fit's values, as `caseload calibrate --region netherlands` wrote them."""
    return _flat(read_toml(FITTED))


def _scaled() -> Scenario:
    """The default region made national: what the national fit is laid on."""
    return load(shipped_dir() / "_netherlands-scaled.toml").scenario


def _flat(data: dict, prefix: tuple = ()) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def _sets(data: dict, loc: tuple) -> bool:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def test_national_scenarios_are_shipped_with_the_national_stock():
    assert {"national", "national-corona"} <= set(shipped_names())
    national = load("national").scenario
    assert national.region.name == "netherlands"
    assert national.region.initial_stock == 413_030
    with OBSERVED.open() as f:
        stock_2013 = {(r["region"], r["year"]): int(r["caseload_december"]) for r in csv.DictReader(f)}
    assert stock_2013[("netherlands", "2013")] == national.region.initial_stock


def test_the_national_scenario_takes_its_fitted_parameters_from_the_national_fit():
    fitted = _fitted()
    national = _flat(load("national").scenario.model_dump(exclude=OWN))
    assert len(fitted) >= 19
    for key, value in fitted.items():
        assert national[key] == value, ".".join(key)
    # and everything else is the default region made national
    scaled = _flat(_scaled().model_dump(exclude=OWN))
    assert {key for key in scaled if national[key] != scaled[key]} <= set(fitted)


def test_only_counts_and_staff_differ_between_the_scaled_and_the_default_region():
    scaled = _flat(_scaled().model_dump(exclude=OWN))
    baseline = _flat(load("baseline").scenario.model_dump(exclude=OWN))
    differing = {key for key in baseline if scaled[key] != baseline[key]}
    # both teams follow their caseload norm, so no staff count is set; the BUIG grant is a count
    grants = {key for key in differing if key[:2] == ("money", "state_grant_eur_per_year")}
    assert grants and differing - grants <= SCALED
    for key in grants:
        assert scaled[key] == baseline[key] * RATIO


def test_scaling_files_hold_no_count_the_loader_also_scales():
    """A count written in a file that says scale_to_stock would be a hand copy of a scaled value."""
    scaling = {p.name: read_toml(p) for p in sorted(shipped_dir().glob("*.toml")) if SCALE_KEY in read_toml(p)}
    assert "_netherlands-scaled.toml" in scaling
    for name, data in scaling.items():
        included = load(shipped_dir() / name).scenario.model_dump()
        for loc in [("region", "initial_stock"), *count_locations(included)]:
            assert not _sets(data, loc), f"{name} sets {'.'.join(loc)}, which {SCALE_KEY} scales"


def test_the_scaled_region_equals_its_explicit_values_bit_for_bit():
    baseline = load("baseline").scenario
    inflow, chain = baseline.inflow, baseline.chain
    explicit = {
        "region": {"name": "netherlands", "initial_stock": 413_030},
        "inflow": {
            "base_notifications_per_year": inflow.base_notifications_per_year * RATIO,
            "refugee_notifications_per_permit": inflow.refugee_notifications_per_permit * RATIO,
            "ww_notifications_per_year_per_month_shorter": inflow.ww_notifications_per_year_per_month_shorter * RATIO,
            "wajong_wsw_notifications_per_year": inflow.wajong_wsw_notifications_per_year * RATIO,
        },
        "chain": {  # whole places, talks and intakes: rounded
            "information_meeting_places": round(chain.information_meeting_places * RATIO),
            "extra_meeting_queue_threshold": round(chain.extra_meeting_queue_threshold * RATIO),
            "diagnosis_talks_per_weekday": round(chain.diagnosis_talks_per_weekday * RATIO),
            "intakes_per_weekday": round(chain.intakes_per_weekday * RATIO),
        },
        "money": {
            "state_grant_eur_per_year": {y: g * RATIO for y, g in baseline.money.state_grant_eur_per_year.items()}
        },
    }
    national = _scaled()
    assert national.model_dump(exclude=OWN) == with_overrides(baseline, explicit).model_dump(exclude=OWN)
    assert (national.chain.information_meeting_places, national.chain.intakes_per_weekday) == (2986, 995)
    # the calibration's scaled population is the same rule
    assert national.model_dump(exclude=OWN) == with_overrides(
        baseline, scale_overrides(baseline, "netherlands", 413_030)
    ).model_dump(exclude=OWN)


def test_national_corona_is_national_with_the_corona_shock():
    national = load("national").scenario
    corona = load("national-corona").scenario
    assert sorted(corona.shocks) == ["corona", "corona-lockdown"]
    assert corona.model_dump(exclude={"name", "description", "shocks"}) == national.model_dump(
        exclude={"name", "description", "shocks"}
    )


def _models(model: type[BaseModel], in_list: bool = False) -> list[tuple[type[BaseModel], bool]]:
    found = [(model, in_list)]
    for field in model.model_fields.values():
        annotation = field.annotation
        listed = in_list or typing.get_origin(annotation) is list
        for arg in (annotation, *typing.get_args(annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found += _models(arg, listed)
    return found


def test_no_count_lives_in_a_list_of_tables():
    """Scaling walks tables and named tables, not lists: a count in a shock or trajectory would be missed."""
    for model, in_list in _models(Scenario):
        if in_list:
            assert not any(is_count(f) for f in model.model_fields.values()), model.__name__


def test_the_scenarios_doc_names_every_count():
    section = SCENARIOS_DOC.read_text(encoding="utf-8").split("## A region at another size", 1)[1]
    for loc in count_locations(load("baseline").scenario.model_dump()):
        # a policy's count is named by its lever and field (`staffing.work_consultants`), once for every policy
        name = f"`{'.'.join(loc[2:])}`" if loc[0] == "policies" else f"`{'.'.join(loc)}`"
        assert name in section, f"docs/scenarios.md does not name the count {name}"
