"""The `caseload` command line: a thin layer over the Python API in `sim`."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sim import __version__
from sim.output import OutputError, check_target, write_folder
from sim.replications import make_executor, run_replications
from sim.results import summarise
from sim.scenario import ScenarioError, describe_shipped, load, with_overrides

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Microsimulation of a municipality's social-assistance caseload.")
scenarios_app = typer.Typer(help="List shipped scenarios, or show one resolved.", invoke_without_command=True)
app.add_typer(scenarios_app, name="scenarios")


def fail(message: str, code: int = 2) -> None:
    """Print one clear error line and exit (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_scenario(ref: str, until: int | None = None):
    """Load a scenario by name or path, with `--until` applied; exit 2 with a clear message if bad."""
    try:
        loaded = load(ref)
        scenario = loaded.scenario
        if until is not None:
            start = scenario.simulation.start_year
            if until <= start:
                fail(f"--until: {until} is not after the scenario's start year {start}; give a year from {start + 1}")
            scenario = with_overrides(scenario, {"simulation": {"until_year": until}})
        return loaded.path, scenario
    except ScenarioError as exc:
        fail(str(exc))


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        fail(f"{name}: must be at least 1 (got {value})")


class _Progress:
    """Replications done / total on stderr, only when it is worth showing."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.start = total, label, time.perf_counter()
        self.show = total > 1 and sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.show:
            elapsed = time.perf_counter() - self.start
            left = elapsed / done * (total - done)
            sys.stderr.write(f"\r{self.label}: {done}/{total} replications, {elapsed:.0f} s, ~{left:.0f} s left ")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()


@app.command("run")
def run_command(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a TOML file.")],
    seed: Annotated[int, typer.Option(help="Root seed; replication i uses its i-th spawned child.")] = 42,
    reps: Annotated[int, typer.Option(help="Replications.")] = 1,
    until: Annotated[int | None, typer.Option(help="Last simulated year (default: the scenario's).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT, or 'local'.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/SCENARIO-seedN).")] = None,
    events: Annotated[bool, typer.Option("--events", help="Also write the per-client event log.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
) -> None:
    """Run SCENARIO and write yearly.csv, monthly.csv and manifest.json to the output folder."""
    _positive("--reps", reps)
    _positive("--workers", workers)
    if seed < 0:
        fail(f"--seed: must be zero or positive (got {seed})")
    path, resolved = load_scenario(scenario, until)
    out = out or Path("results") / f"{resolved.name}-seed{seed}"
    try:
        check_target(out, force)
    except OutputError as exc:
        fail(str(exc))
    started = time.perf_counter()
    executor = make_executor(1 if reps == 1 else workers, scheduler)
    try:
        results = run_replications(resolved, seed, reps, executor, events, _Progress(reps, resolved.name))
    finally:
        executor.close()
    elapsed = time.perf_counter() - started
    for failure in results.failures:
        typer.echo(f"replication {failure['replication']} of {failure['scenario']} (seed {failure['seed']}) failed: {failure['error']}", err=True)
    if not results.outputs:
        fail("every replication failed; nothing written", code=1)
    tables = {"yearly.csv": results.yearly, "monthly.csv": results.monthly}
    if events and results.events is not None:
        tables["events.csv"] = results.events
    manifest = {
        "scenario": resolved.name,
        "scenario_file": str(path),
        "seed": seed,
        "replications": reps,
        "replications_failed": results.failures,
        "until_year": resolved.simulation.until_year,
        "version": __version__,
        "run_seconds": round(elapsed, 3),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "client_events": results.client_events,
        "parameters": resolved.model_dump(mode="json"),
    }
    try:
        write_folder(out, tables, manifest, force=force)
    except OutputError as exc:
        fail(str(exc))
    _print_yearly(results.yearly, reps)
    typer.echo(f"\n{reps} replication(s) of {resolved.name} in {elapsed:.1f} s; results in {out}")
    if results.failures:
        raise typer.Exit(1)


def _print_yearly(yearly, reps: int) -> None:
    columns = ["caseload_december", "inflow", "outflow", "benefit_spending_eur"]
    if reps == 1:
        shown = yearly[["year", *columns, "wait_days_mean"]].copy()
        shown["benefit_spending_eur"] = (shown["benefit_spending_eur"] / 1e6).round(2)
        shown = shown.rename(columns={"benefit_spending_eur": "benefit_meur"})
        typer.echo(shown.to_string(index=False))
        return
    summary = summarise(yearly, columns)
    lines = [f"{'year':>4}  {'caseload_december (90% band)':>30}  {'inflow':>7}  {'outflow':>7}  {'benefit EUR m':>13}"]
    for _, r in summary.iterrows():
        band = f"{r.caseload_december_mean:,.0f} ({r.caseload_december_low:,.0f}-{r.caseload_december_high:,.0f})"
        inflow = f"{r.inflow_mean:7.0f}" if r.inflow_mean == r.inflow_mean else f"{'':>7}"
        outflow = f"{r.outflow_mean:7.0f}" if r.outflow_mean == r.outflow_mean else f"{'':>7}"
        money = f"{r.benefit_spending_eur_mean / 1e6:13.2f}" if r.benefit_spending_eur_mean == r.benefit_spending_eur_mean else f"{'':>13}"
        lines.append(f"{int(r.year):>4}  {band:>30}  {inflow}  {outflow}  {money}")
    typer.echo("\n".join(lines))


@scenarios_app.callback()
def scenarios_list(ctx: typer.Context) -> None:
    """List the shipped scenarios with a one-line description."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        rows = describe_shipped()
    except ScenarioError as exc:
        fail(str(exc))
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        typer.echo(f"{name:<{width}}  {text}")


@scenarios_app.command("show")
def scenarios_show(name: Annotated[str, typer.Argument(help="Shipped scenario name or path.")]) -> None:
    """Print the resolved parameters of a scenario as TOML-like JSON."""
    import json

    _, scenario = load_scenario(name)
    typer.echo(json.dumps(scenario.model_dump(mode="json"), indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
