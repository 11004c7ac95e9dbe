"""The fit: differential evolution over the unit cube, then a least-squares polish, all evaluations logged.

scipy's `differential_evolution` (seeded, deferred updating) proposes a whole population at a
time; the population goes to the executor as one batch of (point, replication) runs. Its best
point is polished by `scipy.optimize.least_squares` (trust-region reflective, within the bounds)
on the residual vector, with a finite-difference Jacobian whose columns are also evaluated as
one batch. The optimum is the best point either evaluated (the evolution's best, the polish's
end or a point of its Jacobians): the "best" the progress shows and the report gives. Both
optimisers are deterministic given their seed and the objective values, so a
run that finds its earlier evaluations in the log replays them and ends where an uninterrupted
run ends.

The budget is a ceiling on the fit's distinct evaluations (run now or found in the log), planned
up front: the Jacobian at the optimum (2 x parameters) is set aside, differential evolution gets
whole generations within its share (at least the first population), the polish the rest in
steps of a point and its Jacobian (2 x parameters + 1; at least one). A fit may end below its
budget (the evolution converged, or the rest is not a whole step), never above it;
`calibration.config.minimum_budget` is the least budget this plan fits in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution, least_squares

from calibration.config import (
    Calibration,
    CalibrationError,
    check_paths,
    kept_fields,
    option_name,
    population_size,
)
from calibration.config import load as load_calibration
from calibration.objective import Evaluation, Evaluator, Problem
from calibration.store import EvaluationLog, check_state
from calibration.targets import TargetSet, observed_caseload
from sim.replications import Executor
from sim.scenario import ScenarioError, with_overrides
from sim.scenario import load as load_scenario

logger = logging.getLogger(__name__)

EVOLUTION, POLISH, JACOBIAN = "differential evolution", "polish", "Jacobian at the optimum"
"""The steps of a fit, as the convergence trace names them."""


def phases(evaluations: int, evolution: int, searched: int) -> list[str]:
    """The step each of a fit's evaluations served, in order: the evolution's, the polish's, then the
    Jacobian at the optimum."""
    return [EVOLUTION] * evolution + [POLISH] * (searched - evolution) + [JACOBIAN] * (evaluations - searched)


class _Escaped(Exception):
    """Carries an exception out of differential_evolution, which turns a TypeError or ValueError raised
    by the map-like callable into a RuntimeError about the callable's form."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class _BatchMap:
    """The map-like `workers` argument of differential_evolution: one batch per population."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def __call__(self, _func, population):
        try:
            return [ev.objective for ev in self.evaluator.batch(list(population))]
        except Exception as exc:  # interrupts are not Exceptions and pass through untouched
            raise _Escaped(exc) from None


def fd_jacobian(evaluator: Evaluator, u: np.ndarray, step: float) -> np.ndarray:
    """Central (one-sided at a bound) differences of the residual vector, in unit-cube coordinates."""
    n = len(u)
    plus, minus = [], []
    for i in range(n):
        up, dn = u.copy(), u.copy()
        up[i], dn[i] = min(1.0, u[i] + step), max(0.0, u[i] - step)
        plus.append(up)
        minus.append(dn)
    evs = evaluator.batch(plus + minus)
    cols = [(evs[i].residuals - evs[n + i].residuals) / (plus[i][i] - minus[i][i]) for i in range(n)]
    return np.column_stack(cols)


@dataclass
class FitResult:
    """The best point, its evaluation and Jacobian, and how the fit went."""

    problem: Problem
    fit_years: tuple[int, int]
    best: Evaluation
    jacobian: np.ndarray  # residuals x parameters, unit-cube coordinates, at the best point
    evaluations: int
    evaluations_new: int
    seconds: float
    log_path: Path
    history: list[float] = field(default_factory=list)  # the objective of each evaluation, in order
    log_skipped: int = 0  # lines of the evaluation log not used (unreadable or of another shape)
    phases: list[str] = field(default_factory=list)  # the step of the fit each evaluation of `history` served

    def trace(self) -> pd.DataFrame:
        """The convergence trace: each evaluation's objective, the best so far among the search's
        evaluations, and the step it served (convergence.csv, the report's plot)."""
        objective = np.asarray(self.history, dtype=float)
        searched = np.array([p != JACOBIAN for p in self.phases], dtype=bool)
        best = np.minimum.accumulate(np.where(searched, objective, np.inf))
        return pd.DataFrame(
            {
                "evaluation": np.arange(1, len(objective) + 1),
                "objective": objective,
                "best_so_far": np.where(np.isfinite(best), best, np.nan),
                "phase": self.phases,
            }
        )

    @property
    def theta(self) -> np.ndarray:
        return self.problem.theta(self.best.u)

    @property
    def names(self) -> list[str]:
        return self.problem.names


def make_problem(
    calibration: Calibration, fit_years: tuple[int, int] | None = None, observed: pd.Series | None = None
) -> Problem:
    """The problem of a calibration file (fit years from the file unless given; observed data of its region
    unless given, e.g. a synthetic truth)."""
    fit_years = fit_years or calibration.fit_years
    scenario = load_scenario(calibration.scenario).scenario
    observed = observed if observed is not None else observed_caseload(calibration.region)
    targets = TargetSet(calibration, fit_years, observed)
    return Problem(calibration, scenario, targets, until_year=fit_years[1])


def check_bounds(problem: Problem, file: str) -> None:
    """Every free parameter's lower, upper and start must be a value the scenario allows, alone and
    all together, so a fit never meets an invalid scenario half way (the schema's bounds are intervals,
    so the points in between are allowed too)."""
    names = ("lower", "upper", "start")
    for i, p in enumerate(problem.parameters):
        for which in names:
            value = getattr(p, which)
            try:
                with_overrides(problem.base, problem.override(p, value))
            except ScenarioError as exc:
                scale = problem.calibration.population_scale
                scaled = f" (x population_scale {scale:g})" if p.scales_with_population and scale != 1.0 else ""
                raise CalibrationError(
                    file, f"parameters[{i}].{which}", f"{value!r}{scaled} is not allowed for {p.path}: {exc.message}"
                ) from None
    for which, theta in zip(names, (problem.lower, problem.upper, problem.start), strict=True):
        try:
            problem.scenario(theta)
        except ScenarioError as exc:
            raise CalibrationError(
                file, "parameters", f"the {which} values together are not a valid scenario: {exc.field}: {exc.message}"
            ) from None


def load_checked(ref: str | Path, overrides: dict | None = None) -> tuple[Calibration, Path]:
    """A calibration file read, validated and checked against its scenario and observed data: every
    problem of the inputs is found here, before any evaluation (CalibrationError, naming the field)."""
    calibration, path = load_calibration(ref, overrides)
    file = str(path)
    options = frozenset(k for k, v in (overrides or {}).items() if v is not None)
    try:
        observed = observed_caseload(calibration.region)
    except KeyError as exc:
        raise CalibrationError(file, "region", exc.args[0]) from None
    try:
        load_scenario(calibration.scenario)
    except ScenarioError as exc:
        raise CalibrationError(file, "scenario", str(exc)) from None
    try:
        problem = make_problem(calibration, observed=observed)
    except KeyError as exc:
        raise CalibrationError(file, option_name("fit_years", options), exc.args[0]) from None
    check_paths(calibration, problem.base, file)
    check_bounds(problem, file)
    kept_fields(calibration, problem.base, file)
    return calibration, path


def calibrate(
    calibration: Calibration,
    state_dir: Path,
    executor: Executor | None = None,
    fit_years: tuple[int, int] | None = None,
    on_evaluation: Callable[[Evaluation, Evaluator], None] | None = None,
    observed: pd.Series | None = None,
    on_note: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit the free parameters; every evaluation is appended to the log in `state_dir` as it finishes.

    StateError (before any evaluation, or when an append fails) if the log cannot be kept in
    `state_dir`; `on_note` hears of log lines that could not be used.
    """
    started = time.perf_counter()
    fit_years = fit_years or calibration.fit_years
    problem = make_problem(calibration, fit_years, observed)
    check_bounds(problem, "calibration")
    check_state(Path(state_dir))
    log_path = (
        Path(state_dir)
        / f"evaluations-{problem.calibration.region}-{fit_years[0]}-{fit_years[1]}-{problem.fingerprint()}.jsonl"
    )
    log = EvaluationLog(log_path)
    evaluator = Evaluator(problem, log, executor)
    if on_note is not None and (note := log.note()):
        on_note(note)
    if on_evaluation is not None:
        evaluator.on_evaluation = lambda ev: on_evaluation(ev, evaluator)
    n = len(problem.parameters)
    c = calibration
    population = population_size(c.popsize, n)
    step = 2 * n + 1  # a polish step: a point and its finite-difference Jacobian
    final_jacobian = 2 * n
    de_budget = min(int(c.budget * (1 - c.polish_share)), c.budget - step - final_jacobian)
    maxiter = max(0, de_budget // population - 1)
    x0 = np.clip(problem.unit(problem.start), 0.0, 1.0)
    logger.debug(
        "budget %d: differential evolution in generations of %d points (%d more after the first), "
        "then the polish, then the Jacobian at the optimum (%d)",
        c.budget,
        population,
        maxiter,
        final_jacobian,
    )
    escaped: Exception | None = None
    try:
        de = differential_evolution(
            lambda u: evaluator(u),
            bounds=[(0.0, 1.0)] * n,
            x0=x0,
            popsize=c.popsize,
            maxiter=maxiter,
            seed=c.seed,
            polish=False,
            updating="deferred",
            workers=_BatchMap(evaluator),
            init="latinhypercube",
            mutation=(0.5, 1.0),
            recombination=0.7,
            tol=1e-3,
        )
    except _Escaped as exc:
        escaped = exc.original
    if escaped is not None:
        raise escaped  # outside the handler, so it keeps its own cause and context
    best_u = np.asarray(de.x, dtype=float)
    de_evaluations = len(evaluator.evaluations)
    left = c.budget - len(evaluator.evaluations) - final_jacobian
    # each least_squares evaluation of the residuals may bring one Jacobian (its njev <= nfev)
    iterations = max(0, left // step)
    if iterations > 0:
        jac_cache: dict[bytes, np.ndarray] = {}

        def residuals(u: np.ndarray) -> np.ndarray:
            return evaluator.batch([u])[0].residuals

        def jacobian(u: np.ndarray) -> np.ndarray:
            key = np.asarray(u).tobytes()
            if key not in jac_cache:
                jac_cache[key] = fd_jacobian(evaluator, np.asarray(u, dtype=float), c.fd_step)
            return jac_cache[key]

        ls = least_squares(
            residuals,
            np.clip(best_u, 1e-9, 1 - 1e-9),
            jac=jacobian,
            bounds=(0.0, 1.0),
            method="trf",
            max_nfev=iterations,
            x_scale=1.0,
        )
        evaluator.batch([ls.x])
    # the optimum is the best point evaluated while searching (differential evolution's best, the
    # polish's end or a point of its Jacobians), the one the progress showed as "best"
    best = evaluator.best
    best_u = best.u
    evaluator.searching = False
    jac = fd_jacobian(evaluator, best_u, c.fd_step)
    return FitResult(
        problem,
        fit_years,
        best,
        jac,
        evaluations=len(evaluator.evaluations),
        evaluations_new=evaluator.new_count,
        seconds=time.perf_counter() - started,
        log_path=log_path,
        history=[ev.objective for ev in evaluator.evaluations],
        log_skipped=log.skipped,
        phases=phases(len(evaluator.evaluations), de_evaluations, evaluator.search_count),
    )
