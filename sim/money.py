"""Money the model books, per budget: benefits on the BUIG, trajectories on the participation
budget, and the staff a policy employs (work consultants, income consultants' contacts, extra
guidance, aftercare) on the municipality's own budget.

The budget view of the yearly tables (grant, balance, discounting, break-even) is an analysis:
`sim.analysis.budget`.
"""

from __future__ import annotations

import numpy as np

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.clients import YOUNG_AGE
from sim.parameters import Money, Policy, Scenario


def benefit_client_months(days_on_benefit: np.ndarray, benefit_share: np.ndarray) -> float:
    """Full-benefit client-months: days on benefit times the benefit share (1 full, less partial)."""
    return float(np.dot(days_on_benefit, benefit_share) / DAYS_PER_MONTH)


def benefit_price(money: Money, year: int) -> float:
    """A full benefit for a year, in that year's prices (indexed from benefit_price_year)."""
    return money.benefit_eur_per_full_year * (1.0 + money.benefit_indexation_per_year) ** (
        year - money.benefit_price_year
    )


def benefit_spending_eur(scenario: Scenario, client_months: float, year: int) -> float:
    """Benefit spending: full-benefit client-months times the month's benefit in `year`'s prices."""
    return client_months * benefit_price(scenario.money, year) / 12.0


def back_pay_client_months(
    money: Money, notification_day: np.ndarray, birth_day: np.ndarray, benefit_start_day: np.ndarray
) -> float:
    """Client-months of benefit owed before it started, paid when it is granted: from the day of
    notification (Participatiewet art. 44(1)), for people under 27 from the end of their search
    period (art. 41(4), 44(2)); none if money.benefit_from_notification is off."""
    if not money.benefit_from_notification or len(notification_day) == 0:
        return 0.0
    young = (notification_day - birth_day) / DAYS_PER_YEAR < YOUNG_AGE
    owed_from = notification_day + np.where(young, money.young_search_weeks * 7.0, 0.0)
    return float(np.maximum(benefit_start_day - owed_from, 0.0).sum() / DAYS_PER_MONTH)


def trajectory_prices(scenario: Scenario) -> np.ndarray:
    """Price in euros of each trajectory type in the basket."""
    return np.array([t.price_eur for t in scenario.trajectories.basket])


def trajectory_spending_eur(prices: np.ndarray, types_started: np.ndarray) -> float:
    """Price of the trajectories started, booked in the month they start."""
    return float(prices[types_started].sum())


def staff_spending_eur(
    money: Money, policy: Policy, team_fte: float, unserved: int, guided: int, placements: int
) -> dict[str, float]:
    """A month's staff spending by item: the team of work consultants (FTE x a twelfth of the
    yearly cost), the income consultants' contacts with the `unserved`, the extra guidance of the
    `guided`, and aftercare for the month's `placements` (under a policy with aftercare)."""
    contact = policy.contact
    return {
        "work_consultant_spending_eur": team_fte * money.work_consultant_eur_per_fte_year / 12.0,
        "income_consultant_spending_eur": unserved
        * contact.unserved_contacts_per_year
        / 12.0
        * money.income_consultant_eur_per_contact,
        "guidance_spending_eur": guided * contact.guidance_contacts_per_year / 12.0 * money.guidance_eur_per_contact,
        "aftercare_spending_eur": placements * money.aftercare_eur_per_placement
        if policy.aftercare.retention_share > 0
        else 0.0,
    }


STAFF_COLUMNS = [
    "work_consultant_spending_eur",
    "income_consultant_spending_eur",
    "guidance_spending_eur",
    "aftercare_spending_eur",
]
"""The staff budget's items in the monthly and yearly tables (staff_spending_eur)."""
