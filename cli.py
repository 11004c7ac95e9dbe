"""The `caseload` command line: a thin layer over the Python API in `sim`."""

from __future__ import annotations

import functools
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sim.analysis.summary import summarise
from sim.output import OutputError, check_target
from sim.randomness import MAX_SEED
from sim.replications import ExecutorError, check_fits, estimate, make_executor, request_interrupt, worker_count
from sim.scenario import ScenarioError, describe_shipped, load, with_overrides

Seed = Annotated[int, typer.Option(help="Root seed; replication i of every scenario uses its i-th child.")]
Until = Annotated[int | None, typer.Option(help="Last simulated year (default: the scenario's).")]
Workers = Annotated[
    int | None, typer.Option(help="Worker processes (default: all cores, never more than the replications).")
]
Scheduler = Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT, or 'local'.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing results folder that caseload wrote.")]

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Microsimulation of a municipality's social-assistance caseload."
)
scenarios_app = typer.Typer(help="List shipped scenarios, or show one resolved.", invoke_without_command=True)
app.add_typer(scenarios_app, name="scenarios")


def fail(message: str, code: int = 2) -> None:
    """Print one clear error line and exit (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def interruptible(command):
    """An interrupted command (Ctrl-C, SIGTERM) ends with one line and exit 130, one whose workers died
    with one line and exit 1; its output folder never appears."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            typer.echo("\nerror: interrupted; no output folder was written", err=True)
            raise typer.Exit(130) from None
        except ExecutorError as exc:  # the workers died mid-run: one line, not a traceback
            fail(str(exc), code=1)

    return wrapper


def prepare(out: Path, force: bool, workers: int | None, scheduler: str | None = None, tasks: int | None = None):
    """Check that `out` may be written, then start the executor; exit 2 with one line on either problem.

    `tasks` (replications to run, when known) caps the worker processes.
    """
    try:
        check_target(out, force)
    except OutputError as exc:
        fail(str(exc))
    try:
        return make_executor(workers, scheduler, tasks)
    except ExecutorError as exc:
        fail(str(exc))


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
@interruptible
def run_command(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a TOML file.")],
    seed: Seed = 42,
    reps: Annotated[int, typer.Option(help="Replications.")] = 1,
    until: Until = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/SCENARIO-seedN).")] = None,
    events: Annotated[bool, typer.Option("--events", help="Also write the per-client event log.")] = False,
    force: Force = False,
) -> None:
    """Run SCENARIO and write yearly.csv, monthly.csv and manifest.json to the output folder."""
    from sim.runs import RunFailed, default_folder, run_to_folder

    _check_common(seed, reps)
    path, resolved = load_scenario(scenario, until)
    out = out or default_folder(resolved, seed)
    _check_size([resolved], reps, workers, reps)
    executor = prepare(out, force, workers, scheduler, tasks=reps)
    try:
        outcome = run_to_folder(
            resolved, out, seed, reps, executor, events, force, _Progress(reps, resolved.name), path
        )
    except RunFailed as exc:
        _print_failures(exc.results.failures)
        fail(str(exc), code=1)
    except OutputError as exc:
        fail(str(exc))
    finally:
        executor.close()
    _print_failures(outcome.results.failures)
    _print_yearly(outcome.results.yearly, reps)
    typer.echo(f"\n{reps} replication(s) of {resolved.name} in {outcome.seconds:.1f} s; results in {out}")
    if outcome.results.failures:
        raise typer.Exit(1)


def _print_failures(failures: list[dict]) -> None:
    for f in failures:
        typer.echo(
            f"replication {f['replication']} of {f['scenario']} (seed {f['seed']}) failed: {f['error']}", err=True
        )


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
        money = (
            f"{r.benefit_spending_eur_mean / 1e6:13.2f}"
            if r.benefit_spending_eur_mean == r.benefit_spending_eur_mean
            else f"{'':>13}"
        )
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


def _load_many(names: list[str], until: int | None) -> dict:
    """Load distinct scenarios that can be compared (same start and last year): {name: (path, scenario)}."""
    from sim.analysis.comparison import ComparisonError, check_comparable

    loaded = {}
    for ref in names:
        path, scenario = load_scenario(ref, until)
        if scenario.name in loaded:
            fail(f"{ref}: scenario {scenario.name!r} is named twice; compare distinct scenarios")
        loaded[scenario.name] = (path, scenario)
    try:
        check_comparable({n: s for n, (_, s) in loaded.items()})
    except ComparisonError as exc:
        fail(str(exc))
    return loaded


MAX_REPLICATIONS = 1_000_000


def _check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= MAX_SEED:
        fail(f"--seed: give a whole number from 0 to {MAX_SEED:,} (got {seed})")


def _check_common(seed: int, reps: int) -> None:
    _check_seed(seed)
    if not 1 <= reps <= MAX_REPLICATIONS:
        fail(f"--reps: give 1 to {MAX_REPLICATIONS:,} replications (got {reps})")


def _check_size(scenarios, reps: int, workers: int | None, tasks: int) -> None:
    """Refuse a run whose results would not fit in memory; announce one that takes long."""
    try:
        cost = estimate(scenarios, reps, worker_count(workers, tasks))
        if check_fits(cost):
            typer.echo(f"note: {cost.describe()}; Ctrl-C stops it without writing anything", err=True)
    except ExecutorError as exc:
        fail(str(exc))


@app.command("compare")
@interruptible
def compare_command(
    scenarios: Annotated[list[str], typer.Argument(help="Two or more scenarios; the first is the reference.")],
    reps: Annotated[int, typer.Option(help="Paired replications per scenario.")] = 20,
    until: Until = None,
    from_year: Annotated[int, typer.Option("--from-year", help="First year of the comparison tables.")] = 2019,
    seed: Seed = 42,
    workers: Workers = None,
    scheduler: Scheduler = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/compare-A-B-seedN).")] = None,
    force: Force = False,
    discount_rate: Annotated[
        float, typer.Option(help="Yearly discount rate for the cumulative saving (0 = none).")
    ] = 0.0,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html.")] = False,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Also write comparison.xlsx (budget and differences).")] = False,
    attribution: Annotated[
        bool,
        typer.Option(
            "--attribution/--no-attribution",
            help="Split each difference over the levers and other parts the scenarios differ in (attribution.csv).",
        ),
    ] = True,
) -> None:
    """Compare scenarios with paired replications; write comparison.csv, break_even.csv, attribution.csv,
    yearly tables, manifest."""
    from sim.analysis import attribution as split
    from sim.analysis.comparison import ComparisonError, compare_to_folder, default_folder

    _check_common(seed, reps)
    if not 0.0 <= discount_rate < 1.0:
        fail(f"--discount-rate: give a yearly rate from 0 up to 1, e.g. 0.03 (got {discount_rate})")
    loaded = _load_many(scenarios, until)
    resolved = {n: s for n, (_, s) in loaded.items()}
    names = list(resolved)
    start, last = resolved[names[0]].simulation.start_year, resolved[names[0]].simulation.until_year
    if not start < from_year <= last:
        fail(f"--from-year: {from_year} is outside the simulated years {start + 1}-{last}")
    out = out or default_folder(names, seed)
    plans = split.plan(resolved) if attribution else []
    runs = [*resolved.values(), *split.extra_runs(plans).values()]
    _check_size(runs, reps, workers, reps * len(runs))
    executor = prepare(out, force, workers, scheduler, tasks=reps * len(runs))
    try:
        outcome = compare_to_folder(
            resolved,
            out,
            (from_year, last),
            seed,
            reps,
            executor,
            discount_rate,
            force,
            report,
            xlsx,
            _observed,
            {n: p for n, (p, _) in loaded.items()},
            _Progress(reps * len(runs), "compare"),
            attribution,
        )
    except ComparisonError as exc:
        fail(str(exc), code=1)
    except OutputError as exc:
        fail(str(exc))
    finally:
        executor.close()
    _print_failures(outcome.failures)
    _print_comparison(outcome.result)
    if outcome.attribution is not None:
        typer.echo("")
        for line in split.sentences(outcome.attribution, outcome.result.years, outcome.plans):
            typer.echo(line)
    typer.echo(f"\n{reps} paired replication(s) of {len(names)} scenarios in {outcome.seconds:.1f} s; results in {out}")
    if outcome.failures:
        raise typer.Exit(1)


def _print_comparison(result) -> None:
    from sim.analysis.comparison import summary_lines

    for line in summary_lines(result):
        typer.echo(line)


def _observed(region: str):
    """Observed December caseloads of a region, for the report's plot; None where there are none."""
    from calibration.targets import observed_caseload

    try:
        return observed_caseload(region)
    except KeyError:
        return None


def _fitted_bounds(region: str) -> dict:
    """The bounds the region's calibration file fits within; exit 2 with its error if it is broken."""
    from calibration.config import CalibrationError, fitted_bounds

    try:
        return fitted_bounds(region)
    except CalibrationError as exc:
        fail(str(exc))


@app.command("report")
def report_command(
    results_dir: Annotated[Path, typer.Argument(help="A folder written by `caseload compare`.")],
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Also write comparison.xlsx.")] = False,
) -> None:
    """Write report.html (self-contained, plots embedded) into a comparison folder."""
    from sim.analysis.report import ReportError, write_outputs

    try:
        paths = write_outputs(results_dir, workbook="comparison.xlsx" if xlsx else None, observed=_observed)
    except ReportError as exc:
        fail(str(exc))
    typer.echo(f"report in {paths[0]}")
    if xlsx:
        typer.echo(f"workbook in {paths[1]}")


@app.command("sensitivity")
@interruptible
def sensitivity_command(
    scenario_a: Annotated[str, typer.Argument(help="Reference scenario.")],
    scenario_b: Annotated[str, typer.Argument(help="Scenario compared with it.")],
    params: Annotated[str, typer.Option(help="Comma-separated dotted parameter paths, e.g. work.elasticity_work.")],
    reps: Annotated[int, typer.Option(help="Paired replications per setting.")] = 10,
    seed: Seed = 42,
    spread: Annotated[
        float, typer.Option(help="Relative range when the calibration gives no bounds (0.25 = ±25%).")
    ] = 0.25,
    calibration_bounds: Annotated[
        bool, typer.Option("--calibration-bounds", help="Use the calibration's bounds for fitted parameters.")
    ] = False,
    samples: Annotated[
        int, typer.Option(help="Also vary all parameters together over this many Latin-hypercube points (0 = off).")
    ] = 0,
    sobol: Annotated[
        int,
        typer.Option(
            help="Also Sobol' indices from this many base points, a power of 2 (0 = off; runs N x (parameters + 2) points)."
        ),
    ] = 0,
    until: Until = None,
    workers: Workers = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: results/sensitivity-A-B-seedN).")] = None,
    force: Force = False,
) -> None:
    """One-at-a-time sensitivity of the headline (saving, caseload difference 2025 and 2030): CSV and tornado plot."""
    from sim.analysis.sensitivity import (
        SensitivityError,
        check_horizon,
        check_samples,
        check_sobol_points,
        default_folder,
        parameter_ranges,
        replications_per_phase,
        sensitivity_to_folder,
    )

    _check_common(seed, reps)
    if samples < 0:
        fail(f"--samples: must be zero or positive (got {samples})")
    if sobol:
        try:
            check_sobol_points(sobol)
        except SensitivityError as exc:
            fail(str(exc))
    if not 0.0 < spread < 1.0:
        fail(f"--spread: give a fraction between 0 and 1, e.g. 0.25 (got {spread})")
    loaded = _load_many([scenario_a, scenario_b], until)
    (_, (_, sa)), (_, (_, sb)) = loaded.items()
    paths = [p.strip() for p in params.split(",") if p.strip()]
    if not paths:
        fail("--params: give at least one dotted parameter path, e.g. work.elasticity_work")
    try:
        check_horizon(sa, "--until" if until is not None else "simulation.until_year")
        if samples:
            check_samples(samples, len(paths))
        ranges = parameter_ranges(sa, sb, paths, spread, _fitted_bounds(sa.region.name) if calibration_bounds else None)
    except SensitivityError as exc:
        fail(str(exc))
    out = out or default_folder(sa, sb, seed)
    largest_batch = max(replications_per_phase(len(paths), reps, samples, sobol).values())
    executor = prepare(out, force, workers, tasks=largest_batch)
    try:
        tables = sensitivity_to_folder(
            sa,
            sb,
            ranges,
            out,
            seed,
            reps,
            executor,
            samples,
            sobol,
            force,
            progress=lambda label, total: _Progress(total, label),
        )
    except SensitivityError as exc:
        fail(str(exc))
    except OutputError as exc:
        fail(str(exc))
    finally:
        executor.close()
    table = tables["sensitivity.csv"]
    typer.echo(table.to_string(index=False))
    if samples:
        typer.echo("\n" + tables["global.csv"].to_string(index=False))
    if sobol:
        typer.echo("\n" + tables["sobol.csv"].to_string(index=False))
    typer.echo(f"\nresults in {out}")


class _CalibrationProgress:
    """Evaluations done, best objective so far and time left, on one stderr line."""

    def __init__(self, budget: int) -> None:
        self.budget, self.start, self.best, self.last = budget, time.perf_counter(), float("inf"), 0.0

    def __call__(self, evaluation, evaluator) -> None:
        self.best = min(self.best, evaluation.objective)
        done = len(evaluator.evaluations)
        now = time.perf_counter()
        if now - self.last < 0.5 and done < self.budget:
            return
        self.last = now
        rate = evaluator.new_seconds / evaluator.new_count if evaluator.new_count else 0.0
        left = max(0, self.budget - done) * rate
        sys.stderr.write(
            f"\rcalibrate: {done}/{self.budget} evaluations ({evaluator.cached_count} from the log), "
            f"best objective {self.best:,.2f}, {now - self.start:.0f} s, ~{left:.0f} s left   "
        )
        sys.stderr.flush()


@app.command("calibrate")
@interruptible
def calibrate_command(
    region: Annotated[
        str, typer.Option(help="Calibration file: a name in calibration/ or a path.")
    ] = "leidschendam-voorburg",
    fit_years: Annotated[
        str | None, typer.Option("--fit-years", help="FIRST-LAST fitted years (default: the file's).")
    ] = None,
    budget: Annotated[int | None, typer.Option(help="Model evaluations (default: the file's).")] = None,
    reps: Annotated[int | None, typer.Option(help="Replications per evaluation (default: the file's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (default: the file's).")] = None,
    population_scale: Annotated[float | None, typer.Option(help="Simulated share of the region's population.")] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: results/calibration-REGION-FIRST-LAST).")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="Folder of the evaluation log used to resume (default: OUT.state).")
    ] = None,
    force: Force = False,
) -> None:
    """Fit the free parameters of a calibration file to the observed caseloads; write the fitted TOML and a report."""
    from calibration.config import CalibrationError, parse_years
    from calibration.fit import load_checked
    from calibration.objective import EvaluationFailed
    from calibration.pipeline import run_calibration, summary
    from calibration.report import write_outputs
    from calibration.store import StateError, check_state

    _positive("--budget", budget)
    _positive("--reps", reps)
    _check_seed(seed)
    overrides = {"budget": budget, "reps": reps, "seed": seed, "population_scale": population_scale}
    try:
        if fit_years is not None:
            overrides["fit_years"] = parse_years(fit_years)
    except ValueError as exc:
        fail(f"--fit-years: {exc}")
    try:
        calibration, path = load_checked(region, overrides)
    except (CalibrationError, ScenarioError) as exc:
        fail(str(exc))
    first, last = calibration.fit_years
    out = out or Path("results") / f"calibration-{calibration.region}-{first}-{last}"
    state = state or Path(f"{out}.state")
    # the output folder, workers and scheduler first: checking the state folder makes it
    executor = prepare(out, force, workers, scheduler)
    try:
        check_state(state, out)
    except StateError as exc:
        executor.close()
        fail(str(exc))
    command = " ".join(["caseload calibrate", *sys.argv[2:]]) if len(sys.argv) > 1 else "caseload calibrate"
    try:
        result = run_calibration(
            calibration,
            state,
            executor,
            on_evaluation=_CalibrationProgress(calibration.budget),
            on_note=lambda note: sys.stderr.write(f"note: {note}\n"),
        )
    except KeyboardInterrupt:
        sys.stderr.write(
            f"\nerror: interrupted; the evaluations so far are kept in {state}: run the same command to resume\n"
        )
        raise typer.Exit(130) from None
    except StateError as exc:
        sys.stderr.write("\n")
        fail(str(exc))
    except EvaluationFailed as exc:
        sys.stderr.write("\n")
        fail(f"{exc}; the evaluations before it are kept in {state}", code=1)
    finally:
        executor.close()
    sys.stderr.write("\n")
    try:
        write_outputs(result, out, command, force=force)
    except (OutputError, CalibrationError) as exc:
        fail(str(exc))
    table = result.uncertainty.table
    for _, r in table.iterrows():
        flag = "  (weakly identified)" if r.weak else ""
        typer.echo(f"{r.parameter:45s} {r.estimate:12.5g}  90% {r.low:.5g} to {r.high:.5g}{flag}")
    typer.echo(
        result.path[["observed", "simulated", "error_pct", "stockflow", "stockflow_error_pct"]].round(1).to_string()
    )
    typer.echo(summary(result.path).round(2).to_string(index=False))
    typer.echo(f"\n{result.fit.evaluations} evaluations in {result.seconds:.0f} s; results in {out}")


def main() -> None:
    # SIGTERM stops a run like Ctrl-C; both are remembered, so an interrupt that lands in compiled
    # code (which disguises it as a SystemError) is never taken for a failed replication
    signal.signal(signal.SIGINT, request_interrupt)
    signal.signal(signal.SIGTERM, request_interrupt)
    app()


if __name__ == "__main__":
    main()
