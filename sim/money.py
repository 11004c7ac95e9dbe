"""Money the model books: benefit spending on the BUIG budget and trajectory spending on the participation budget.

The budget view of the yearly tables (grant, balance, discounting, break-even) is an analysis:
`sim.analysis.budget`.
"""

from __future__ import annotations

import numpy as np

from sim.calendar import DAYS_PER_MONTH
from sim.parameters import Scenario


def benefit_client_months(days_on_benefit: np.ndarray, benefit_share: np.ndarray) -> float:
    """Full-benefit client-months: days on benefit times the benefit share (1 full, less partial)."""
    return float(np.dot(days_on_benefit, benefit_share) / DAYS_PER_MONTH)


def benefit_spending_eur(scenario: Scenario, client_months: float) -> float:
    """Benefit spending: full-benefit client-months times the monthly benefit."""
    return client_months * scenario.money.benefit_eur_per_full_year / 12.0


def trajectory_prices(scenario: Scenario) -> np.ndarray:
    """Price in euros of each trajectory type in the basket."""
    return np.array([t.price_eur for t in scenario.trajectories.basket])


def trajectory_spending_eur(prices: np.ndarray, types_started: np.ndarray) -> float:
    """Price of the trajectories started, booked in the month they start."""
    return float(prices[types_started].sum())
