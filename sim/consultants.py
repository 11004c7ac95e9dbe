"""Work consultants as a limited resource: who is served, the caseload, and contacts it allows.

The team (werkconsulenten) is a number of staff set by the policy's staffing rule; the policy
says whom they serve and the most clients one may hold (caseload norm). Contacts per served client follow from capacity over the
caseload, so the same team spread over more clients gives each one less contact (docs/model.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.compiled import compiled
from sim.parameters import Contact, Money, Policy, Scenario, Staffing


@dataclass(frozen=True)
class Guidance:
    """Result of assigning consultants for one month."""

    served: np.ndarray  # bool per client asked
    work_consultants: float  # the team (FTE)
    caseload_per_consultant: float  # served clients per work consultant (inf with no staff)
    contacts_per_served_per_year: float


def clients_to_serve(distance_diag: np.ndarray, route_served: np.ndarray, policy: Policy) -> np.ndarray:
    """Clients the policy's work consultants are for (lever `served`): on a route they serve, with
    a diagnosed distance of at most served.max_distance_months (focus: 24 months on category 1's
    routes, broad: everyone; docs/domain.md 'The two policies to compare')."""
    return route_served & (distance_diag <= policy.served.max_distance_months)


def team_size(staffing: Staffing, to_serve: int, money: Money) -> float:
    """The team of work consultants (FTE) by the staffing rule, for `to_serve` clients: a fixed
    team, the clients over the caseload norm (within the ceiling), or what the staff budget pays."""
    if staffing.rule == "fixed":
        return float(staffing.work_consultants)
    if staffing.rule == "budget":
        return float(staffing.budget_eur_per_year) / money.work_consultant_eur_per_fte_year
    team = to_serve / staffing.caseload_norm
    return team if staffing.max_work_consultants is None else min(team, float(staffing.max_work_consultants))


def assign_consultants(
    distance_diag: np.ndarray, to_serve: np.ndarray, team: float, caseload_norm: float, contact: Contact
) -> Guidance:
    """Serve the clients `to_serve` (clients_to_serve) closest to the labour market first, up to
    the team x caseload norm."""
    eligible = to_serve
    capacity = team * caseload_norm
    n_eligible = int(np.count_nonzero(eligible))
    # a team that follows the norm is n / norm: the product may round a hair below n
    if n_eligible > capacity * (1 + 1e-12):
        idx = np.flatnonzero(eligible)
        keep = idx[closest_first(distance_diag[idx], int(math.floor(capacity * (1 + 1e-12))))]
        eligible = np.zeros_like(eligible)
        eligible[keep] = True
        n_eligible = len(keep)
    if team <= 0:
        return Guidance(np.zeros_like(eligible), 0.0, math.inf, 0.0)
    caseload = n_eligible / team
    return Guidance(eligible, team, caseload, contact_rate(caseload, contact))


def closest_first(distance: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` smallest distances, ties in order of position: the set the first `k`
    of a stable argsort give (in position order), found by a partition rather than a full sort."""
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k >= len(distance):
        return np.arange(len(distance))
    kth = np.partition(distance, k - 1)[k - 1]
    below = distance < kth
    ties = (distance == kth).nonzero()[0][: k - int(np.count_nonzero(below))]
    below[ties] = True
    return below.nonzero()[0]


def contact_rate(caseload: float, contact: Contact) -> float:
    """Contacts a year for each client of a consultant holding `caseload` clients: capacity over
    caseload, at most max_contacts_per_client_per_year (docs/model.md 'Consultants')."""
    if caseload <= 0:
        return contact.max_contacts_per_client_per_year
    if math.isinf(caseload):
        return 0.0
    return min(contact.max_contacts_per_client_per_year, contact.contacts_per_consultant_per_year / caseload)


def contact_intensity(contacts_per_year: np.ndarray, contact: Contact) -> np.ndarray:
    """Saturating intensity in [0, 1): the share of the full contact effect reached,
    1 - exp(-contacts / contact_saturation_per_year) (docs/model.md 'Consultants')."""
    return 1.0 - np.exp(-contacts_per_year / contact.contact_saturation_per_year)


def contact_multiplier(intensity: np.ndarray, contact: Contact) -> np.ndarray:
    """Job-finding multiplier of contact at `intensity` (contact_intensity): 1 without contact,
    rising to 1 + contact_effect_max at saturation (docs/model.md 'Consultants')."""
    return 1.0 + contact.contact_effect_max * intensity


def contact_levels(guidance: Guidance, policy: Policy) -> np.ndarray:
    """Contacts a year at each contact level (see contact_level): unserved, served, and both guided.

    Guided participation clients get at least the guidance contacts; everyone else what their
    consultant, or the income consultant, gives. A client's contacts are one of these four.
    """
    served_or_not = np.array([policy.contact.unserved_contacts_per_year, guidance.contacts_per_served_per_year])
    guided = np.maximum(served_or_not, policy.contact.guidance_contacts_per_year)
    return np.concatenate([served_or_not, guided])


def trial_job_finding_gain(
    scenario: Scenario, caseload: float, control_caseload: float, months: float, years_on: float
) -> float:
    """How many more clients (a share) find a job within `months` at a consultant's `caseload` than at
    `control_caseload`, as the scenario's hazards say for a caseload-reduction trial's population:
    clients of 50 and over (target group older) at the near distance group (3-24 months), `years_on`
    years on assistance, at the reference labour market, held constant over the trial. The
    calibration meets this with the one trial that has a number (docs/domain.md: Almere, 45-plus,
    caseload 25-35, about +8 points), so contact's effect is anchored on it."""
    work, contact = scenario.work, scenario.contact
    base = work.base_work_per_month["near"] * work.work_multiplier_by_group["older"]
    scarred = base * math.exp(-work.scarring_per_year * years_on)

    def finds(load: float) -> float:
        contacts = contact_rate(load, contact)
        multiplier = float(contact_multiplier(contact_intensity(np.array([contacts]), contact), contact)[0])
        return -math.expm1(-scarred * multiplier * months)

    return finds(caseload) - finds(control_caseload)


@compiled
def contact_level(served: bool, guided: bool) -> int:
    """A client's index into contact_levels: 1 if served, plus 2 if guided."""
    return np.int64(served) + 2 * np.int64(guided)
