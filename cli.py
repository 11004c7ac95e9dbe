"""The `caseload` command line: a thin layer over the Python API in `sim`.

Only typer is imported up front, so `caseload --help`, `caseload scenarios` and shell completion
answer at once; each command imports the parts of the model it uses (numba, pandas and the
schema take about a second together). tests/test_cli.py checks that importing this module loads
none of them.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, ClassVar

import typer

Seed = Annotated[int, typer.Option(help="Root seed; replication i of every scenario uses its i-th child.")]
Until = Annotated[int | None, typer.Option(help="Last simulated year (default: the scenario's).")]
Workers = Annotated[
    int | None, typer.Option(help="Worker processes (default: all cores, never more than the replications).")
]
Scheduler = Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT, or 'local'.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing results folder that caseload wrote.")]
ParameterDraws = Annotated[
    int | None,
    typer.Option(
        "--parameter-draws",
        help="Also run at this many draws of the fitted parameters (the calibration's draws file), --reps "
        "replications each, for total intervals beside the noise ones (default: 100 where the scenario has "
        "draws; 0: simulation noise only, as before).",
    ),
]

# help and usage errors in click's plain layout: rich's boxes take longer to import than the rest
# of `caseload --help` together, and a usage error stays one `Error:` line like ours
app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Microsimulation of a municipality's social-assistance caseload.",
)
scenarios_app = typer.Typer(
    help="List shipped scenarios, show one resolved, or say how two differ.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(scenarios_app, name="scenarios")

log = logging.getLogger("caseload")
LOGGERS = ("caseload", "sim", "calibration")
"""The loggers -v and -q set: the command line's and the model's, not those of the libraries below."""


class _Echo(logging.Handler):
    """Log records on stderr as the rest of the output is written (so CliRunner captures them too):
    info as it is, warnings and debug records with their level in front."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"warning: {text}"
        elif record.levelno < logging.INFO:
            text = f"debug: {record.name}: {text}"
        typer.echo(text, err=True)


def set_verbosity(verbose: bool, quiet: bool) -> None:
    """-v: also debug records; -q: only warnings and errors (no notes, no progress)."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [_Echo()]
        logger.setLevel(level)
        logger.propagate = False


@app.callback()
def options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also say what is done, step by step.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only results, warnings and errors: no progress.")
    ] = False,
) -> None:
    if verbose and quiet:
        fail("--verbose, --quiet: give one of them, not both")
    set_verbosity(verbose, quiet)


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
            _Progress.stop_all()
            typer.echo("\nerror: interrupted; no output folder was written", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            # the workers died mid-run: one line, not a traceback (the module is loaded if it raised)
            replications = sys.modules.get("sim.replications")
            if replications is not None and isinstance(exc, replications.ExecutorError):
                _Progress.stop_all()
                fail(str(exc), code=1)
            raise
        finally:
            _Progress.stop_all()

    return wrapper


def prepare(out: Path, force: bool, workers: int | None, scheduler: str | None = None, tasks: int | None = None):
    """Check that `out` may be written, then start the executor; exit 2 with one line on either problem.

    `tasks` (replications to run, when known) caps the worker processes.
    """
    from sim.output import OutputError, check_target
    from sim.replications import ExecutorError, make_executor

    try:
        check_target(out, force)
    except OutputError as exc:
        fail(str(exc))
    try:
        executor = make_executor(workers, scheduler, tasks)
    except ExecutorError as exc:
        fail(str(exc))
    log.debug("executor: %s; output folder %s", _describe_executor(executor), out)
    return executor


def _describe_executor(executor) -> str:
    workers = getattr(executor, "workers", None) or getattr(executor, "max_workers", None)
    return type(executor).__name__ + (f" with {workers} worker(s)" if workers else "")


def load_scenario(ref: str, until: int | None = None):
    """Load a scenario by name or path, with `--until` applied; exit 2 with a clear message if bad."""
    path, scenario, _ = load_scenario_files(ref, until)
    return path, scenario


def load_scenario_files(ref: str, until: int | None = None):
    """`load_scenario`, with the files the scenario was merged from (where its draws are found)."""
    from sim.scenario import ScenarioError, load, with_overrides

    try:
        loaded = load(ref)
        scenario = loaded.scenario
        if until is not None:
            start = scenario.simulation.start_year
            if until <= start:
                fail(f"--until: {until} is not after the scenario's start year {start}; give a year from {start + 1}")
            scenario = with_overrides(scenario, {"simulation": {"until_year": until}})
        log.debug("scenario %s from %s", scenario.name, loaded.path)
        return loaded.path, scenario, loaded.files
    except ScenarioError as exc:
        fail(str(exc))


def _draws(loaded: dict, asked: int | None):
    """(draws, N) for scenarios {name: (path, scenario, files)}: the draws beside the fitted files they
    include, checked and side by side (`sim.analysis.draws.draws_for`); (None, 0) when none is asked
    for, or by default when they include no fitted file. Exit 2 with one line when the draws are
    missing, broken, too few, or differ between the scenarios."""
    from sim.analysis.draws import DEFAULT_DRAWS, DrawsError, NoDraws, TooFewDraws, draws_for

    if asked is not None and asked < 0:
        fail(f"--parameter-draws: give 0 or more draws (got {asked})")
    if asked == 0:
        return None, 0
    n = DEFAULT_DRAWS if asked is None else asked
    try:
        draws = draws_for({name: files for name, (_, _, files) in loaded.items()}, n)
    except NoDraws as exc:
        if asked is None and exc.scenario is not None:
            log.info("note: %s: the intervals are simulation noise only", exc)
            return None, 0
        where = f"{loaded[exc.scenario][0]}: " if exc.scenario is not None else ""
        fail(f"--parameter-draws: {where}{exc}; give 0")
    except TooFewDraws as exc:
        fail(str(exc))
    except DrawsError as exc:
        fail(f"{exc}; or give --parameter-draws 0")
    log.debug("parameter draws: %d of %s", n, draws.file)
    return draws, n


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        fail(f"{name}: must be at least 1 (got {value})")


class _Progress:
    """Work done out of a total, on stderr: a bar (rich) on a terminal, a plain line at each tenth
    elsewhere (a log file or CI keeps them), nothing with -q or for a single task.

    Every bar started is stopped when its command ends, however it ends (`stop_all`).
    """

    running: ClassVar[list[_Progress]] = []

    def __init__(self, total: int, label: str, unit: str = "replications") -> None:
        self.total, self.label, self.unit = total, label, unit
        self.start = time.perf_counter()
        self.show = total > 1 and log.isEnabledFor(logging.INFO)
        self.bar, self.task, self.tenths, self.done = None, None, 0, 0

    def __call__(self, done: int, total: int, status: str = "") -> None:
        self.done, self.total = done, total
        if not self.show:
            return
        if sys.stderr.isatty():
            self._draw(status)
        elif done * 10 // total > self.tenths:
            self.tenths = done * 10 // total
            log.info(self.line(status))
        if done >= total:
            self.stop()

    def line(self, status: str = "") -> str:
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return f"{self.label}: {self.done:,}/{self.total:,} {self.unit}{status}, {elapsed:,.0f} s" + (
            f", ~{left:,.0f} s left" if self.done < self.total else ""
        )

    def _draw(self, status: str) -> None:
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit + "{task.fields[status]}"),
                TimeRemainingColumn(elapsed_when_finished=True),
                console=Console(stderr=True),
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, status=status)
            _Progress.running.append(self)
        self.bar.update(self.task, completed=self.done, total=self.total, status=status)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if self in _Progress.running:
            _Progress.running.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for progress in list(cls.running):
            progress.stop()


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
    table_format: Annotated[
        str, typer.Option("--format", help="Tables as csv, or parquet (typed, compact; needs pyarrow).")
    ] = "csv",
    parameter_draws: ParameterDraws = None,
) -> None:
    """Run SCENARIO and write yearly.csv, monthly.csv and manifest.json to the output folder."""
    from sim.analysis.draws import DrawsError, run_with_draws
    from sim.analysis.summary import drawn_yearly_lines, yearly_lines
    from sim.output import OutputError, check_table_format
    from sim.runs import RunFailed, default_folder, run_to_folder

    _check_common(seed, reps)
    try:
        check_table_format(table_format)
    except OutputError as exc:
        fail(str(exc))
    path, resolved, files = load_scenario_files(scenario, until)
    draws, n_draws = _draws({resolved.name: (path, resolved, files)}, parameter_draws)
    out = out or default_folder(resolved, seed)
    total = reps * (1 + n_draws)
    _check_size([resolved], total, workers, total)
    executor = prepare(out, force, workers, scheduler, tasks=total)
    progress, spread = _Progress(total, resolved.name), None
    try:
        if n_draws:
            outcome, spread = run_with_draws(
                resolved, out, draws, n_draws, seed, reps, executor, events, force, progress, path, table_format
            )
        else:
            outcome = run_to_folder(resolved, out, seed, reps, executor, events, force, progress, path, table_format)
    except DrawsError as exc:
        fail(str(exc))
    except RunFailed as exc:
        _print_failures(exc.results.failures)
        fail(str(exc), code=1)
    except OutputError as exc:
        fail(str(exc))
    finally:
        executor.close()
    _print_failures(outcome.results.failures)
    if spread is not None:
        _print_failures(spread.failures)
        _echo_lines(drawn_yearly_lines(outcome.results.yearly, spread.bands))
    else:
        _echo_lines(yearly_lines(outcome.results.yearly))
    drawn = f" at the estimate and at each of {n_draws:,} parameter draws" if n_draws else ""
    typer.echo(f"\n{reps:,} replication(s){drawn} of {resolved.name} in {outcome.seconds:,.1f} s; results in {out}")
    if outcome.results.failures:
        raise typer.Exit(1)


def _print_failures(failures: list[dict]) -> None:
    for f in failures:
        typer.echo(
            f"replication {f['replication']} of {f['scenario']} (seed {f['seed']}) failed: {f['error']}", err=True
        )


def _echo_lines(lines: list[str]) -> None:
    typer.echo("\n".join(lines))


@scenarios_app.callback()
def scenarios_list(ctx: typer.Context) -> None:
    """List the shipped scenarios with a one-line description."""
    if ctx.invoked_subcommand is not None:
        return
    from sim.catalogue import CatalogueError, describe_shipped

    try:
        rows = describe_shipped()
    except CatalogueError as exc:
        fail(str(exc))
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        typer.echo(f"{name:<{width}}  {text}")


@scenarios_app.command("show")
def scenarios_show(name: Annotated[str, typer.Argument(help="Shipped scenario name or path.")]) -> None:
    """Print the resolved parameters of a scenario as JSON."""
    import json

    _, scenario = load_scenario(name)
    typer.echo(json.dumps(scenario.model_dump(mode="json"), indent=2))


@scenarios_app.command("diff")
def scenarios_diff(
    reference: Annotated[str, typer.Argument(help="Scenario (name or path) the other is compared with.")],
    scenario: Annotated[str, typer.Argument(help="Scenario (name or path) compared with it.")],
) -> None:
    """Say in words how SCENARIO's resolved settings differ from REFERENCE's: the policies lever by
    lever and period by period, then every other setting that differs."""
    from sim.analysis.attribution import difference_lines

    _, a = load_scenario(reference)
    _, b = load_scenario(scenario)
    _echo_lines(difference_lines(a, b))


def _load_many(names: list[str], until: int | None) -> dict:
    """Load distinct scenarios that can be compared (same start and last year): {name: (path, scenario, files)}."""
    from sim.analysis.comparison import ComparisonError, check_comparable

    loaded = {}
    for ref in names:
        path, scenario, files = load_scenario_files(ref, until)
        if scenario.name in loaded:
            fail(f"{ref}: scenario {scenario.name!r} is named twice; compare distinct scenarios")
        loaded[scenario.name] = (path, scenario, files)
    try:
        check_comparable({n: s for n, (_, s, _) in loaded.items()})
    except ComparisonError as exc:
        fail(str(exc))
    return loaded


MAX_REPLICATIONS = 1_000_000


def _check_seed(seed: int | None) -> None:
    from sim.randomness import MAX_SEED

    if seed is not None and not 0 <= seed <= MAX_SEED:
        fail(f"--seed: give a whole number from 0 to {MAX_SEED:,} (got {seed})")


def _check_common(seed: int, reps: int) -> None:
    _check_seed(seed)
    if not 1 <= reps <= MAX_REPLICATIONS:
        fail(f"--reps: give 1 to {MAX_REPLICATIONS:,} replications (got {reps})")


def _check_size(scenarios, reps: int, workers: int | None, tasks: int) -> None:
    """Refuse a run whose results would not fit in memory; announce one that takes long."""
    from sim.replications import ExecutorError, check_fits, estimate, worker_count

    try:
        cost = estimate(scenarios, reps, worker_count(workers, tasks))
        if check_fits(cost):
            log.info("note: %s; Ctrl-C stops it without writing anything", cost.describe())
    except ExecutorError as exc:
        fail(str(exc))


@app.command("compare")
@interruptible
def compare_command(
    scenarios: Annotated[list[str], typer.Argument(help="Two or more scenarios; the first is the reference.")],
    reps: Annotated[
        int | None, typer.Option(help="Paired replications per scenario (default 20; 2 per draw with parameter draws).")
    ] = None,
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
    parameter_draws: ParameterDraws = None,
) -> None:
    """Compare scenarios with paired replications; write comparison.csv, break_even.csv, attribution.csv,
    yearly tables, manifest."""
    from sim.analysis import attribution as split
    from sim.analysis.comparison import ComparisonError, compare_to_folder, default_folder
    from sim.analysis.draws import DEFAULT_DRAW_REPS, DrawsError
    from sim.output import OutputError

    _check_seed(seed)
    if reps is not None:
        _check_common(seed, reps)
    if not 0.0 <= discount_rate < 1.0:
        fail(f"--discount-rate: give a yearly rate from 0 up to 1, e.g. 0.03 (got {discount_rate})")
    loaded = _load_many(scenarios, until)
    draws, n_draws = _draws(loaded, parameter_draws)
    reps = reps if reps is not None else (DEFAULT_DRAW_REPS if n_draws else 20)
    resolved = {n: s for n, (_, s, _) in loaded.items()}
    names = list(resolved)
    start, last = resolved[names[0]].simulation.start_year, resolved[names[0]].simulation.until_year
    if not start < from_year <= last:
        fail(f"--from-year: {from_year} is outside the simulated years {start + 1}-{last}")
    out = out or default_folder(names, seed)
    plans = split.plan(resolved) if attribution else []
    runs = [*resolved.values(), *split.extra_runs(plans).values()]
    per_run = reps * (1 + n_draws)
    _check_size(runs, per_run, workers, per_run * len(runs))
    executor = prepare(out, force, workers, scheduler, tasks=per_run * len(runs))
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
            {n: p for n, (p, _, _) in loaded.items()},
            _Progress(per_run * len(runs), "compare"),
            attribution,
            draws,
            n_draws,
        )
    except DrawsError as exc:
        fail(str(exc))
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
    drawn = f" at the estimate and at each of {n_draws:,} parameter draws" if n_draws else ""
    typer.echo(
        f"\n{reps:,} paired replication(s){drawn} of {len(names)} scenarios in {outcome.seconds:,.1f} s; "
        f"results in {out}"
    )
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
    parameter_draws: Annotated[
        int,
        typer.Option(
            "--parameter-draws",
            help="Also run every setting at this many draws of the other fitted parameters, --reps replications "
            "each, for total intervals (default 0: each setting already multiplies the runs).",
        ),
    ] = 0,
) -> None:
    """One-at-a-time sensitivity of the headline (saving, caseload difference 2025 and 2030): CSV and tornado plot."""
    from sim.analysis.draws import DrawsError
    from sim.analysis.sensitivity import (
        SensitivityError,
        check_horizon,
        check_samples,
        check_sobol_points,
        default_folder,
        parameter_ranges,
        replications_per_phase,
        sensitivity_to_folder,
        summary_lines,
    )
    from sim.output import OutputError

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
    (_, (_, sa, _)), (_, (_, sb, _)) = loaded.items()
    draws, n_draws = _draws(loaded, parameter_draws)
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
    largest_batch = max(replications_per_phase(len(paths), reps, samples, sobol, n_draws).values())
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
            draws=draws,
            parameter_draws=n_draws,
        )
    except DrawsError as exc:
        fail(str(exc))
    except SensitivityError as exc:
        fail(str(exc))
    except OutputError as exc:
        fail(str(exc))
    finally:
        executor.close()
    _echo_lines(summary_lines(tables, sa.name, sb.name))
    typer.echo(f"\nresults in {out}")


class _CalibrationProgress(_Progress):
    """Evaluations done out of the budget and the fit's best objective so far: the count and the
    objective the report gives at the end (the evaluator keeps both, so they cannot drift apart)."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget, "calibrate", "evaluations")
        self.status = ""

    def __call__(self, evaluation, evaluator) -> None:
        best = evaluator.best.objective if evaluator.best is not None else float("nan")
        self.status = f" ({evaluator.cached_count:,} from the log), best objective {best:,.2f}"
        super().__call__(len(evaluator.evaluations), self.total, self.status)

    def finish(self, evaluations: int, objective: float) -> None:
        """The fit's last line; a fit may end below its budget (the evolution converged, or the rest is
        not a whole polish step)."""
        if not self.show:
            return
        self.done, self.status = (
            evaluations,
            self.status.split(", best objective")[0] + f", best objective {objective:,.2f}",
        )
        ended = "" if evaluations == self.total else "; the fit ended below its budget"
        if self.bar is not None:
            self.bar.update(self.task, completed=evaluations, status=self.status + ended)
            self.stop()
        else:
            elapsed = time.perf_counter() - self.start
            log.info(f"{self.label}: {evaluations:,}/{self.total:,} {self.unit}{self.status}, {elapsed:,.0f} s{ended}")


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
    from calibration.pipeline import run_calibration
    from calibration.report import summary_lines, write_outputs
    from calibration.store import StateError, check_state
    from sim.output import OutputError
    from sim.scenario import ScenarioError

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
    progress = _CalibrationProgress(calibration.budget)
    try:
        result = run_calibration(
            calibration,
            state,
            executor,
            on_evaluation=progress,
            on_note=lambda note: log.info("note: %s", note),
            on_fitted=lambda fit: progress.finish(fit.evaluations, fit.best.objective),
        )
    except KeyboardInterrupt:
        progress.stop()
        typer.echo(
            f"\nerror: interrupted; the evaluations so far are kept in {state}: run the same command to resume",
            err=True,
        )
        raise typer.Exit(130) from None
    except StateError as exc:
        progress.stop()
        fail(str(exc))
    except EvaluationFailed as exc:
        progress.stop()
        fail(f"{exc}; the evaluations before it are kept in {state}", code=1)
    finally:
        executor.close()
    try:
        write_outputs(result, out, command, force=force)
    except (OutputError, CalibrationError) as exc:
        fail(str(exc))
    _echo_lines(summary_lines(result))
    typer.echo(
        f"\n{result.fit.evaluations:,} evaluations in {result.seconds:,.0f} s, best objective "
        f"{result.fit.best.objective:,.2f}; results in {out}"
    )


@app.command("explore")
def explore_command(
    reference: Annotated[str, typer.Option(help="Reference scenario the page opens on (name or path).")] = "focus",
    scenario: Annotated[str, typer.Option(help="Scenario whose levers the page moves (name or path).")] = "broad",
    host: Annotated[
        str, typer.Option(help="Address to listen on (default loopback: only this machine reaches the page).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
    reps: Annotated[int, typer.Option(help="Paired replications of each live comparison.")] = 20,
    until: Annotated[int, typer.Option(help="Last simulated year the page opens on.")] = 2030,
    parameter_draws: Annotated[
        int,
        typer.Option(
            "--parameter-draws",
            help="Parameter draws (x 2 replications) for total ranges, after the live answer (0: none).",
        ),
    ] = 20,
    seed: Seed = 42,
    workers: Workers = None,
    out: Annotated[Path, typer.Option(help="Folder the page offers to save exports under.")] = Path("results"),
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default web browser.")] = False,
) -> None:
    """Start the explorer, a local web page: move the levers and see caseload and euros with their ranges, live
    (needs the extra: pip install -e ".[explore]")."""
    from caseload.explore import DRAWS, HORIZON, REPS, ExploreError, serve

    _check_seed(seed)
    if not REPS[0] <= reps <= REPS[1]:
        fail(f"--reps: give {REPS[0]} to {REPS[1]} paired replications (got {reps})")
    if not DRAWS[0] <= parameter_draws <= DRAWS[1]:
        fail(f"--parameter-draws: give {DRAWS[0]} to {DRAWS[1]} draws (got {parameter_draws})")
    if not HORIZON[0] <= until <= HORIZON[1]:
        fail(f"--until: give a year from {HORIZON[0]} to {HORIZON[1]} (got {until})")
    if not 1 <= port <= 65535:
        fail(f"--port: give a port from 1 to 65535 (got {port})")
    for ref in (reference, scenario):
        load_scenario(ref)
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: listening on {host}: anyone who reaches this machine there can run the model", err=True)

    def ready(url: str) -> None:
        typer.echo(f"caseload explore: {url} (Ctrl-C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    try:
        serve(host, port, reference, scenario, workers, out.absolute(), reps, parameter_draws, seed, until, ready)
    except ExploreError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("stopped")


def _interrupt(signum: int, frame) -> None:
    """SIGINT and SIGTERM stop a command like Ctrl-C; once the model is loaded, they are also
    remembered, so an interrupt that lands in compiled code (which disguises it as a SystemError)
    is never taken for a failed replication. Before that no model code runs, and the model is not
    loaded just to stop."""
    replications = sys.modules.get("sim.replications")
    if replications is not None:
        replications.request_interrupt(signum, frame)
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    app()


if __name__ == "__main__":
    main()
