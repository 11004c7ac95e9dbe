"""A region at another size: scale the count-like fields of a scenario, keep every rate.

To calibrate the Netherlands (413,030 clients in December 2013) without simulating 413,030
clients, the default region's scenario is run with a population of `population_scale` times the
national stock. Every field that is a number of people or of places (the start stock, extra
inflow groups, the chain's capacities, the staff) is multiplied by the ratio of the simulated
start stock to the scenario's; hazards, shares, elasticities and distances are rates and stay.
Simulated counts are divided by `population_scale` before they meet the observed figures.
"""

from __future__ import annotations

from typing import Any

from sim.parameters import Scenario

COUNT_FIELDS = (
    ("inflow", "base_notifications_per_year"),
    ("inflow", "refugee_notifications_per_permit"),
    ("inflow", "ww_notifications_per_year_per_month_shorter"),
    ("inflow", "wajong_wsw_notifications_per_year"),
)
CAPACITY_FIELDS = (
    ("chain", "information_meeting_places"),
    ("chain", "diagnosis_talks_per_weekday"),
    ("chain", "intakes_per_weekday"),
    ("chain", "extra_meeting_queue_threshold"),
)


def scale_overrides(scenario: Scenario, region: str, initial_stock: int) -> dict[str, Any]:
    """Overrides that turn `scenario` into `region` with `initial_stock` clients, rates unchanged."""
    if region == scenario.region.name and initial_stock == scenario.region.initial_stock:
        return {}
    ratio = initial_stock / max(scenario.region.initial_stock, 1)
    out: dict[str, Any] = {"region": {"name": region, "initial_stock": int(initial_stock)}}
    for block, field in COUNT_FIELDS:
        out.setdefault(block, {})[field] = getattr(getattr(scenario, block), field) * ratio
    for block, field in CAPACITY_FIELDS:
        out.setdefault(block, {})[field] = max(1, round(getattr(getattr(scenario, block), field) * ratio))
    out["policies"] = {name: {"work_consultants": p.work_consultants * ratio} for name, p in scenario.policies.items()}
    return out
