"""A whole calibration: fit, uncertainty, fitted path with band, out-of-sample years, yardstick.

`run_calibration` is what `caseload calibrate` calls; `calibration.report` turns its result into
the output folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from calibration import stockflow
from calibration.config import Calibration
from calibration.fit import FitResult, calibrate
from calibration.objective import Evaluation, Evaluator
from calibration.uncertainty import Uncertainty, band, bootstrap, fitted_paths
from sim.replications import Executor


@dataclass
class CalibrationResult:
    calibration: Calibration
    fit: FitResult
    uncertainty: Uncertainty
    path: pd.DataFrame  # per year: observed, simulated (mean), low, high, in_sample, stockflow, errors
    yardstick: stockflow.StockFlowFit
    seconds: float


def _errors(path: pd.DataFrame, column: str, mask: pd.Series) -> dict[str, float]:
    rows = path[mask]
    if rows.empty:
        return {"rmse": float("nan"), "mape": float("nan"), "max_abs_pct": float("nan")}
    err = rows[column] - rows["observed"]
    pct = 100 * err / rows["observed"]
    return {
        "rmse": float(np.sqrt((err**2).mean())),
        "mape": float(pct.abs().mean()),
        "max_abs_pct": float(pct.abs().max()),
    }


def summary(path: pd.DataFrame) -> pd.DataFrame:
    """RMSE, MAPE and worst year, in and out of sample, for the simulation and the yardstick."""
    rows = []
    after_start = path.index > path.index.min()
    for label, mask in (("in sample", path["in_sample"] & after_start), ("out of sample", ~path["in_sample"])):
        for model, column in (("microsimulation", "simulated"), ("stock-flow yardstick", "stockflow")):
            rows.append({"years": label, "model": model, **_errors(path, column, mask)})
    return pd.DataFrame(rows)


def run_calibration(
    calibration: Calibration,
    state_dir: Path,
    executor: Executor | None = None,
    fit_years: tuple[int, int] | None = None,
    on_evaluation: Callable[[Evaluation, Evaluator], None] | None = None,
    observed: pd.Series | None = None,
    on_note: Callable[[str], None] | None = None,
    on_fitted: Callable[[FitResult], None] | None = None,
) -> CalibrationResult:
    """The fit, then its uncertainty, paths and yardstick; `on_fitted` hears of the fit when it ends,
    before the bootstrap and the band run."""
    started = time.perf_counter()
    fit_years = fit_years or calibration.fit_years
    fit = calibrate(calibration, state_dir, executor, fit_years, on_evaluation, observed, on_note)
    if on_fitted is not None:
        on_fitted(fit)
    unc = bootstrap(fit, calibration.bootstrap, calibration.seed)
    observed = fit.problem.targets.observed
    last_observed = int(max(observed.index))
    until = max(last_observed, fit_years[1])
    paths = fitted_paths(fit, until, executor)
    bands = band(fit, unc, until, calibration.band_draws, executor)
    years = [t for t in range(fit_years[0], until + 1) if t in observed.index]
    path = pd.DataFrame({"observed": observed.loc[years]})
    path["simulated"] = paths.mean(axis=0).reindex(years)
    path["sim_low"] = paths.quantile(0.05).reindex(years)
    path["sim_high"] = paths.quantile(0.95).reindex(years)
    if not bands.empty:
        path["low"] = bands["low"].reindex(years)
        path["high"] = bands["high"].reindex(years)
    path["in_sample"] = [t <= fit_years[1] for t in years]
    drivers = fit.problem.base.drivers
    unemployment = pd.Series(drivers.unemployment_pct, index=drivers.years)
    shares = [
        (m.statistic.split("_")[0], m.years[0], m.value, m.sd)
        for m in calibration.moments
        if m.statistic in ("inflow_share_of_stock", "outflow_share_of_stock") and len(m.years) == 1
    ]
    # the yardstick meets the stocks only, so it is fitted on the years with stock targets
    stock_years = (fit_years[0], fit.problem.targets.stock_last)
    yard = stockflow.fit(observed, unemployment, stock_years, shares, calibration.stocks.relative_sd, until)
    path["stockflow"] = yard.path.reindex(years)
    path["error_pct"] = 100 * (path["simulated"] - path["observed"]) / path["observed"]
    path["stockflow_error_pct"] = 100 * (path["stockflow"] - path["observed"]) / path["observed"]
    path.index.name = "year"
    return CalibrationResult(calibration, fit, unc, path, yard, time.perf_counter() - started)
