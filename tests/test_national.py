"""The national scenarios: the default region scaled in its counts, every rate unchanged."""

from __future__ import annotations

import csv
from pathlib import Path

from sim.scenario import load, shipped_names

SCALED = {
    ("region", "name"), ("region", "initial_stock"),
    ("inflow", "base_notifications_per_year"), ("inflow", "wajong_wsw_notifications_per_year"),
    ("inflow", "refugee_notifications_per_permit"), ("inflow", "ww_notifications_per_year_per_month_shorter"),
    ("chain", "information_meeting_places"), ("chain", "extra_meeting_queue_threshold"),
    ("chain", "diagnosis_talks_per_weekday"), ("chain", "intakes_per_weekday"),
}
OBSERVED = Path(__file__).resolve().parent.parent / "calibration" / "data" / "observed_caseload.csv"


def _flat(data: dict, prefix: tuple = ()) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def test_national_scenarios_are_shipped_with_the_national_stock():
    assert {"national", "national-corona"} <= set(shipped_names())
    national = load("national").scenario
    assert national.region.name == "netherlands"
    assert national.region.initial_stock == 413_030
    with OBSERVED.open() as f:
        stock_2013 = {(r["region"], r["year"]): int(r["caseload_december"]) for r in csv.DictReader(f)}
    assert stock_2013[("netherlands", "2013")] == national.region.initial_stock


def test_only_counts_and_staff_differ_from_the_default_region():
    national = _flat(load("national").scenario.model_dump(exclude={"name", "description"}))
    baseline = _flat(load("baseline").scenario.model_dump(exclude={"name", "description"}))
    differing = {key for key in baseline if national[key] != baseline[key]}
    staff = {key for key in differing if key[0] == "policies" and key[-1] == "work_consultants"}
    assert differing - staff <= SCALED
    ratio = 413_030 / 1_660
    for key in staff:
        assert abs(national[key] / baseline[key] - ratio) < 0.01 * ratio


def test_national_counts_follow_the_default_regions_fitted_counts():
    """national.toml holds LV's counts times 248.8: a refit of LV without rescaling fails here."""
    national = _flat(load("national").scenario.model_dump())
    baseline = _flat(load("baseline").scenario.model_dump())
    ratio = 413_030 / 1_660
    for key in SCALED - {("region", "name"), ("region", "initial_stock")}:
        # capacities are rounded to whole places; counts to a few digits
        tolerance = 1.0 if key[0] == "chain" else 1e-4 * national[key] + 0.1
        assert abs(national[key] - baseline[key] * ratio) <= tolerance, key


def test_national_corona_is_national_with_the_corona_shock():
    national = load("national").scenario
    corona = load("national-corona").scenario
    assert [s.name for s in corona.shocks] == ["corona"]
    assert corona.model_dump(exclude={"name", "description", "shocks"}) == national.model_dump(
        exclude={"name", "description", "shocks"}
    )
