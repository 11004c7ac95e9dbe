"""caseload from Python: run and compare scenarios, read any results folder back, show it in a notebook.

    import caseload

    if __name__ == "__main__":  # in a script: where workers start by spawn (macOS, Windows)
        run = caseload.run("baseline", reps=20, until=2025)        # RunResults
        run.yearly, run.summary(), run.plot()
        run.to_folder("results/mine", table_format="parquet")      # what `caseload run` writes
        comparison = caseload.compare("focus", "broad", reps=20)   # ComparisonResults
        comparison.totals(), comparison.attribution, comparison.plot_paths()
        comparison.to_folder("results/focus-broad", report=True, workbook=True)
        again = caseload.read("results/focus-broad")                # any folder: run, compare, sensitivity, calibrate

The functions here are a layer over `sim` (the model) and `sim.analysis` (comparisons, the
report), like the command line, and give the same numbers as the commands for the same seed.
docs/api.md documents them.
"""

from __future__ import annotations

import time
from pathlib import Path

from caseload.results import (
    CalibrationResults,
    ComparisonResults,
    FolderError,
    RunResults,
    SensitivityResults,
    read,
    read_table,
)
from sim.parameters import Scenario
from sim.replications import ExecutorError, RunFailed
from sim.scenario import LoadedScenario

__all__ = [
    "CalibrationResults",
    "ComparisonResults",
    "ExecutorError",
    "FolderError",
    "RunFailed",
    "RunResults",
    "Scenario",
    "SensitivityResults",
    "compare",
    "read",
    "read_table",
    "run",
    "scenario",
]

FIRST_COMPARED_YEAR = 2019
"""The first year of a comparison's tables by default, as `caseload compare --from-year`."""


def scenario(
    ref: str | Path | Scenario | LoadedScenario, until: int | None = None, overrides: dict | None = None
) -> Scenario:
    """A validated scenario: a shipped name (`"focus"`), a TOML file's path, a Scenario, or a
    `sim.scenario.LoadedScenario` (a scenario with the files it came from); with `until` (the last
    simulated year) and nested `overrides` applied.

    Raises `sim.scenario.ScenarioError` (file: field: what is allowed) for a bad one.
    """
    from sim.scenario import ScenarioError, with_overrides

    resolved = ref if isinstance(ref, Scenario) else _loaded(ref).scenario
    if until is not None:
        start = resolved.simulation.start_year
        if until <= start:
            raise ScenarioError(
                "until", "", f"{until} is not after the scenario's start year {start}; give a year from {start + 1}"
            )
        resolved = with_overrides(resolved, {"simulation": {"until_year": until}})
    if overrides:
        resolved = with_overrides(resolved, overrides)
    return resolved


def _loaded(ref: str | Path | LoadedScenario) -> LoadedScenario:
    """A reference loaded (a LoadedScenario as it is)."""
    from sim.scenario import load

    return ref if isinstance(ref, LoadedScenario) else load(ref)


def _executor(executor, workers: int | None, scheduler: str | None, tasks: int):
    """The executor to use and whether this call made it (and so closes it)."""
    from sim.replications import make_executor

    if executor is not None:
        return executor, False
    return make_executor(workers, scheduler, tasks), True


def run(
    ref: str | Path | Scenario,
    reps: int = 1,
    seed: int = 42,
    until: int | None = None,
    events: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    executor=None,
) -> RunResults:
    """Run `reps` replications of a scenario (as `caseload run`, in memory): replication i uses the
    i-th child of `seed`. `workers`: processes (default all cores, never more than `reps`; 1 =
    this process), `scheduler` a Dask address, or give an `executor` (`sim.replications`).

    Raises `RunFailed` if every replication failed (its `results.failures` say why); replications
    that fail while others succeed are in `failures`. `ExecutorError` if the workers cannot start
    or die, among others in a script that runs this outside `if __name__ == "__main__":` where
    workers start by spawn.
    """
    from sim.replications import run_replications

    resolved = scenario(ref, until)
    chosen, made = _executor(executor, workers, scheduler, reps)
    started = time.perf_counter()
    try:
        results = run_replications(resolved, seed, reps, chosen, events)
    finally:
        if made:
            chosen.close()
    return RunResults(
        resolved,
        seed,
        reps,
        results.yearly,
        results.monthly,
        results.events if events else None,
        results.failures,
        time.perf_counter() - started,
        results.client_events,
    )


def compare(
    *refs: str | Path | Scenario,
    reps: int = 20,
    seed: int = 42,
    until: int | None = None,
    from_year: int = FIRST_COMPARED_YEAR,
    discount_rate: float = 0.0,
    attribution: bool = True,
    observed: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
    executor=None,
    parameter_draws: int = 0,
    on_done=None,
) -> ComparisonResults:
    """Compare scenarios with paired replications (as `caseload compare`, in memory): the first is
    the reference; the tables run from `from_year` to the scenarios' last year. With
    `attribution`, each difference is split over the levers and other parts the scenarios differ
    in (extra paired runs). `observed`: draw the region's observed caseloads beside the paths.
    With `parameter_draws` N > 0 (scenarios given by name or file), every run is also made at
    draws 0..N-1 of the calibration's parameter draws, and the tables get total intervals
    (parameters and simulation) beside the noise ones, as `caseload compare --parameter-draws N`;
    0 (the default here) gives noise intervals only. `on_done(done, total)` is called as each
    replication ends (it may raise to give the comparison up).

    Raises `sim.analysis.comparison.ComparisonError` for scenarios that cannot be compared (fewer
    than two, one named twice, different start or last years, `from_year` outside them) or when
    every replication of a scenario failed; `ExecutorError` as `run` does.
    """
    from sim.analysis import attribution as split
    from sim.analysis.comparison import ComparisonError, check_comparable, run_comparison
    from sim.analysis.draws import NoDraws, draws_for

    scenarios: dict[str, Scenario] = {}
    files: dict[str, tuple[Path, ...]] = {}
    for ref in refs:
        resolved = scenario(ref, until)
        if resolved.name in scenarios:
            raise ComparisonError(f"scenario {resolved.name!r} is named twice; compare distinct scenarios")
        scenarios[resolved.name] = resolved
        files[resolved.name] = () if isinstance(ref, Scenario) else _loaded(ref).files
    if parameter_draws < 0:
        raise ComparisonError(f"parameter_draws: give 0 or more draws (got {parameter_draws})")
    draws = None
    if parameter_draws:
        try:
            draws = draws_for(files, parameter_draws)
        except NoDraws as exc:
            raise ComparisonError(
                f"parameter_draws: {exc} (a Scenario object has none: give its name or file)"
            ) from None
    check_comparable(scenarios)
    if not 0.0 <= discount_rate < 1.0:
        raise ComparisonError(f"discount_rate: give a yearly rate from 0 up to 1, e.g. 0.03 (got {discount_rate})")
    first = next(iter(scenarios.values())).simulation
    if not first.start_year < from_year <= first.until_year:
        raise ComparisonError(
            f"from_year: {from_year} is outside the simulated years {first.start_year + 1}-{first.until_year}"
        )
    runs = len(scenarios) + len(split.extra_runs(split.plan(scenarios))) if attribution else len(scenarios)
    chosen, made = _executor(executor, workers, scheduler, reps * runs * (1 + parameter_draws))
    try:
        paired = run_comparison(
            scenarios,
            (from_year, first.until_year),
            seed,
            reps,
            chosen,
            discount_rate,
            attribution=attribution,
            draws=draws,
            parameter_draws=parameter_draws,
            on_done=on_done,
        )
    finally:
        if made:
            chosen.close()
    return ComparisonResults.from_paired(paired, observed)
