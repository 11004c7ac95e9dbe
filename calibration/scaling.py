"""A region at another size for a calibration: the scenario's counts scaled, every rate kept.

To calibrate the Netherlands (413,030 clients in December 2013) without simulating 413,030
clients, the default region's scenario is run with a population of `population_scale` times the
national stock. The scaling is the one a scenario file's `scale_to_stock` asks for
(`sim.scenario.scaled_counts`): every field sim/parameters.py marks as a count (the start
stock, the inflow groups, the chain's capacities, the staff) is multiplied by the ratio of the
simulated start stock to the scenario's; hazards, shares, elasticities and distances are rates
and stay. Simulated counts are divided by `population_scale` before they meet the observed figures.
"""

from __future__ import annotations

from typing import Any

from sim.config import merge
from sim.parameters import Scenario
from sim.scenario import scaled_counts


def scale_overrides(scenario: Scenario, region: str, initial_stock: int) -> dict[str, Any]:
    """Overrides that turn `scenario` into `region` with `initial_stock` clients, rates unchanged."""
    if region == scenario.region.name and initial_stock == scenario.region.initial_stock:
        return {}
    counts = scaled_counts(scenario.model_dump(mode="python"), int(initial_stock))
    return merge(counts, {"region": {"name": region}})
