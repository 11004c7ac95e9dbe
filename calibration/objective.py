"""Simulated minimum distance: parameters -> scenario -> replications -> moments -> objective.

The optimiser works in the unit cube (u = 0 at a parameter's lower bound, 1 at its upper).
Every evaluation runs the same replications (the same child seeds of one root seed): common
random numbers, so the objective moves with the parameters, not with fresh noise. The
objective is the sum of squared residuals: sqrt(w) (mean simulated - observed) / sd for each
target, plus (value - prior mean) / prior sd for each parameter (a normal prior as a penalty).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.config import Calibration, FreeParameter
from calibration.scaling import scale_overrides
from calibration.store import LOG_FORMAT, EvaluationLog, fingerprint, point_key
from calibration.targets import TargetSet
from sim.config import merge, nested
from sim.parameters import Scenario
from sim.replications import Executor, ReplicationTask, SerialExecutor, run_task
from sim.scenario import scaled_count, schema_field, with_overrides


class Problem:
    """What is fitted (parameters, bounds, priors), to what (targets), on which scenario."""

    def __init__(self, calibration: Calibration, scenario: Scenario, targets: TargetSet, until_year: int) -> None:
        self.calibration = calibration
        self.parameters = calibration.parameters
        self.targets = targets
        self.lower = np.array([p.lower for p in self.parameters])
        self.upper = np.array([p.upper for p in self.parameters])
        self.prior_mean = np.array([p.prior_mean for p in self.parameters])
        self.prior_sd = np.array([p.prior_sd for p in self.parameters])
        self.start = np.array([p.start for p in self.parameters])
        scale = calibration.population_scale
        stock = round(float(targets.observed[scenario.simulation.start_year]) * scale)
        base = merge(
            scale_overrides(scenario, calibration.region, stock),
            {"simulation": {"until_year": until_year}},
        )
        self.base = with_overrides(scenario, base)
        self.until_year = until_year

    @property
    def names(self) -> list[str]:
        return [p.path for p in self.parameters]

    def theta(self, u: np.ndarray) -> np.ndarray:
        """Unit cube -> parameter values."""
        return self.lower + np.clip(np.asarray(u, dtype=float), 0.0, 1.0) * (self.upper - self.lower)

    def unit(self, theta: np.ndarray) -> np.ndarray:
        return (np.asarray(theta, dtype=float) - self.lower) / (self.upper - self.lower)

    def override(self, parameter: FreeParameter, value: float) -> dict[str, Any]:
        """The nested scenario override of one parameter value (a count at the simulated population's size)."""
        if not parameter.scales_with_population:
            return nested(parameter.path, float(value))
        field = schema_field(parameter.path)
        whole = field is not None and field.annotation is int
        return nested(parameter.path, scaled_count(float(value), self.calibration.population_scale, whole))

    def overrides(self, theta: np.ndarray) -> dict[str, Any]:
        """Nested scenario overrides for parameter values."""
        out: dict[str, Any] = {}
        for p, value in zip(self.parameters, theta, strict=True):
            out = merge(out, self.override(p, value))
        return out

    def scenario(self, theta: np.ndarray, until_year: int | None = None) -> Scenario:
        over = self.overrides(theta)
        if until_year is not None:
            over = merge(over, {"simulation": {"until_year": until_year}})
        return with_overrides(self.base, over)

    def prior_residuals(self, theta: np.ndarray) -> np.ndarray:
        return (np.asarray(theta) - self.prior_mean) / self.prior_sd

    def residuals(self, u: np.ndarray, moments: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Full residual vector: targets (from the mean over replications), then priors."""
        data = self.targets.residuals(np.asarray(moments).mean(axis=0), values)
        return np.concatenate([data, self.prior_residuals(self.theta(u))])

    def fingerprint(self) -> str:
        c = self.calibration
        return fingerprint(
            {
                "parameters": [p.model_dump() for p in c.parameters],
                "targets": self.targets.names,
                "values": self.targets.values.tolist(),
                "seed": c.seed,
                "reps": c.reps,
                "population_scale": c.population_scale,
                "log_format": LOG_FORMAT,
                # the free parameters at a fixed point, so their values in the included files do not matter
                "scenario": self.scenario(self.lower).model_dump(mode="json"),
            }
        )


class EvaluationFailed(Exception):
    """A replication of an evaluation failed; the message (one line) says where and why."""


def reraise_interrupt(result: BaseException) -> None:
    """An executor's result that is an interrupt (or another non-Exception) is raised as it is, never wrapped."""
    if not isinstance(result, Exception):
        raise result


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line (a failure's message may span many)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Evaluation:
    """One evaluated point."""

    u: np.ndarray
    moments: np.ndarray  # replications x targets
    residuals: np.ndarray
    objective: float
    cached: bool


class Evaluator:
    """Evaluates batches of points in parallel through a `sim.replications` executor, with the log as cache.

    `evaluations` holds each distinct point of this fit once, in the order first asked for, whether
    run now or found in the log: that is what a fit's budget counts. Asking for a point again
    (the polish compares points it already has) returns the same evaluation and costs nothing.
    `best` is the lowest objective among the evaluations made while `searching`: the fit's
    optimum, which the progress shows as it goes and the report at the end.
    """

    def __init__(
        self,
        problem: Problem,
        log: EvaluationLog,
        executor: Executor | None = None,
        on_evaluation: Callable[[Evaluation], None] | None = None,
    ) -> None:
        self.problem, self.log = problem, log
        self.executor = executor or SerialExecutor()
        self.on_evaluation = on_evaluation
        self.evaluations: list[Evaluation] = []
        self._known: dict[str, Evaluation] = {}
        shape = (problem.calibration.reps, len(problem.targets.names))
        n = len(problem.parameters)
        # a record of another shape would break or bend the objective: it is run again instead
        log.discard(lambda record: len(record["u"]) != n or np.shape(record["moments"]) != shape)
        self.new_seconds = 0.0
        self.new_count = 0
        self.cached_count = 0
        self._seconds_before = 0.0
        self.best: Evaluation | None = None
        self.searching = True
        self.search_count = 0  # evaluations made while searching; those after are the Jacobian at the optimum

    def _make(self, key: str, u: np.ndarray, moments: np.ndarray, cached: bool) -> Evaluation:
        if key in self._known:
            return self._known[key]
        r = self.problem.residuals(u, moments)
        ev = Evaluation(np.asarray(u, dtype=float), moments, r, float(r @ r), cached)
        self._known[key] = ev
        self.evaluations.append(ev)
        self.cached_count += cached
        if self.searching:
            self.search_count += 1
            if self.best is None or ev.objective < self.best.objective:
                self.best = ev
        if self.on_evaluation:
            self.on_evaluation(ev)
        return ev

    def batch(self, points: Sequence[np.ndarray]) -> list[Evaluation]:
        """Evaluate points (unit cube); each finished point is logged before the next is awaited."""
        points = [np.clip(np.asarray(u, dtype=float), 0.0, 1.0) for u in points]
        keys = [point_key(u) for u in points]
        out: dict[int, Evaluation] = {}
        todo: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key in self._known:
                out[i] = self._known[key]
            elif (record := self.log.get(key)) is not None:
                out[i] = self._make(key, points[i], np.array(record["moments"], dtype=float), cached=True)
            else:
                todo.setdefault(key, []).append(i)
        if todo:
            self._run(points, todo, out)
        return [out[i] for i in range(len(points))]

    def _run(self, points: list[np.ndarray], todo: dict[str, list[int]], out: dict[int, Evaluation]) -> None:
        p, reps, seed = self.problem, self.problem.calibration.reps, self.problem.calibration.seed
        order = list(todo)
        tasks = []
        scenarios = {}
        for key in order:
            scenarios[key] = scenario = p.scenario(p.theta(points[todo[key][0]]))
            tasks += [ReplicationTask(scenario, seed, r) for r in range(reps)]
        got: dict[str, dict[int, np.ndarray]] = {key: {} for key in order}
        started = time.perf_counter()
        self._seconds_before = self.new_seconds
        for k, result in self.executor.map_unordered(run_task, tasks):
            key = order[k // reps]
            if isinstance(result, BaseException):
                reraise_interrupt(result)
                raise EvaluationFailed(
                    f"replication {k % reps} (seed {seed}) failed at {p.theta(points[todo[key][0]]).tolist()}: "
                    f"{one_line(result)}"
                ) from result
            got[key][result.replication] = p.targets.simulated(result.yearly, result.monthly, scenarios[key])
            if len(got[key]) == reps:
                self.new_count += 1
                self.new_seconds = time.perf_counter() - started + self._seconds_before
                moments = np.array([got[key][r] for r in range(reps)])
                u = points[todo[key][0]]
                self.log.append(key, u, moments)
                for i in todo[key]:
                    out[i] = self._make(key, points[i], moments, cached=False)

    def __call__(self, u: np.ndarray) -> float:
        return self.batch([u])[0].objective
