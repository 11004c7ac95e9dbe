"""How sure the fit is: bootstrap intervals, sensitivity, correlation, weakly identified parameters, bands.

Bootstrap over replications and targets, linearised at the optimum (a Gauss-Newton step, so a
draw costs no new simulation): each draw resamples the replications of the best point (the
simulation noise of the simulated moments), perturbs the observed figures as another history
could have (the deviation of a random replication from the mean: the observed series is one
draw of the process) and flips the signs of the target residuals at random (a wild bootstrap of
the misfit; together with the deviation this is conservative), draws the prior means from the
priors (randomise-then-optimise: a parameter the data do not pin gets about its prior's spread
rather than a spuriously narrow interval), and moves the parameters by the
least-squares step that answers the changed residuals, using the Jacobian of the residuals
(priors included, so a parameter the data do not pin falls back to its prior). Intervals are
the 5th and 95th percentiles of the draws, clipped to the bounds.

A parameter is weakly identified when the data remove less than half of its prior variance
(shrinkage below 0.5, from the Jacobian), or when its estimate is almost a function of another's
(|correlation| above 0.9).

The draws themselves are the calibration's parameter uncertainty for the analyses
(`draws_table`, written as draws.csv beside the fitted file): `caseload compare --parameter-draws`
runs the model at each of them (docs/comparing.md "Parameter uncertainty").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.fit import FitResult
from calibration.objective import EvaluationFailed, one_line, reraise_interrupt
from sim.replications import Executor, ReplicationTask, SerialExecutor, run_task


@dataclass
class Uncertainty:
    draws: np.ndarray  # bootstrap draws x parameters (parameter units)
    table: pd.DataFrame  # per parameter: estimate, low, high, sensitivity, shrinkage, weak
    correlation: pd.DataFrame
    weak: list[str]


def bootstrap(fit: FitResult, draws: int, seed: int) -> Uncertainty:
    """Linearised bootstrap over replications and targets (module docstring)."""
    p = fit.problem
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    moments = fit.best.moments
    reps, k = moments.shape
    n = len(p.parameters)
    jac = fit.jacobian
    r0 = fit.best.residuals
    step = np.linalg.pinv(jac)  # (J'J)^-1 J'
    mean0 = moments.mean(axis=0)
    out = np.empty((draws, n))
    deviations = (moments - mean0) * np.sqrt(reps / (reps - 1)) if reps > 1 else np.zeros_like(moments)
    for b in range(draws):
        idx = rng.integers(0, reps, reps)
        signs = rng.choice([-1.0, 1.0], size=k)
        # the observed figures are one history: another history differs by a replication's deviation,
        # and the misfit could have had either sign (wild bootstrap of the residuals)
        values = p.targets.values + signs * (p.targets.values - mean0) + deviations[rng.integers(0, reps)]
        rb = p.residuals(fit.best.u, moments[idx], values)
        rb[k:] -= rng.standard_normal(n)  # a prior mean drawn from the prior (randomise-then-optimise)
        out[b] = np.clip(fit.best.u - step @ (rb - r0), 0.0, 1.0)
    theta = np.array([p.theta(u) for u in out])
    # sensitivity: rise of the data part of the objective when a parameter moves 10% of its range
    j_data = jac[:k]
    sensitivity = ((0.1 * j_data) ** 2).sum(axis=0)
    prior_var_unit = (p.prior_sd / (p.upper - p.lower)) ** 2
    post_cov = np.linalg.pinv(jac.T @ jac)
    shrinkage = 1.0 - np.clip(np.diag(post_cov) / prior_var_unit, 0.0, 1.0)
    sd = theta.std(axis=0)
    corr = np.corrcoef(theta.T) if n > 1 else np.ones((1, 1))
    corr = np.nan_to_num(corr, nan=0.0)
    names = p.names
    weak = weakly_identified(names, shrinkage, corr)
    table = pd.DataFrame(
        {
            "parameter": names,
            "estimate": fit.theta,
            "low": np.percentile(theta, 5, axis=0),
            "high": np.percentile(theta, 95, axis=0),
            "sd": sd,
            "lower_bound": p.lower,
            "upper_bound": p.upper,
            "prior_mean": p.prior_mean,
            "prior_sd": p.prior_sd,
            "sensitivity": sensitivity,
            "shrinkage": shrinkage,
            "weak": [name in weak for name in names],
        }
    )
    return Uncertainty(theta, table, pd.DataFrame(corr, index=names, columns=names), weak)


WEAK_SHRINKAGE = 0.5
"""Below this share of its prior variance removed by the data, a parameter is weakly identified."""
WEAK_CORRELATION = 0.9
"""Above this |correlation| with another estimate, a parameter is weakly identified."""


def weakly_identified(names: list[str], shrinkage: np.ndarray, corr: np.ndarray) -> list[str]:
    """The parameters the data pin poorly: little shrinkage, or almost a function of another."""
    weak = []
    for i, name in enumerate(names):
        others = [abs(corr[i, j]) for j in range(len(names)) if j != i]
        if shrinkage[i] < WEAK_SHRINKAGE or (others and max(others) > WEAK_CORRELATION):
            weak.append(name)
    return weak


DRAW_COLUMN = "draw"
"""draws.csv's first column: the draw's number, 0 to N-1."""


def draws_table(fit: FitResult, unc: Uncertainty) -> pd.DataFrame:
    """draws.csv: one row per bootstrap draw, its number then every fitted parameter (dotted scenario
    path) in the fitted file's units (counts at the region's full size, as the fitted file has them)."""
    table = pd.DataFrame(unc.draws, columns=fit.problem.names)
    table.insert(0, DRAW_COLUMN, np.arange(len(table)))
    return table


def caseload_paths(
    fit: FitResult,
    thetas: list[np.ndarray],
    until_year: int,
    executor: Executor | None = None,
    replications: list[int] | None = None,
) -> pd.DataFrame:
    """December caseload (observed units) per year for parameter draws; row i uses replication i unless given."""
    p = fit.problem
    executor = executor or SerialExecutor()
    reps = replications if replications is not None else list(range(len(thetas)))
    tasks = [
        ReplicationTask(p.scenario(theta, until_year), p.calibration.seed, r)
        for theta, r in zip(thetas, reps, strict=True)
    ]
    rows: dict[int, pd.Series] = {}
    for i, result in executor.map_unordered(run_task, tasks):
        if isinstance(result, BaseException):
            reraise_interrupt(result)
            raise EvaluationFailed(
                f"caseload path {i} (replication {reps[i]}, seed {p.calibration.seed}) failed at "
                f"{np.asarray(thetas[i]).tolist()}: {one_line(result)}"
            ) from result
        y = result.yearly.set_index("year")["caseload_december"].astype(float) / p.calibration.population_scale
        rows[i] = y
    return pd.DataFrame([rows[i] for i in range(len(tasks))]).reset_index(drop=True)


def fitted_paths(fit: FitResult, until_year: int, executor: Executor | None = None) -> pd.DataFrame:
    """The best point's replications (the same seeds as the fit), run to `until_year`."""
    reps = fit.problem.calibration.reps
    return caseload_paths(fit, [fit.theta] * reps, until_year, executor, list(range(reps)))


def band(
    fit: FitResult, unc: Uncertainty, until_year: int, draws: int, executor: Executor | None = None
) -> pd.DataFrame:
    """5-95% band of the caseload path over parameter draws (each with its own replication)."""
    if draws <= 0:
        return pd.DataFrame()
    pick = np.linspace(0, len(unc.draws) - 1, draws).astype(int)
    paths = caseload_paths(fit, [unc.draws[i] for i in pick], until_year, executor, list(range(draws)))
    return pd.DataFrame({"low": paths.quantile(0.05), "high": paths.quantile(0.95)})
