"""The budget view of yearly tables: grant, BUIG balance, savings, discounting, break-even.

These work on the yearly tables (one row per year and replication), after the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.money import STAFF_COLUMNS
from sim.parameters import Money, Scenario

BUDGETS = {
    "buig": ["benefit_spending_eur"],
    "participation": ["trajectory_spending_eur"],
    "staff": STAFF_COLUMNS,
}
"""The budgets a choice moves and the yearly items each holds: the BUIG (benefits, full and partial),
the participation budget (purchased trajectories) and the municipality's staff budget."""


def state_grant_eur(scenario: Scenario, year: int) -> float | None:
    """The BUIG grant for `year`: the one the scenario gives (`money.state_grant_eur_per_year`), or
    after the last year given, with `state_grant_indexed_after_last`, that grant indexed as the
    benefit; else None."""
    money = scenario.money
    value = money.state_grant_eur_per_year.get(str(year))
    if value is not None:
        return float(value)
    years = sorted(int(y) for y in money.state_grant_eur_per_year)
    if not money.state_grant_indexed_after_last or not years or year < years[-1]:
        return None
    last = years[-1]
    return float(money.state_grant_eur_per_year[str(last)]) * (1.0 + money.benefit_indexation_per_year) ** (year - last)


def safety_net_eur(money: Money, grant: np.ndarray, deficit: np.ndarray) -> np.ndarray:
    """The safety-net payment (vangnetuitkering) for a BUIG deficit: the municipality bears it in
    full up to the own-risk share of the grant, half of it up to the half share, none above; zero
    when the scenario does not apply the rule or there is no deficit."""
    grant = np.asarray(grant, dtype=float)
    deficit = np.maximum(np.asarray(deficit, dtype=float), 0.0)
    if not money.safety_net:
        return np.zeros_like(deficit)
    own, half = money.safety_net_own_risk_share * grant, money.safety_net_half_share * grant
    shared = np.clip(deficit - own, 0.0, half - own)
    return 0.5 * shared + np.maximum(deficit - half, 0.0)


def budget_columns(yearly: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Yearly rows with each budget's total (`buig_spending_eur`, `participation_spending_eur`,
    `staff_spending_eur`), `total_spending_eur`, `state_grant_eur`, `safety_net_eur` and
    `buig_balance_eur` added.

    Balance = grant + safety net - benefit spending (positive: surplus on the BUIG, negative:
    deficit), NaN for years without a grant. Tables from before staff costs were booked (no staff
    columns) count no staff spending.
    """
    out = yearly.copy()
    total = 0.0
    for budget, items in BUDGETS.items():
        present = [c for c in items if c in out]
        spent = out[present].astype("float64").sum(axis=1) if present else pd.Series(0.0, index=out.index)
        spent = spent.where(out["benefit_spending_eur"].notna())  # the start year's row has no flows
        out[f"{budget}_spending_eur"] = spent
        total = total + spent.astype("float64")
    out["total_spending_eur"] = total
    benefit = out["benefit_spending_eur"].astype("float64")
    grant = out["year"].astype(int).map(lambda y: state_grant_eur(scenario, y)).astype("float64")
    net = safety_net_eur(scenario.money, grant.to_numpy(), (benefit - grant).to_numpy())
    out["state_grant_eur"] = grant
    out["safety_net_eur"] = np.where(grant.notna(), net, np.nan)
    out["buig_balance_eur"] = grant + out["safety_net_eur"] - benefit
    return out


def discount_factors(years: np.ndarray, base_year: int, rate: float) -> np.ndarray:
    """Present-value factor of each year's euros, discounted to `base_year` at yearly `rate` (0: none)."""
    if rate <= -1.0:
        raise ValueError(f"discount rate must be above -1 (got {rate})")
    return (1.0 + rate) ** -(np.asarray(years, dtype=float) - base_year)


def break_even_year(years: np.ndarray, cumulative_saving: np.ndarray) -> int | None:
    """First year from which the cumulative net saving is positive and stays so; None if never.

    Net saving = the reference's total spending (every budget) minus the scenario's, summed
    from the first year of the horizon: the year a policy has paid for itself.
    """
    years = np.asarray(years)
    positive = np.asarray(cumulative_saving, dtype=float) > 0
    if len(positive) == 0 or not positive[-1]:
        return None
    not_positive = np.flatnonzero(~positive)
    return int(years[0] if len(not_positive) == 0 else years[not_positive[-1] + 1])
