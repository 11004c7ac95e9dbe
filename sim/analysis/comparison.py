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
    break_even_draws: pd.DataFrame | None = None  # break_even_draws.csv, with parameter draws


def paired_metrics(
    yearlies: dict[str, pd.DataFrame],
    scenarios: dict[str, Scenario],
    years: tuple[int, int],
    discount_rate: float = 0.0,
) -> tuple[dict[str, pd.DataFrame], pd.MultiIndex]:
    """Every scenario's metrics on the (year, replication) rows all have, with the net saving
    against the first and its discounted cumulative sum; and those rows."""
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
    return own, index


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
    reference = names[0] if names else ""
    own, index = paired_metrics(yearlies, scenarios, years, discount_rate)
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


def _bounds(low: float, high: float, unit: str, signed: bool = True) -> str:
    """An interval's bounds, the unit once after the mean and signed as the mean is: '-44.3 to -37.3'
    after a signed difference, '24.0 to 37.3' after a saving."""
    shown = (millions(v, signed, unit=False) if unit == "EUR" else count(v, 1, signed) for v in (low, high))
    return " to ".join(shown)


def _broken_even(shares: pd.DataFrame | None, scenario: str, column: str) -> str:
    """When the parameter draws break even: the first years by which half and 95% of them have."""
    if shares is None:
        return ""
    part = shares[shares["scenario"] == scenario]
    said = []
    for share in (0.5, 0.95):
        years = part.loc[part[column] >= share, "year"]
        said.append(f"{share:.0%} by {int(years.iloc[0])}" if len(years) else f"{share:.0%} not within the horizon")
    return "; parameter draws broken even: " + ", ".join(said)


def summary_lines(result: Comparison) -> list[str]:
    """The comparison in words for the terminal: each headline's difference (scenario - reference)
    over the horizon with its 95% interval, then the savings on total spending (reference -
    scenario, so a saving is positive), discounted and undiscounted, the break-even years and the
    cost per extra exit to work. Euros in millions with one decimal (the files keep every digit).
    With parameter draws every interval comes twice, simulation noise and total (parameters and
    simulation), and the break-even says by when half and 95% of the draws have broken even."""
    t = result.table
    first, last = result.years
    total = t[(t["year"] == "total") & (t["scenario"] != t["reference"])]
    drawn = "total_low" in t
    shares = result.break_even_draws if drawn else None
    lines = []
    for scenario, part in total.groupby("scenario", sort=False):
        reference = part["reference"].iloc[0]
        kind = "95% intervals: simulation noise; total, parameters and simulation" if drawn else "95% interval"
        lines.append(f"{difference_of(scenario, reference)}, {first}-{last} (mean, {kind}):")
        for metric, (words, unit) in SUMMARY.items():
            rows = part[part["metric"] == metric]
            if rows.empty:
                continue
            r = rows.iloc[0]
            shown = _bounds(r.diff_low, r.diff_high, unit)
            if drawn:
                shown = f"noise {shown}; total {_bounds(r.total_low, r.total_high, unit)}"
            lines.append(f"  {words}: {_amount(r.diff_mean, unit)} ({shown})")
    for r in result.break_even.itertuples():
        rate = f"discounted at {r.discount_rate:.1%}" if r.discount_rate else "undiscounted"
        # a saving is shown unsigned (EUR 30.6 M), and so are its intervals, noise and total alike
        plain = _bounds(r.cumulative_saving_undiscounted_low, r.cumulative_saving_undiscounted_high, "EUR", False)
        discounted_total = ""
        if drawn:
            both = (r.cumulative_saving_undiscounted_total_low, r.cumulative_saving_undiscounted_total_high)
            plain = f"noise {plain}; total {_bounds(*both, 'EUR', False)}"
            discounted = (r.cumulative_saving_total_low, r.cumulative_saving_total_high)
            discounted_total = f" (total {_bounds(*discounted, 'EUR', False)})"
        lines.append(
            f"{r.scenario} against {r.reference}: net saving on total spending "
            f"({difference_of(r.reference, r.scenario)}; positive: {r.scenario} spends less) "
            f"{millions(r.cumulative_saving_undiscounted_mean)} undiscounted "
            f"({plain}), "
            f"break-even {_year(r.break_even_year_undiscounted)}"
            + _broken_even(shares, r.scenario, "broken_even_share_undiscounted")
            + (
                f"; {millions(r.cumulative_saving_mean)} {rate}{discounted_total}, break-even {_year(r.break_even_year)}"
                + _broken_even(shares, r.scenario, "broken_even_share")
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
    yearlies, _, failures = run_paired_draws(scenarios, {}, seed, reps, executor, on_done)
    return yearlies, failures


def run_paired_draws(
    scenarios: dict[str, Scenario],
    drawn: dict[str, list[Scenario]],
    seed: int,
    reps: int,
    executor,
    on_done=None,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], list[dict]]:
    """`run_paired`, and `reps` replications of each scenario at each of its parameter draws
    (`drawn[name][d]`), replication r of draw d on its own seed, the same in every scenario, so
    the draws pair like the replications. Returns ({name: yearly}, {name: drawn yearly}, failures);
    a drawn table's `replication` is the pair's number (`sim.analysis.draws.pair_id`), its `draw`
    the draw's. All tasks go to the executor at once."""
    from sim.analysis.draws import pair_id
    from sim.replications import ReplicationTask, run_task

    tasks = [(n, None, ReplicationTask(s, seed, i)) for n, s in scenarios.items() for i in range(reps)]
    tasks += [
        (n, d, ReplicationTask(s, seed, i, draw=d))
        for n, ss in drawn.items()
        for d, s in enumerate(ss)
        for i in range(reps)
    ]
    frames: dict[str, dict[int, pd.DataFrame]] = {n: {} for n in scenarios}
    drawn_frames: dict[str, dict[int, pd.DataFrame]] = {n: {} for n in drawn}
    failures: list[dict] = []
    for done, (k, result) in enumerate(executor.map_unordered(run_task, [t for _, _, t in tasks]), start=1):
        name, draw, task = tasks[k]
        if isinstance(result, BaseException):
            failures.append(
                {
                    "scenario": name,
                    "seed": seed,
                    "replication": task.replication,
                    **({} if draw is None else {"draw": draw}),
                    "error": f"{type(result).__name__}: {result}",
                }
            )
        elif draw is None:
            frames[name][task.replication] = result.yearly
        else:
            pair = pair_id(draw, task.replication, reps)
            drawn_frames[name][pair] = result.yearly.assign(replication=pair, draw=draw)
        if on_done:
            on_done(done, len(tasks))

    def tables(found: dict[str, dict[int, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
        return {
            n: pd.concat([f[i] for i in sorted(f)], ignore_index=True) if f else pd.DataFrame()
            for n, f in found.items()
        }

    return tables(frames), tables(drawn_frames), failures


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
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)  # with parameter draws: bands.csv, ...

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
        return {**tables, **self.extra}


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
    draws=None,
    parameter_draws: int = 0,
) -> PairedComparison:
    """Run paired replications of `scenarios` (the first is the reference) and compare them, in
    memory. With `attribution`, also split each scenario's difference over the levers and other
    parts it differs in (sim/analysis/attribution.py), from extra paired runs of every
    combination, run in the same batch.

    With `draws` (`sim.analysis.draws.read_draws`) and `parameter_draws` N > 0, every run is also
    made at draws 0..N-1 of the fitted parameters, `reps` replications each, paired by draw and
    replication: comparison.csv, break_even.csv and attribution.csv get total intervals
    (parameters and simulation) beside the noise ones, and bands.csv (fan charts),
    break_even_draws.csv and variance.csv (what drives the spread) come too. N = 0 gives exactly
    what a comparison without draws gives.

    Raises `sim.analysis.draws.DrawsError` before any run if the draws do not fit the scenarios,
    ComparisonError if no replication pair is left to compare (every replication of a scenario
    failed).
    """
    from sim.analysis import attribution as split
    from sim.analysis import draws as uncertainty
    from sim.output import manifest
    from sim.replications import SerialExecutor

    names = list(scenarios)
    started = time.perf_counter()
    plans = split.plan(scenarios) if attribution else []
    runs = {**scenarios, **split.extra_runs(plans)}
    n_draws = parameter_draws if draws is not None else 0
    drawn: dict[str, list[Scenario]] = {}
    held: dict[str, list[str]] = {}
    for name, scenario in runs.items() if n_draws else ():
        drawn[name], kept = uncertainty.drawn_scenarios(scenario, draws, n_draws)
        if kept and name in scenarios:
            held[name] = kept
    yearlies, drawn_yearlies, failures = run_paired_draws(
        runs, drawn, seed, reps, executor or SerialExecutor(), on_done
    )
    try:
        result = compare({n: yearlies[n] for n in names}, scenarios, years, discount_rate)
    except (ComparisonError, KeyError) as exc:
        why = f"; {len(failures)} replication(s) failed, the first: {failures[0]['error']}" if failures else ""
        raise ComparisonError(f"nothing to compare: {exc}{why}") from None
    # a combination none of whose replications ran leaves its plans' shares unknown: none is made
    missing = [n for n in runs if yearlies[n].empty or (n_draws and drawn_yearlies[n].empty)]
    shares = split.attribute_plans(plans, runs, yearlies, years) if attribution and not missing else None
    extra: dict[str, pd.DataFrame] = {}
    if n_draws:
        try:
            spread = uncertainty.compare_draws(
                {n: drawn_yearlies[n] for n in names},
                scenarios,
                years,
                discount_rate,
                reps,
                draws.values.iloc[:n_draws],
                draws.weak,
            )
        except (ComparisonError, KeyError) as exc:
            raise ComparisonError(f"nothing to compare at the parameter draws: {exc}") from None
        result = _with_draws(result, spread)
        extra = {
            "bands.csv": spread.bands,
            "break_even_draws.csv": spread.break_even,
            "variance.csv": spread.variance,
        }
        if shares is not None:
            totals = split.total_shares(plans, runs, drawn_yearlies, years)
            keys = ["year", "metric", "scenario", "reference", "lever"]
            shares = uncertainty.with_totals(shares, totals, keys, ("share_low", "share_high"))
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
        parameter_draws=(
            {**draws.manifest(n_draws, held), "replications_per_draw": reps}
            if n_draws
            else {"used": 0, "why": "not asked for (--parameter-draws 0)" if draws is not None else "no draws given"}
        ),
    )
    return PairedComparison(
        dict(scenarios), result, {n: yearlies[n] for n in names}, failures, seconds, shares, plans, fields, extra
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
    draws=None,
    parameter_draws: int = 0,
) -> ComparisonOutcome:
    """Run paired replications of `scenarios` (the first is the reference) and write what
    `caseload compare` writes into `out`: comparison.csv, break_even.csv, parameters.csv,
    scenarios/NAME/yearly.csv, manifest.json, and with `report` / `workbook` report.html and
    comparison.xlsx (`observed`: region -> observed December caseloads, for the report's plot).
    With `attribution`, also attribution.csv; with `draws` and `parameter_draws` N > 0 total
    intervals and bands.csv, break_even_draws.csv, variance.csv (see `run_comparison`).

    Raises `sim.output.OutputError` before any work if `out` may not be written,
    `sim.analysis.draws.DrawsError` if the draws do not fit the scenarios, and ComparisonError if
    no replication pair is left to compare.
    """
    from sim.output import check_target

    out = Path(out)
    check_target(out, force)
    paired = run_comparison(
        scenarios,
        years,
        seed,
        reps,
        executor,
        discount_rate,
        scenario_files,
        on_done,
        attribution,
        draws,
        parameter_draws,
    )
    write_comparison(paired.tables, paired.manifest, out, force, report, workbook, observed)
    return ComparisonOutcome(
        out, paired.result, paired.yearlies, paired.failures, paired.seconds, paired.attribution, paired.plans
    )


def _with_draws(result: Comparison, spread) -> Comparison:
    """The comparison with the draws' total intervals beside the noise ones (comparison.csv,
    break_even.csv), each never narrower than the noise interval it includes."""
    from dataclasses import replace

    from sim.analysis.draws import SAVING_TOTAL_COLUMNS, SAVING_UNDISCOUNTED_TOTAL_COLUMNS, with_totals

    table = result.table.merge(spread.totals, on=["year", "metric", "scenario"], how="left", validate="one_to_one")
    # the noise interval's variance pooled over the draws' replications too: the noise hardly differs
    # between nearby parameter values, and 2 replications alone give a t interval on 1 degree of freedom
    n = float(len(result.replications))
    with np.errstate(invalid="ignore"):
        t = stats.t.ppf(0.5 + LEVEL / 2, table["noise_df"].to_numpy(dtype=float))
    pooled = table["noise_df"].to_numpy(dtype=float) > 0
    half = t * table["noise_sd"].to_numpy(dtype=float) / np.sqrt(n)
    for column, sign in (("diff_low", -1.0), ("diff_high", 1.0)):
        table[column] = np.where(pooled, table["diff_mean"].to_numpy(dtype=float) + sign * half, table[column])
    table = with_totals(
        table.drop(columns=["total_low", "total_high", "noise_sd", "noise_df"]),
        spread.totals.drop(columns=["noise_sd", "noise_df"]),
        ["year", "metric", "scenario"],
        ("diff_low", "diff_high"),
    )
    even = result.break_even.merge(spread.savings, on="scenario", how="left", validate="one_to_one")
    # the savings' noise intervals pooled likewise: comparison.csv's rows of the same sums
    last = str(result.years[1])
    for i, r in even.iterrows():
        rows = table[table["scenario"] == r["scenario"]]
        path = rows[(rows["metric"] == "cumulative_net_saving_eur") & (rows["year"] != "total")]
        years = path["year"].astype(int).to_numpy()
        end = path[path["year"] == last].iloc[0]
        plain = rows[(rows["metric"] == "net_saving_eur") & (rows["year"] == "total")].iloc[0]
        even.loc[i, ["cumulative_saving_low", "cumulative_saving_high"]] = [end["diff_low"], end["diff_high"]]
        even.loc[i, ["cumulative_saving_undiscounted_low", "cumulative_saving_undiscounted_high"]] = [
            plain["diff_low"],
            plain["diff_high"],
        ]
        even.loc[i, "break_even_low"] = break_even_year(years, path["diff_high"].to_numpy())
        even.loc[i, "break_even_high"] = break_even_year(years, path["diff_low"].to_numpy())
    for columns, noise in (
        (SAVING_TOTAL_COLUMNS, ("cumulative_saving_low", "cumulative_saving_high")),
        (
            SAVING_UNDISCOUNTED_TOTAL_COLUMNS,
            ("cumulative_saving_undiscounted_low", "cumulative_saving_undiscounted_high"),
        ),
    ):
        even[columns[0]] = np.fmin(even[columns[0]].to_numpy(dtype=float), even[noise[0]].to_numpy(dtype=float))
        even[columns[1]] = np.fmax(even[columns[1]].to_numpy(dtype=float), even[noise[1]].to_numpy(dtype=float))
    return replace(result, table=table, break_even=even, break_even_draws=spread.break_even)


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
