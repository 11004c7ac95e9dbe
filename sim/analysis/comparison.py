"""Paired comparison of scenarios: pure functions over the yearly tables.

Replication i of every scenario is run with the same child seed, so it sees the same clients
with the same personal draws (common random numbers). The difference of a metric between a
scenario and the reference (the first scenario named) is therefore taken per replication, and
its mean gets a paired-t 95% confidence interval over the replications (Law & Kelton, paired-t
for common random numbers). All but the last part are pure functions over the yearly tables;
`run_paired` runs the replications and `compare_to_folder` writes what `caseload compare` writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.budget import break_even_year, budget_columns, discount_factors
from sim.analysis.summary import count, difference_of, euros, millions
from sim.parameters import Scenario

LEVEL = 0.95
"""Confidence level of diff_low/diff_high."""


@dataclass(frozen=True)
class Metric:
    """A compared quantity: its name, how a year's value is made, and how the horizon total is."""

    name: str
    total: str  # "sum" over the horizon, "mean" over its years, or "last" (cumulative)
    meaning: str


METRICS: list[Metric] = [
    Metric("caseload_december", "mean", "clients on benefit on 31 December (total: mean over the years)"),
    Metric("notifications", "sum", "new notifications (before the door)"),
    Metric("gatekept", "sum", "notifications the gatekeeper stopped"),
    Metric("reapplications", "sum", "people the gatekeeper stopped who applied again"),
    Metric("inflow", "sum", "entries to benefit, returns included"),
    Metric("returns", "sum", "returns after leaving: temporary work that ended (the revolving door) and other exits"),
    Metric("outflow", "sum", "all exits"),
    Metric("exits_work", "sum", "exits to full-time work, temporary work and self-employment"),
    Metric("exits_work_fulltime", "sum", "exits to full-time work"),
    Metric("exits_work_temporary", "sum", "exits to temporary work"),
    Metric("exits_self_employment", "sum", "exits to self-employment"),
    Metric("placements_parttime", "sum", "part-time jobs found (client stays on a partial benefit)"),
    Metric("granite_stock", "mean", "December stock on assistance 4+ years"),
    Metric("participation_share", "mean", "share of the December stock on the participation route"),
    Metric(
        "participation_active",
        "mean",
        "December participation clients in an activity (volunteering, informal care, other useful activity)",
    ),
    Metric("participation_active_share", "mean", "share of the December participation clients in an activity"),
    Metric("work_consultant_caseload", "mean", "clients per work consultant (yearly mean)"),
    Metric("wait_days_mean", "mean", "days from notification to benefit"),
    Metric("benefit_client_months", "sum", "full-benefit client-months paid"),
    Metric("benefit_spending_eur", "sum", "benefit spending on the BUIG budget"),
    Metric("trajectory_spending_eur", "sum", "trajectory spending on the participation budget"),
    Metric("work_consultants", "sum", "work consultants' FTE-years"),
    Metric("work_consultant_spending_eur", "sum", "staff budget: the work consultants"),
    Metric("income_consultant_spending_eur", "sum", "staff budget: income consultants' contacts with the unserved"),
    Metric("guidance_spending_eur", "sum", "staff budget: extra participation guidance"),
    Metric("aftercare_spending_eur", "sum", "staff budget: aftercare after placements"),
    Metric("staff_spending_eur", "sum", "the staff budget's items together"),
    Metric("total_spending_eur", "sum", "every budget: benefits, trajectories and staff"),
    Metric("safety_net_eur", "sum", "safety-net payment on a BUIG deficit (only years with a grant, if applied)"),
    Metric("buig_balance_eur", "sum", "state grant plus safety net minus benefit spending (only years with a grant)"),
    Metric("net_saving_eur", "sum", "saving against the reference: its total spending minus this one's"),
    Metric("cumulative_net_saving_eur", "last", "net saving summed from the horizon's first year, discounted"),
]
METRIC_NAMES = [m.name for m in METRICS]
COLUMNS = ["year", "metric", "scenario", "reference", "mean", "reference_mean", "diff_mean", "diff_low", "diff_high"]
"""Columns of comparison.csv, in order."""

_OWN = {  # metric -> yearly column, for the metrics that are a column as it is
    "caseload_december": "caseload_december",
    "notifications": "notifications",
    "gatekept": "gatekept",
    "reapplications": "reapplications",
    "inflow": "inflow",
    "returns": "returns",
    "outflow": "outflow",
    "exits_work_fulltime": "outflow_work_fulltime",
    "exits_work_temporary": "outflow_work_temporary",
    "exits_self_employment": "outflow_self_employment",
    "placements_parttime": "placements_parttime",
    "granite_stock": "stock_duration_4plus",
    "participation_active": "stock_participation_active",
    "work_consultant_caseload": "work_consultant_caseload",
    "wait_days_mean": "wait_days_mean",
    "benefit_client_months": "benefit_client_months",
    "benefit_spending_eur": "benefit_spending_eur",
    "trajectory_spending_eur": "trajectory_spending_eur",
    "work_consultants": "work_consultants",
    "work_consultant_spending_eur": "work_consultant_spending_eur",
    "income_consultant_spending_eur": "income_consultant_spending_eur",
    "guidance_spending_eur": "guidance_spending_eur",
    "aftercare_spending_eur": "aftercare_spending_eur",
    "staff_spending_eur": "staff_spending_eur",
    "total_spending_eur": "total_spending_eur",
    "safety_net_eur": "safety_net_eur",
    "buig_balance_eur": "buig_balance_eur",
}


class ComparisonError(ValueError):
    """The yearly tables cannot be compared (no common years or replications)."""


def scenario_metrics(yearly: pd.DataFrame, scenario: Scenario, years: tuple[int, int]) -> pd.DataFrame:
    """One scenario's own metrics per (year, replication) over the horizon `years` (inclusive)."""
    frame = budget_columns(yearly, scenario)
    frame = frame[(frame["year"] >= years[0]) & (frame["year"] <= years[1])]
    out = pd.DataFrame({"year": frame["year"].astype(int), "replication": frame["replication"].astype(int)})
    for metric, column in _OWN.items():
        out[metric] = frame[column].astype("float64").to_numpy()
    out["exits_work"] = out["exits_work_fulltime"] + out["exits_work_temporary"] + out["exits_self_employment"]
    stock = frame["caseload_december"].astype("float64").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        participation = frame["stock_participation"].astype("float64").to_numpy()
        out["participation_share"] = participation / stock
        out["participation_active_share"] = out["participation_active"].to_numpy() / participation
    return out.set_index(["year", "replication"]).sort_index()


def paired_interval(diffs: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of paired differences and its two-sided paired-t interval; NaN bounds for one pair."""
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return np.nan, np.nan, np.nan
    mean = float(d.mean())
    if len(d) < 2:
        return mean, np.nan, np.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1)) * sd / np.sqrt(len(d))
    return mean, mean - half, mean + half


def _totals(frame: pd.DataFrame) -> pd.Series:
    """Per-replication horizon totals of a (year, replication) x metric frame."""
    grouped = frame.groupby(level="replication")
    parts = {}
    for metric in METRICS:
        if metric.name not in frame:
            continue
        column = grouped[metric.name]
        if metric.total == "sum":
            parts[metric.name] = column.sum(min_count=1)
        elif metric.total == "mean":
            parts[metric.name] = column.mean()
        else:
            parts[metric.name] = column.last()
    return pd.DataFrame(parts)


@dataclass(frozen=True)
class Comparison:
    """The result of `compare`: the long table, the break-even table, and what went in."""

    table: pd.DataFrame  # comparison.csv
    break_even: pd.DataFrame  # break_even.csv
    replications: list[int]
    years: tuple[int, int]
    discount_rate: float


def compare(
    yearlies: dict[str, pd.DataFrame],
    scenarios: dict[str, Scenario],
    years: tuple[int, int],
    discount_rate: float = 0.0,
) -> Comparison:
    """Compare every scenario with the first (the reference), paired by replication.

    Only replications present for every scenario are used (a failed replication drops its
    pair). `years` is the horizon (inclusive); savings are discounted to its first year.
    """
    names = list(yearlies)
    if len(names) < 2:
        raise ComparisonError("give at least two scenarios to compare")
    reference = names[0]
    own = {n: scenario_metrics(yearlies[n], scenarios[n], years) for n in names}
    common = sorted(set.intersection(*(set(f.index) for f in own.values())))
    if not common:
        raise ComparisonError(f"no common (year, replication) rows in {years[0]}-{years[1]}")
    index = pd.MultiIndex.from_tuples(common, names=["year", "replication"])
    own = {n: f.loc[index] for n, f in own.items()}
    for optional in ("buig_balance_eur", "safety_net_eur"):  # only with a grant
        if all(own[n][optional].isna().all() for n in names):
            own = {n: f.drop(columns=optional) for n, f in own.items()}
    year_values = index.get_level_values("year").to_numpy()
    factor = discount_factors(year_values, years[0], discount_rate)
    ref_total = own[reference]["total_spending_eur"].to_numpy()
    for n in names:
        frame = own[n]
        frame["net_saving_eur"] = ref_total - frame["total_spending_eur"].to_numpy()
        discounted = pd.Series(frame["net_saving_eur"].to_numpy() * factor, index=index)
        frame["cumulative_net_saving_eur"] = discounted.groupby(level="replication").cumsum()

    metrics = [m.name for m in METRICS if m.name in own[reference]]
    ref_year, ref_tot = own[reference][metrics], _totals(own[reference][metrics])
    parts = []
    for n in names:
        yearly = _summary(own[n][metrics], ref_year, lambda f: f.groupby(level="year"))
        totals = _summary(_totals(own[n][metrics]), ref_tot, lambda f: f.groupby(lambda _: "total"))
        for part in (yearly, totals):
            part.insert(2, "scenario", n)
            parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table["reference"] = reference
    table["year"] = table["year"].astype(str)
    table = table[COLUMNS]
    replications = sorted(set(index.get_level_values("replication")))
    return Comparison(table, _break_even(own, names, reference, discount_rate), replications, years, discount_rate)


def _summary(values: pd.DataFrame, ref: pd.DataFrame, group) -> pd.DataFrame:
    """Long rows (year, metric, mean, reference_mean, diff_*) of per-replication values against the reference.

    The same as `paired_interval` per group and metric, vectorised: NaN values are skipped,
    one pair gives NaN bounds, identical pairs give bounds equal to the mean.
    """
    diff = values - ref
    g = group(diff)
    mean, sd, n = g.mean(), g.std(ddof=1), g.count()
    with np.errstate(invalid="ignore"):
        t = pd.DataFrame(
            stats.t.ppf(0.5 + LEVEL / 2, np.maximum(n.to_numpy() - 1, 1)), index=n.index, columns=n.columns
        )
    half = (t * sd / np.sqrt(n)).where(n >= 2)
    half = half.where(sd != 0, 0.0).where(n >= 2)
    long = {
        "mean": group(values).mean(),
        "reference_mean": group(ref).mean(),
        "diff_mean": mean,
        "diff_low": mean - half,
        "diff_high": mean + half,
    }
    frames = [frame.stack(future_stack=True).rename(column) for column, frame in long.items()]
    out = pd.concat(frames, axis=1).reset_index()
    return out.rename(columns={out.columns[0]: "year", out.columns[1]: "metric"})


UNDISCOUNTED_COLUMNS = [
    "break_even_year_undiscounted",
    "cumulative_saving_undiscounted_mean",
    "cumulative_saving_undiscounted_low",
    "cumulative_saving_undiscounted_high",
    "extra_exits_work",
    "cost_per_extra_exit_eur",
]
"""break_even.csv's columns since the savings count every budget (an older folder lacks them)."""
BREAK_EVEN_COLUMNS = [
    "scenario",
    "reference",
    "from_year",
    "until_year",
    "discount_rate",
    "break_even_year",
    "break_even_low",
    "break_even_high",
    "cumulative_saving_mean",
    "cumulative_saving_low",
    "cumulative_saving_high",
    *UNDISCOUNTED_COLUMNS,
]
"""Columns of break_even.csv: the savings on total spending (every budget), discounted at the
comparison's rate and undiscounted side by side, and what an extra exit to work costs."""


def _cumulative(saving: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(years, mean, low, high) of the cumulative saving per year (a year x replication table)."""
    years = saving.index.to_numpy()
    bounds = np.array([paired_interval(saving.loc[y].to_numpy()) for y in years])
    return years, bounds[:, 0], bounds[:, 1], bounds[:, 2]


def _break_even(own: dict[str, pd.DataFrame], names: list[str], reference: str, rate: float) -> pd.DataFrame:
    """Break-even year of each scenario against the reference, with its interval, discounted and
    undiscounted, and the cost per extra exit to work.

    The year is read off the mean cumulative net saving on total spending; the interval from its
    95% bounds: the early end is when the upper bound turns positive for good, the late end when
    the lower bound does. Empty (NaN) when that does not happen within the horizon. The cost per
    extra exit is the extra total spending over the horizon over the extra exits to work (both
    means of the paired differences; empty when there are no more exits): negative when the
    scenario both saves money and finds more work.
    """
    rows = []
    ref = own[reference]
    for n in names[1:]:
        years, mean, low, high = _cumulative(own[n]["cumulative_net_saving_eur"].unstack("replication"))
        plain = own[n]["net_saving_eur"].unstack("replication").cumsum()
        _, plain_mean, plain_low, plain_high = _cumulative(plain)
        extra_exits = float((own[n]["exits_work"] - ref["exits_work"]).groupby(level="replication").sum().mean())
        extra_cost = -float(plain_mean[-1])
        rows.append(
            {
                "scenario": n,
                "reference": reference,
                "from_year": int(years[0]),
                "until_year": int(years[-1]),
                "discount_rate": rate,
                "break_even_year": break_even_year(years, mean),
                "break_even_low": break_even_year(years, high),
                "break_even_high": break_even_year(years, low),
                "cumulative_saving_mean": mean[-1],
                "cumulative_saving_low": low[-1],
                "cumulative_saving_high": high[-1],
                "break_even_year_undiscounted": break_even_year(years, plain_mean),
                "cumulative_saving_undiscounted_mean": plain_mean[-1],
                "cumulative_saving_undiscounted_low": plain_low[-1],
                "cumulative_saving_undiscounted_high": plain_high[-1],
                "extra_exits_work": extra_exits,
                "cost_per_extra_exit_eur": extra_cost / extra_exits if extra_exits > 0 else np.nan,
            }
        )
    frame = pd.DataFrame(rows, columns=BREAK_EVEN_COLUMNS)
    for column in ["break_even_year", "break_even_low", "break_even_high", "break_even_year_undiscounted"]:
        frame[column] = frame[column].astype("Int64")
    return frame


SUMMARY = {
    "caseload_december": ("December caseload (mean over the years)", "clients"),
    "exits_work": ("exits to work", "exits"),
    "granite_stock": ("granite stock, 4+ years (mean)", "clients"),
    "benefit_spending_eur": ("benefits (BUIG)", "EUR"),
    "trajectory_spending_eur": ("trajectories (participation budget)", "EUR"),
    "staff_spending_eur": ("staff", "EUR"),
    "total_spending_eur": ("total spending", "EUR"),
}
"""The terminal summary's rows: metric -> (words, unit)."""


def _amount(value: float, unit: str, signed: bool = True) -> str:
    """A difference as people read it: euros in millions with one decimal, counts with one decimal."""
    if unit == "EUR":
        return millions(value, signed)
    return count(value, 1, signed) + (f" {unit}" if unit and value == value else "")


def _year(value) -> str:
    return "not within the horizon" if pd.isna(value) else str(int(value))


def summary_lines(result: Comparison) -> list[str]:
    """The comparison in words for the terminal: each headline's difference (scenario - reference)
    over the horizon with its 95% interval, then the savings on total spending (reference -
    scenario, so a saving is positive), discounted and undiscounted, the break-even years and the
    cost per extra exit to work. Euros in millions with one decimal (the files keep every digit)."""
    t = result.table
    first, last = result.years
    total = t[(t["year"] == "total") & (t["scenario"] != t["reference"])]
    lines = []
    for scenario, part in total.groupby("scenario", sort=False):
        reference = part["reference"].iloc[0]
        lines.append(f"{difference_of(scenario, reference)}, {first}-{last} (mean, 95% interval):")
        for metric, (words, unit) in SUMMARY.items():
            rows = part[part["metric"] == metric]
            if rows.empty:
                continue
            r = rows.iloc[0]
            bounds = (r.diff_low, r.diff_high)  # the unit once, after the mean
            low, high = (millions(v, True, unit=False) if unit == "EUR" else count(v, 1, True) for v in bounds)
            lines.append(f"  {words}: {_amount(r.diff_mean, unit)} ({low} to {high})")
    for r in result.break_even.itertuples():
        rate = f"discounted at {r.discount_rate:.1%}" if r.discount_rate else "undiscounted"
        lines.append(
            f"{r.scenario} against {r.reference}: net saving on total spending "
            f"({difference_of(r.reference, r.scenario)}; positive: {r.scenario} spends less) "
            f"{millions(r.cumulative_saving_undiscounted_mean)} undiscounted "
            f"({millions(r.cumulative_saving_undiscounted_low, unit=False)} to "
            f"{millions(r.cumulative_saving_undiscounted_high, unit=False)}), "
            f"break-even {_year(r.break_even_year_undiscounted)}"
            + (
                f"; {millions(r.cumulative_saving_mean)} {rate}, break-even {_year(r.break_even_year)}"
                if r.discount_rate
                else ""
            )
        )
        if r.cost_per_extra_exit_eur == r.cost_per_extra_exit_eur:
            lines.append(
                f"{r.scenario} against {r.reference}: {count(r.extra_exits_work)} more exits to work, "
                f"{euros(r.cost_per_extra_exit_eur)} of extra total spending per extra exit"
                + (" (negative: it saves money too)" if r.cost_per_extra_exit_eur < 0 else "")
            )
    return lines


# -- running and writing (the only parts that are not pure) -----------------------------------


def run_paired(
    scenarios: dict[str, Scenario], seed: int, reps: int, executor, on_done=None
) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """Yearly tables of `reps` replications of each scenario, all with the same child seeds.

    All tasks go to one executor at once so the workers stay busy across scenarios. Returns
    ({name: yearly}, failures).
    """
    from sim.replications import ReplicationTask, run_task

    tasks = [(n, ReplicationTask(s, seed, i)) for n, s in scenarios.items() for i in range(reps)]
    frames: dict[str, dict[int, pd.DataFrame]] = {n: {} for n in scenarios}
    failures: list[dict] = []
    for done, (k, result) in enumerate(executor.map_unordered(run_task, [t for _, t in tasks]), start=1):
        name, task = tasks[k]
        if isinstance(result, BaseException):
            failures.append(
                {
                    "scenario": name,
                    "seed": seed,
                    "replication": task.replication,
                    "error": f"{type(result).__name__}: {result}",
                }
            )
        else:
            frames[name][task.replication] = result.yearly
        if on_done:
            on_done(done, len(tasks))
    yearlies = {
        n: pd.concat([f[i] for i in sorted(f)], ignore_index=True) if f else pd.DataFrame() for n, f in frames.items()
    }
    return yearlies, failures


def flatten(value, prefix: str = "") -> dict[str, object]:
    """Dotted paths to leaf values of a nested dump (list items by index)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, object] = {}
    for key, inner in items:
        out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    return out


def differing_parameters(scenarios: dict[str, Scenario]) -> pd.DataFrame:
    """Parameters whose resolved values differ between the scenarios: one row each, a column per scenario."""
    flat = {n: flatten(s.model_dump(mode="json")) for n, s in scenarios.items()}
    paths = sorted(set().union(*flat.values()) - {"name", "description"})
    rows = []
    for path in paths:
        values = [flat[n].get(path) for n in scenarios]
        if any(v != values[0] for v in values[1:]):
            rows.append(
                {
                    "parameter": path,
                    **{n: ("(not set)" if v is None else v) for n, v in zip(scenarios, values, strict=True)},
                }
            )
    return pd.DataFrame(rows, columns=["parameter", *scenarios])


@dataclass(frozen=True)
class ComparisonOutcome:
    """A finished comparison: its folder, the comparison, the yearly tables, failures, time taken."""

    folder: Path
    result: Comparison
    yearlies: dict[str, pd.DataFrame]
    failures: list[dict]
    seconds: float
    attribution: pd.DataFrame | None = None  # attribution.csv, if made
    plans: list = field(default_factory=list)  # sim.analysis.attribution.Plan per scenario


def default_folder(names: list[str], seed: int) -> Path:
    """Where `caseload compare` writes by default: results/compare-A-B-seedN."""
    return Path("results") / f"compare-{'-'.join(names)}-seed{seed}"


@dataclass(frozen=True)
class PairedComparison:
    """A comparison run in memory, not yet written: what `compare_to_folder` writes, as objects.

    `tables` are the folder's tables by file name, `manifest` its manifest (without who wrote it).
    """

    scenarios: dict[str, Scenario]
    result: Comparison
    yearlies: dict[str, pd.DataFrame]
    failures: list[dict]
    seconds: float
    attribution: pd.DataFrame | None
    plans: list
    manifest: dict

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        tables = {
            "comparison.csv": self.result.table,
            "break_even.csv": self.result.break_even,
            "parameters.csv": differing_parameters(self.scenarios),
            **{f"scenarios/{name}/yearly.csv": self.yearlies[name] for name in self.scenarios},
        }
        if self.attribution is not None:
            tables["attribution.csv"] = self.attribution
        return tables


def run_comparison(
    scenarios: dict[str, Scenario],
    years: tuple[int, int],
    seed: int = 42,
    reps: int = 20,
    executor=None,
    discount_rate: float = 0.0,
    scenario_files: dict[str, str | Path] | None = None,
    on_done=None,
    attribution: bool = True,
) -> PairedComparison:
    """Run paired replications of `scenarios` (the first is the reference) and compare them, in
    memory. With `attribution`, also split each scenario's difference over the levers and other
    parts it differs in (sim/analysis/attribution.py), from extra paired runs of every
    combination, run in the same batch.

    Raises ComparisonError if no replication pair is left to compare (every replication of a
    scenario failed).
    """
    from sim.analysis import attribution as split
    from sim.output import manifest
    from sim.replications import SerialExecutor

    names = list(scenarios)
    started = time.perf_counter()
    plans = split.plan(scenarios) if attribution else []
    runs = {**scenarios, **split.extra_runs(plans)}
    yearlies, failures = run_paired(runs, seed, reps, executor or SerialExecutor(), on_done)
    try:
        result = compare({n: yearlies[n] for n in names}, scenarios, years, discount_rate)
    except (ComparisonError, KeyError) as exc:
        why = f"; {len(failures)} replication(s) failed, the first: {failures[0]['error']}" if failures else ""
        raise ComparisonError(f"nothing to compare: {exc}{why}") from None
    # a combination none of whose replications ran leaves its plans' shares unknown: none is made
    missing = [n for n in runs if yearlies[n].empty]
    shares = split.attribute_plans(plans, runs, yearlies, years) if attribution and not missing else None
    seconds = time.perf_counter() - started
    fields = manifest(
        "compare",
        scenarios=names,
        reference=names[0],
        scenario_files={n: str(p) for n, p in (scenario_files or {}).items()},
        seed=seed,
        replications=reps,
        replications_used=len(result.replications),
        replications_failed=failures,
        from_year=years[0],
        until_year=years[1],
        discount_rate=discount_rate,
        run_seconds=round(seconds, 3),
        parameters={n: s.model_dump(mode="json") for n, s in scenarios.items()},
        attribution=_attribution_manifest(plans, attribution, missing),
    )
    return PairedComparison(
        dict(scenarios), result, {n: yearlies[n] for n in names}, failures, seconds, shares, plans, fields
    )


def write_comparison(
    tables: dict[str, pd.DataFrame],
    fields: dict,
    out: str | Path,
    force: bool = False,
    report: bool = False,
    workbook: bool = False,
    observed=None,
) -> Path:
    """Write a comparison's tables and manifest (`PairedComparison.tables`, `.manifest`) into the
    folder `out`, as `caseload compare` does, with `report` / `workbook` report.html and
    comparison.xlsx (`observed`: region -> observed December caseloads, for the report's plot)."""
    from sim.analysis.report import write_outputs
    from sim.output import write_folder

    def pages(folder: Path) -> None:
        if report or workbook:
            write_outputs(folder, "report.html" if report else None, "comparison.xlsx" if workbook else None, observed)

    return write_folder(Path(out), tables, fields, force=force, extra=pages)


def compare_to_folder(
    scenarios: dict[str, Scenario],
    out: str | Path,
    years: tuple[int, int],
    seed: int = 42,
    reps: int = 20,
    executor=None,
    discount_rate: float = 0.0,
    force: bool = False,
    report: bool = False,
    workbook: bool = False,
    observed=None,
    scenario_files: dict[str, str | Path] | None = None,
    on_done=None,
    attribution: bool = True,
) -> ComparisonOutcome:
    """Run paired replications of `scenarios` (the first is the reference) and write what
    `caseload compare` writes into `out`: comparison.csv, break_even.csv, parameters.csv,
    scenarios/NAME/yearly.csv, manifest.json, and with `report` / `workbook` report.html and
    comparison.xlsx (`observed`: region -> observed December caseloads, for the report's plot).
    With `attribution`, also attribution.csv (see `run_comparison`).

    Raises `sim.output.OutputError` before any work if `out` may not be written, and
    ComparisonError if no replication pair is left to compare.
    """
    from sim.output import check_target

    out = Path(out)
    check_target(out, force)
    paired = run_comparison(scenarios, years, seed, reps, executor, discount_rate, scenario_files, on_done, attribution)
    write_comparison(paired.tables, paired.manifest, out, force, report, workbook, observed)
    return ComparisonOutcome(
        out, paired.result, paired.yearlies, paired.failures, paired.seconds, paired.attribution, paired.plans
    )


def _attribution_manifest(plans, asked: bool, missing: list[str]) -> dict:
    """What the manifest says of the attribution: per comparison its factors (and what each
    holds), any grouping or why it was not split, and the combinations run; or why there is none."""
    if not asked:
        return {"done": False, "why": "not asked for (--no-attribution)"}
    if missing:
        return {"done": False, "why": f"every replication of {', '.join(missing)} failed"}
    return {
        "done": True,
        "comparisons": [
            {
                "scenario": p.scenario,
                "reference": p.reference,
                "factors": [
                    {"name": f.name, "levers": list(f.levers), "sections": list(f.sections)} for f in p.factors.factors
                ],
                "note": p.factors.note,
                "combinations": p.combinations,
                "extra_runs_per_replication": len(p.runs),
                "runs": {p.key(c): s.name for c, s in p.runs.items()},
            }
            for p in plans
        ],
    }


def check_comparable(scenarios: dict[str, Scenario]) -> None:
    """Paired replications need one start stock and one horizon: ComparisonError naming the field otherwise."""
    if len(scenarios) < 2:
        raise ComparisonError("give at least two scenarios, e.g. `caseload compare focus broad`")
    starts = {name: s.simulation.start_year for name, s in scenarios.items()}
    if len(set(starts.values())) > 1:
        shown = ", ".join(f"{name} {year}" for name, year in starts.items())
        raise ComparisonError(
            f"simulation.start_year: the scenarios start in different years ({shown}); paired replications "
            "need one start stock, so compare scenarios with the same start year"
        )
    lasts = sorted({s.simulation.until_year for s in scenarios.values()})
    if len(lasts) > 1:
        raise ComparisonError(
            f"simulation.until_year: the scenarios end in different years ({', '.join(map(str, lasts))}); "
            f"give --until {lasts[0]} (or any year up to it) to line them up"
        )
