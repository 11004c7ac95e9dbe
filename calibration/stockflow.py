"""The yardstick: a plain aggregate stock-flow model fitted with scipy on the same years.

    stock_t   = stock_{t-1} + inflow_t - outflow_t
    inflow_t  = inflow_base * (u_t / u_ref) ** inflow_elasticity
    outflow_t = outflow_rate * stock_{t-1} * (u_t / u_ref) ** -outflow_elasticity

Four parameters, the same unemployment driver as the microsimulation, no chain, no policy, no
composition. Fitted by `scipy.optimize.least_squares` to the December stocks (1% of the observed
as the residual scale, like the simulation) and, where the calibration file has them inside the
fitted years, to inflow and outflow as shares of the stock. It shows what the microsimulation
adds over a regression-style model and where it does worse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

NAMES = ("inflow_base", "inflow_elasticity", "outflow_rate", "outflow_elasticity")
LOWER = np.array([0.0, -3.0, 0.0, -3.0])
UPPER = np.array([1.0, 5.0, 1.0, 5.0])  # inflow_base as a share of the start stock


@dataclass
class StockFlowFit:
    params: dict[str, float]
    start_stock: float
    fit_years: tuple[int, int]
    path: pd.Series  # predicted stock per year, start year to the last driver year asked for
    cost: float


def simulate(
    params: np.ndarray, start_stock: float, years: list[int], unemployment: pd.Series, u_ref: float
) -> pd.DataFrame:
    """Stock, inflow and outflow per year after the start (inflow_base in share of the start stock)."""
    base, e_in, rate, e_out = params
    stock = start_stock
    rows = []
    for t in years:
        m = unemployment[t] / u_ref
        inflow = base * start_stock * m**e_in
        outflow = rate * stock * m ** (-e_out)
        prev, stock = stock, stock + inflow - outflow
        rows.append({"year": t, "stock": stock, "inflow": inflow, "outflow": outflow, "mean_stock": (prev + stock) / 2})
    return pd.DataFrame(rows).set_index("year")


def fit(
    observed: pd.Series,
    unemployment: pd.Series,
    fit_years: tuple[int, int],
    shares: list[tuple[str, int, float, float]] | None = None,
    relative_sd: float = 0.01,
    until_year: int | None = None,
) -> StockFlowFit:
    """Fit the four parameters; `shares` are (inflow|outflow, year, value, sd) flow targets."""
    first, last = fit_years
    u_ref = float(unemployment[first])
    start = float(observed[first])
    years = list(range(first + 1, last + 1))
    obs = observed.loc[years].to_numpy(dtype=float)
    shares = [s for s in (shares or []) if first < s[1] <= last]

    def residuals(x: np.ndarray) -> np.ndarray:
        sim = simulate(x, start, years, unemployment, u_ref)
        r = list((sim["stock"].to_numpy() - obs) / (relative_sd * obs))
        for kind, year, value, sd in shares:
            r.append((sim.loc[year, kind] / sim.loc[year, "mean_stock"] - value) / sd)
        return np.array(r)

    best = None
    for b in (0.2, 0.3, 0.4):
        for e in (0.0, 1.0):
            x0 = np.array([b, e, b, e])
            res = least_squares(residuals, x0, bounds=(LOWER, UPPER), method="trf")
            if best is None or res.cost < best.cost:
                best = res
    until = until_year or last
    path = simulate(best.x, start, list(range(first + 1, until + 1)), unemployment, u_ref)["stock"]
    path = pd.concat([pd.Series({first: start}), path])
    return StockFlowFit(dict(zip(NAMES, best.x.tolist(), strict=True)), start, fit_years, path, float(best.cost))
