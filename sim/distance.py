"""Distance to the labour market (afstand tot de arbeidsmarkt), in months, and how it changes.

Each client has a true distance; it sets the job-finding hazard's distance group (sim/work.py)
and, through a diagnosis with an error, the category and route (sim/clients.py, sim/routes.py).
The stock's distances are drawn by category (sim/clients.add_initial_stock), newcomers' from a
lognormal (sim/inflow.py). After that, each month on benefit, activation shrinks the distance
and inactivity grows it, faster the longer a client is on assistance: a neglected far group
hardens into the granite stock (docs/model.md 'Distance dynamics', docs/domain.md 'The two
policies to compare'). The parameters are the scenario's `distance` section (sim/parameters.Distance).
"""

from __future__ import annotations

from typing import NamedTuple

from sim.compiled import compiled
from sim.parameters import Distance


class DistanceRules(NamedTuple):
    """The scenario's distance parameters as compiled code reads them, made once a run."""

    drift_months_per_month: float  # inactivity_drift_months_per_month
    drift_growth_per_year: float
    activation_gain_months_per_month: float
    max_months: float


def distance_rules(distance: Distance) -> DistanceRules:
    """The scenario's DistanceRules."""
    return DistanceRules(
        drift_months_per_month=float(distance.inactivity_drift_months_per_month),
        drift_growth_per_year=float(distance.drift_growth_per_year),
        activation_gain_months_per_month=float(distance.activation_gain_months_per_month),
        max_months=float(distance.max_months),
    )


@compiled
def activation(in_trajectory: bool, contact_intensity: float) -> float:
    """How activated a client is in a month, from 0 to 1: fully in a trajectory, else the contact
    intensity (sim/consultants.contact_intensity; docs/model.md 'Distance dynamics')."""
    return max(1.0 if in_trajectory else 0.0, contact_intensity)


@compiled
def distance_after_month(
    distance_months: float,
    activation_share: float,
    trajectory_gain_months_per_month: float,
    years_on: float,
    exposure_months: float,
    r: DistanceRules,
) -> float:
    """The true distance after `exposure_months` on benefit (docs/model.md 'Distance dynamics'):
    change = (drift × (1 - activation) - gain) × exposure, with drift = inactivity drift ×
    (1 + drift growth × years on assistance) and gain = activation gain × activation + the
    trajectory's gain (0 outside a trajectory); kept between 0 and `max_months`."""
    drift = r.drift_months_per_month * (1.0 + r.drift_growth_per_year * years_on)
    gain = r.activation_gain_months_per_month * activation_share + trajectory_gain_months_per_month
    change = (drift * (1.0 - activation_share) - gain) * exposure_months
    return min(max(distance_months + change, 0.0), r.max_months)
