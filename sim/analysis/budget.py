"""The budget view of yearly tables: grant, BUIG balance, savings, discounting, break-even.

These work on the yearly tables (one row per year and replication), after the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.parameters import Scenario


def state_grant_eur(scenario: Scenario, year: int) -> float | None:
    """The BUIG grant for `year` if the scenario gives one (`money.state_grant_eur_per_year`), else None."""
    value = scenario.money.state_grant_eur_per_year.get(str(year))
    return None if value is None else float(value)


def budget_columns(yearly: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Yearly rows with `total_spending_eur`, `state_grant_eur` and `buig_balance_eur` added.

    total = benefit + trajectory spending (two budgets: BUIG and participation); balance =
    grant - benefit spending (positive: surplus on the BUIG, negative: deficit), NaN for years
    without a grant.
    """
    out = yearly.copy()
    benefit = out["benefit_spending_eur"].astype("float64")
    out["total_spending_eur"] = benefit + out["trajectory_spending_eur"].astype("float64")
    grant = out["year"].astype(int).map(lambda y: state_grant_eur(scenario, y)).astype("float64")
    out["state_grant_eur"] = grant
    out["buig_balance_eur"] = grant - benefit
    return out


def discount_factors(years: np.ndarray, base_year: int, rate: float) -> np.ndarray:
    """Present-value factor of each year's euros, discounted to `base_year` at yearly `rate` (0: none)."""
    if rate <= -1.0:
        raise ValueError(f"discount rate must be above -1 (got {rate})")
    return (1.0 + rate) ** -(np.asarray(years, dtype=float) - base_year)


def break_even_year(years: np.ndarray, cumulative_saving: np.ndarray) -> int | None:
    """First year from which the cumulative net saving is positive and stays so; None if never.

    Net saving = benefit saving - extra trajectory cost (both against the reference), summed
    from the first year of the horizon: the year a policy has paid for itself.
    """
    years = np.asarray(years)
    positive = np.asarray(cumulative_saving, dtype=float) > 0
    if len(positive) == 0 or not positive[-1]:
        return None
    not_positive = np.flatnonzero(~positive)
    return int(years[0] if len(not_positive) == 0 else years[not_positive[-1] + 1])
