"""The output of a calibration: fitted parameter TOML, a Markdown fit report, a PNG plot, tables.

Everything goes through `sim.output.write_folder`: a hidden temporary folder renamed into place
when complete, so an interrupted calibration leaves no folder that looks finished.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calibration.config import kept_fields
from calibration.fit import EVOLUTION, JACOBIAN, POLISH
from calibration.pipeline import CalibrationResult, summary
from calibration.uncertainty import draws_table
from sim import __version__
from sim.config import get_path, set_path
from sim.output import manifest, write_folder


def draws_name(fitted_file: str) -> str:
    """The name a fitted file's draws are shipped under beside it: fitted-REGION.toml -> draws-REGION.csv."""
    stem = fitted_file.removesuffix(".toml")
    return f"draws-{stem.removeprefix('fitted-')}.csv"


def _fmt(value: float) -> str:
    if value == 0:
        return "0.0"
    return f"{value:.6g}" if "e" not in f"{value:.6g}" else f"{value:.6e}"


def fitted_toml(result: CalibrationResult, command: str) -> str:
    """The fitted parameter file: every free parameter, plus the fixed values an existing fitted file held.

    Counts (`scales_with_population`) are written at full regional size. Tables are written at
    most two levels deep (`[work]`, then `base_work_per_month = { ... }`), so a scenario can
    include the file.
    """
    c, fit = result.calibration, result.fit
    values: dict[str, Any] = {}
    scenario = fit.problem.base.model_dump(mode="python")
    if c.population_scale == 1.0:  # a scaled region keeps only what it fitted
        for path in kept_fields(c, fit.problem.base, "calibration"):
            set_path(values, path, get_path(scenario, path))
    for p, value in zip(fit.problem.parameters, fit.theta, strict=True):
        set_path(values, p.path, float(value))
    table = result.uncertainty.table.set_index("parameter")
    first, last = fit.fit_years
    targets = fit.problem.targets
    fitted_to = f"the December caseloads {first}-{targets.stock_last}"
    if targets.stock_last < last:  # the years after the stocks are fitted to their flows
        fitted_to += " and " + ", ".join(m.name for m in targets.moments if max(m.years) > targets.stock_last)
    lines = [
        f"# Parameters of {c.region} fitted to {fitted_to} by simulated minimum",
        "# distance (differential evolution + least-squares polish, common random numbers):",
        f"#   {command}",
        f"# fitted {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}, caseload {__version__}, "
        f"{fit.evaluations} evaluations x {c.reps} replications, seed {c.seed}, objective {fit.best.objective:.2f}.",
        "# Fitted values carry their 90% bootstrap interval (the draws are in draws.csv, shipped as",
        f"# {draws_name(c.fitted_file)}); the other values are fixed assumptions",
        "# kept from the previous version of this file (docs/calibration.md). Regenerate, do not hand-edit.",
    ]
    for block, entries in values.items():
        lines.append(f"\n[{block}]")
        for key, value in entries.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {_fmt(float(v))}" for k, v in value.items())
                notes = [
                    f"{k} {table.loc[f'{block}.{key}.{k}', 'low']:.4g}-{table.loc[f'{block}.{key}.{k}', 'high']:.4g}"
                    for k in value
                    if f"{block}.{key}.{k}" in table.index
                ]
                note = f"  # fitted, 90%: {'; '.join(notes)}" if notes else ""
                lines.append(f"{key} = {{ {inner} }}{note}")
            else:
                path = f"{block}.{key}"
                note = (
                    f"  # fitted, 90%: {table.loc[path, 'low']:.4g}-{table.loc[path, 'high']:.4g}"
                    if path in table.index
                    else "  # fixed"
                )
                lines.append(f"{key} = {_fmt(float(value))}{note}")
    return "\n".join(lines) + "\n"


def plot(result: CalibrationResult, path: Path) -> None:
    """Observed vs simulated December caseload with bands, and the yardstick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result.path
    fig, ax = plt.subplots(figsize=(8, 4.5))
    years = p.index.to_numpy()
    if "low" in p:
        ax.fill_between(
            years, p["low"], p["high"], color="tab:blue", alpha=0.2, label="90% band (parameters + simulation)"
        )
    ax.fill_between(years, p["sim_low"], p["sim_high"], color="tab:blue", alpha=0.35, label="90% band (replications)")
    ax.plot(years, p["simulated"], "-o", color="tab:blue", label="microsimulation (mean)")
    ax.plot(years, p["stockflow"], "--s", color="tab:orange", label="stock-flow yardstick")
    ax.plot(years, p["observed"], "k^", markersize=8, label="observed")
    out = p[~p["in_sample"]]
    if not out.empty:
        ax.axvspan(out.index.min() - 0.5, out.index.max() + 0.5, color="grey", alpha=0.12, label="out of sample")
    first, last = result.fit.fit_years
    ax.set_title(f"{result.calibration.region}: December caseload, fitted on {first}-{last}")
    ax.set_xlabel("year")
    ax.set_ylabel("clients on assistance, December")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_convergence(result: CalibrationResult, path: Path) -> None:
    """The convergence trace: each evaluation's objective (dots, by the step it served) and the best
    so far (line), on a log scale, so a fit that stopped while still improving shows it."""
    from sim.analysis.plots import png_bytes, subplots

    trace = result.fit.trace()
    fig, ax = subplots((8, 4))
    colours = {EVOLUTION: "tab:blue", POLISH: "tab:green", JACOBIAN: "tab:grey"}
    for phase, part in trace.groupby("phase", sort=False):
        ax.plot(
            part["evaluation"], part["objective"], "o", ms=3, alpha=0.7, color=colours[phase], label=phase, zorder=3
        )
    ax.step(trace["evaluation"], trace["best_so_far"], where="post", color="black", lw=1.2, label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("objective (log scale)")
    ax.set_title(f"{result.calibration.region}: objective by evaluation, best {result.fit.best.objective:,.2f}")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3, which="both")
    path.write_bytes(png_bytes(fig))


def summary_lines(result: CalibrationResult) -> list[str]:
    """The fit for the terminal: estimates with their 90% intervals, the December caseload observed
    and simulated year by year, and the errors, with people's headings (the files keep every digit)."""
    from sim.analysis.summary import count, significant, text_table

    rows = [
        [
            r.parameter,
            significant(r.estimate, 4),
            f"{significant(r.low, 4)} to {significant(r.high, 4)}",
            "weak" * r.weak,
        ]
        for r in result.uncertainty.table.itertuples()
    ]
    lines = text_table(["parameter", "estimate", "90% interval", "identified"], rows, left=1)
    p = result.path

    def pct(value: float) -> str:
        return "" if value != value else f"{value:+.1f}%"

    rows = [
        [
            str(year),
            "fit" if r.in_sample else "prediction",
            count(r.observed),
            count(r.simulated),
            pct(r.error_pct),
            count(r.stockflow),
            pct(r.stockflow_error_pct),
        ]
        for year, r in zip(p.index, p.itertuples(), strict=True)
    ]
    header = ["year", "years", "observed", "simulated", "error", "stock-flow", "its error"]
    lines += ["", "December caseload:", *text_table(header, rows, left=2)]
    errors = summary(result.path)
    rows = [
        [r.years, r.model, count(r.rmse, 1), f"{r.mape:.1f}%", f"{r.max_abs_pct:.1f}%"]
        for r in errors.itertuples()
        if r.rmse == r.rmse
    ]
    lines += ["", *text_table(["years", "model", "RMSE (clients)", "mean |error|", "worst year"], rows, left=2)]
    return lines


def _table(frame: pd.DataFrame, floatfmt: str = "{:,.1f}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        cells = []
        for v in row:
            if isinstance(v, bool | np.bool_):
                cells.append("yes" if v else "")
            elif isinstance(v, float | np.floating):
                cells.append("" if np.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(result: CalibrationResult, command: str) -> str:
    c, fit, unc = result.calibration, result.fit, result.uncertainty
    first, last = fit.fit_years
    p = result.path.reset_index()
    p["in_sample"] = p["in_sample"].map({True: "fit", False: "prediction"})
    cols = ["year", "in_sample", "observed", "simulated", "error_pct", "sim_low", "sim_high"]
    cols += [x for x in ("low", "high") if x in p] + ["stockflow", "stockflow_error_pct"]
    est = unc.table[
        ["parameter", "estimate", "low", "high", "prior_mean", "prior_sd", "sensitivity", "shrinkage", "weak"]
    ]
    targets = fit.problem.targets
    t = pd.DataFrame(
        {
            "target": targets.names,
            "kind": [x.kind for x in targets.targets],
            "observed": targets.values,
            "simulated": fit.best.moments.mean(axis=0),
            "sd": targets.sds,
            "weight": targets.weights,
            "residual": fit.best.residuals[: len(targets.names)],
        }
    )
    corr = unc.correlation.round(2)
    corr.insert(0, "", corr.index)
    yard = ", ".join(f"{k} = {v:.4g}" for k, v in result.yardstick.params.items())
    weak = ", ".join(f"`{w}`" for w in unc.weak) or "none"
    return f"""# Calibration of {c.region}, fitted on {first}-{last}

    {command}

{fit.evaluations} evaluations ({fit.evaluations_new} run now, the rest from the evaluation log) of
{c.reps} replications each (seed {c.seed}, the same replications every evaluation), population
scale {c.population_scale:g}; {result.seconds:.0f} s in all. Objective at the optimum
{fit.best.objective:.2f} (sum of squared weighted residuals, priors included). Method:
docs/calibration.md.

![Observed December caseloads against the simulated mean with its bands and the stock-flow yardstick, {first}-{p["year"].max()}](fit.png)

## December caseload: observed and simulated
Simulated = mean of the fit's replications at the estimate; `sim_low`-`sim_high`: 5-95% over those
replications; `low`-`high`: 5-95% over {c.band_draws} bootstrap parameter draws, each with its own
replication. Errors in % of observed.

{_table(p[cols])}

## Errors

{_table(summary(result.path), "{:,.2f}")}

## Estimates (90% bootstrap intervals)
`sensitivity`: rise of the data part of the objective when the parameter moves 10% of its range.
`shrinkage`: share of the prior variance the data remove (below 0.5: weakly identified).

{_table(est, "{:.4g}")}

Weakly identified: {weak}.

## Correlation between estimates (bootstrap)

{_table(corr, "{:.2f}")}

## Targets at the optimum

{_table(t, "{:.4g}")}

## Convergence
The objective of each of the {fit.evaluations} evaluations in the order they were made, by the
step of the fit they served, and the best so far among the search's evaluations; the Jacobian
at the optimum (the last {fit.phases.count(JACOBIAN)}) only measures the curvature there
(convergence.csv).

![Objective by evaluation on a log scale: each evaluation's dot and the best so far, falling to {fit.best.objective:,.2f}](convergence.png)

## Yardstick
Aggregate stock-flow model (calibration/stockflow.py) fitted on the same years: {yard}.
"""


def write_outputs(result: CalibrationResult, out: Path, command: str, force: bool = False) -> Path:
    """Write the output folder whole or not at all."""
    c = result.calibration
    fitted = fitted_toml(result, command)
    report = markdown(result, command)

    def extra(folder: Path) -> None:
        (folder / c.fitted_file).write_text(fitted, encoding="utf-8")
        (folder / "report.md").write_text(report, encoding="utf-8")
        plot(result, folder / "fit.png")
        plot_convergence(result, folder / "convergence.png")

    tables = {
        "caseload.csv": result.path.reset_index(),
        "estimates.csv": result.uncertainty.table,
        "draws.csv": draws_table(result.fit, result.uncertainty),
        "correlation.csv": result.uncertainty.correlation.reset_index(names="parameter"),
        "errors.csv": summary(result.path),
        "convergence.csv": result.fit.trace(),
    }
    fields = manifest(
        "calibrate",
        command_line=command,
        region=c.region,
        fit_years=list(result.fit.fit_years),
        evaluations=result.fit.evaluations,
        evaluations_new=result.fit.evaluations_new,
        objective=result.fit.best.objective,
        seconds=round(result.seconds, 1),
        evaluation_log=str(result.fit.log_path),
        estimates=dict(zip(result.fit.names, result.fit.theta.tolist(), strict=True)),
        weakly_identified=result.uncertainty.weak,
        calibration=c.model_dump(mode="json"),
    )
    return write_folder(out, tables, fields, force=force, extra=extra)
