"""A run of a scenario as `caseload run` writes it: replications, then one results folder.

`run_to_folder` is what the command calls, so a Python user gets the same folder (yearly.csv,
monthly.csv, events.csv with `record_events`, manifest.json), written whole or not at all:

    from sim.runs import run_to_folder
    from sim.scenario import load

    outcome = run_to_folder(load("baseline").scenario, "results/baseline-seed42", seed=42, reps=20)
    outcome.results.yearly            # the tables, as written

On macOS and Windows, processes start by `spawn`: call this from under
`if __name__ == "__main__":` when it runs replications on worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.output import check_table_format, check_target, manifest, write_folder
from sim.parameters import Scenario
from sim.replications import Executor, ReplicationSet, RunFailed, run_replications

__all__ = ["RunFailed", "RunOutcome", "default_folder", "run_to_folder", "write_run"]


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: its folder, the replications (with any failures) and the time it took."""

    folder: Path
    results: ReplicationSet
    seconds: float


def default_folder(scenario: Scenario, seed: int) -> Path:
    """Where `caseload run` writes by default: results/NAME-seedN (the name is a safe slug)."""
    return Path("results") / f"{scenario.name}-seed{seed}"


def run_to_folder(
    scenario: Scenario,
    out: str | Path,
    seed: int = 42,
    reps: int = 1,
    executor: Executor | None = None,
    record_events: bool = False,
    force: bool = False,
    on_done: Callable[[int, int], None] | None = None,
    scenario_file: str | Path | None = None,
    table_format: str = "csv",
) -> RunOutcome:
    """Run `reps` replications of `scenario` and write the results folder `out`.

    `table_format` "parquet" writes the tables as Parquet (`sim.output.TABLE_FORMATS`). Raises
    `sim.output.OutputError` before any work if `out` may not be written (or pyarrow is missing
    for Parquet), `RunFailed` if every replication failed; replications that fail while others
    succeed are listed in the manifest and in `outcome.results.failures`.
    """
    out = Path(out)
    check_target(out, force)
    check_table_format(table_format)
    started = time.perf_counter()
    results = run_replications(scenario, seed, reps, executor, record_events, on_done)
    seconds = time.perf_counter() - started
    tables = {"yearly.csv": results.yearly, "monthly.csv": results.monthly}
    if record_events and results.events is not None:
        tables["events.csv"] = results.events
    fields = {"replications_failed": results.failures, "client_events": results.client_events}
    write_run(scenario, out, tables, seed, reps, seconds, force, scenario_file, table_format, **fields)
    return RunOutcome(out, results, seconds)


def write_run(
    scenario: Scenario,
    out: str | Path,
    tables: dict[str, pd.DataFrame],
    seed: int,
    reps: int,
    seconds: float,
    force: bool = False,
    scenario_file: str | Path | None = None,
    table_format: str = "csv",
    replications_failed: list[dict] | None = None,
    client_events: int = 0,
    **more: Any,
) -> Path:
    """Write the folder `caseload run` writes from replications already run: `tables` by file name
    (yearly.csv, monthly.csv and events.csv, the log with its `replication` column); `more`:
    further manifest fields (the analyses' parameter draws, `sim.analysis.draws.run_with_draws`)."""
    fields = manifest(
        "run",
        scenario=scenario.name,
        scenario_file=str(scenario_file) if scenario_file else None,
        seed=seed,
        replications=reps,
        replications_failed=replications_failed or [],
        until_year=scenario.simulation.until_year,
        run_seconds=round(seconds, 3),
        client_events=client_events,
        table_format=table_format,
        parameters=scenario.model_dump(mode="json"),
        **more,
    )
    return write_folder(Path(out), tables, fields, force=force, table_format=table_format)
