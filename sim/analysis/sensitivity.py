"""One-at-a-time sensitivity of a comparison's headline to uncertain parameters (tornado).

The headline of comparing B with A: the cumulative net saving over the horizon, and the
December caseload difference in 2025 and 2030. Each parameter (a dotted scenario path such as
`work.elasticity_work`) is set low and high in BOTH scenarios (it is an uncertainty about the
world, not a policy lever), one at a time, with everything else at its value; every setting
uses the same seed and replications (common random numbers), so the swings come from the
parameter. The range is the value times 1 ± spread (assumption: ±25% by default), or with
`--calibration-bounds` the bounds of the parameters the calibration fits (calibration/REGION.toml).
A whole-number field (a count) runs at its values rounded half away from zero, and every table
(ranges, settings, sample points) reports the values that ran.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.comparison import paired_interval, run_paired, scenario_metrics
from sim.analysis.plots import png_bytes, subplots
from sim.analysis.summary import count, difference_of, millions, significant, text_table
from sim.config import NotANumber, PathError, locate, number_at
from sim.parameters import Scenario
from sim.scenario import ScenarioError, validate

HEADLINE_YEARS = (2025, 2030)
COLUMNS = ["parameter", "setting", "value_a", "value_b", "metric", "diff_mean", "diff_low", "diff_high"]
RANGE_COLUMNS = ["parameter", "value_a", "value_b", "low_a", "high_a", "low_b", "high_b", "source"]
FIRST_YEAR = 2019
"""First year of the headline's saving (the policies differ from 2019)."""
HORIZON = ("simulation.start_year", "simulation.until_year")
MAX_POINTS = 2**16
"""Most Latin-hypercube points or Sobol' base points: past this the design alone would not fit in memory
long before the runs would end."""


class SensitivityError(ValueError):
    """A parameter path or range that cannot be used; the message says what is allowed."""


def _locate(data, path: str):
    """(container, key) of a dotted path in a dumped scenario; SensitivityError naming what is allowed."""
    try:
        return locate(data, path)
    except PathError as exc:
        raise SensitivityError(f"--params: {path}: {exc}") from None


def _number_at(scenario: Scenario, path: str) -> int | float:
    try:
        return number_at(scenario.model_dump(mode="python"), path)
    except NotANumber as exc:
        raise SensitivityError(f"--params: {path}: {exc}; only numbers can be varied") from None
    except PathError as exc:
        raise SensitivityError(f"--params: {path}: {exc}") from None


def parameter_value(scenario: Scenario, path: str) -> float:
    """The numeric value of a dotted path in a scenario."""
    return float(_number_at(scenario, path))


def is_whole(scenario: Scenario, path: str) -> bool:
    """Whether a dotted path is a whole-number field (a count), which runs at rounded values."""
    return isinstance(_number_at(scenario, path), int)


def whole(value: float) -> int:
    """A value as a whole-number field takes it: rounded half away from zero (2.5 -> 3, -2.5 -> -3),
    as people round, where int() would cut 3.75 down to 3."""
    magnitude = abs(value)
    n = math.floor(magnitude)
    n += magnitude - n >= 0.5  # exact, where floor(magnitude + 0.5) takes 0.49999999999999994 up to 1
    return n if value >= 0 else -n


def run_value(value: float, whole_field: bool) -> int | float:
    """The value a field runs at: rounded for a whole-number field, else as given."""
    return whole(value) if whole_field else float(value)


SPREAD_ADVICE = "give a smaller --spread, or leave the parameter out"
CALIBRATION_ADVICE = "the calibration's bounds go beyond what the scenario allows; vary it without --calibration-bounds"


def with_parameter(scenario: Scenario, path: str, value: float, advice: str = SPREAD_ADVICE) -> Scenario:
    """A copy of a scenario with one dotted path set, validated again (bounds included)."""
    return with_parameters(scenario, {path: value}, advice)


def with_parameters(scenario: Scenario, values: dict[str, float], advice: str = SPREAD_ADVICE) -> Scenario:
    """A copy of a scenario with dotted paths set, validated again once (bounds included); a
    whole-number field takes its value rounded (`run_value`)."""
    data = copy.deepcopy(scenario.model_dump(mode="python"))
    ran = {}
    for path, value in values.items():
        container, key = _locate(data, path)
        whole_field = isinstance(container[key], int) and not isinstance(container[key], bool)
        container[key] = ran[path] = run_value(value, whole_field)
    setting = ", ".join(f"{path}={value:g}" for path, value in ran.items())
    try:
        return validate(data, Path(f"<{scenario.name} with {setting}>"))
    except ScenarioError as exc:
        raise SensitivityError(
            f"--params: {setting}: not allowed in {scenario.name} ({exc.field + ': ' if exc.field else ''}{exc.message}); "
            f"{advice}"
        ) from None


def parameter_ranges(
    a: Scenario, b: Scenario, paths: list[str], spread: float, bounds: dict[str, tuple[float, float]] | None = None
) -> pd.DataFrame:
    """Low and high value of each parameter in A and B, checked against the schema.

    Default: the scenario's value times 1 - spread and 1 + spread. A parameter in `bounds`
    ({path: (lower, upper)}, e.g. `calibration.config.fitted_bounds(region)`) takes those.
    """
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise SensitivityError(f"--params: {', '.join(twice)}: named twice; name each parameter once")
    bounds = bounds or {}
    rows = []
    for path in paths:
        if path in HORIZON:
            raise SensitivityError(
                f"--params: {path}: the simulated years are not varied (the headline compares "
                "fixed years); set the last year with --until"
            )
        whole_field = is_whole(a, path)
        value_a, value_b = _number_at(a, path), _number_at(b, path)
        if path in bounds:
            (low_a, high_a), (low_b, high_b), source = bounds[path], bounds[path], "calibration bounds"
        else:
            low_a, high_a = value_a * (1 - spread), value_a * (1 + spread)
            low_b, high_b = value_b * (1 - spread), value_b * (1 + spread)
            source = f"value x (1 +- {spread:g})"
        # the values that run, low below high (a negative value turns the factors round)
        low_a, high_a = sorted(run_value(v, whole_field) for v in (low_a, high_a))
        low_b, high_b = sorted(run_value(v, whole_field) for v in (low_b, high_b))
        if whole_field:
            source += ", rounded to whole numbers"
        if low_a == high_a and low_b == high_b:
            why = (
                "a value of 0 cannot be varied by a share of itself"
                if value_a == value_b == 0
                else "rounded to whole numbers the range is empty; give a larger --spread"
                if whole_field
                else "the range is empty"
            )
            raise SensitivityError(
                f"--params: {path}: low and high are the same ({low_a:g} in {a.name}, {low_b:g} in {b.name}); "
                f"{why}, or leave the parameter out"
            )
        advice = CALIBRATION_ADVICE if path in bounds else SPREAD_ADVICE
        for scenario, value in ((a, low_a), (a, high_a), (b, low_b), (b, high_b)):
            with_parameter(scenario, path, value, advice)
        rows.append(
            {
                "parameter": path,
                "value_a": value_a,
                "value_b": value_b,
                "low_a": low_a,
                "high_a": high_a,
                "low_b": low_b,
                "high_b": high_b,
                "source": source,
            }
        )
    # object columns: a count's values stay whole numbers in the manifest and the tables
    return pd.DataFrame(rows, columns=RANGE_COLUMNS, dtype=object)


def headline_pairs(
    a_yearly: pd.DataFrame, b_yearly: pd.DataFrame, a: Scenario, b: Scenario, first_year: int
) -> dict[str, np.ndarray]:
    """{metric: B against A per replication both have}: the saving over the horizon and the
    caseload difference in 2025 and 2030 (the values `headline` summarises)."""
    years = (first_year, a.simulation.until_year)
    metrics_a, metrics_b = scenario_metrics(a_yearly, a, years), scenario_metrics(b_yearly, b, years)
    common = metrics_a.index.intersection(metrics_b.index)
    if common.empty:
        raise SensitivityError(f"no common (year, replication) rows in {years[0]}-{years[1]}")
    metrics_a, metrics_b = metrics_a.loc[common], metrics_b.loc[common]
    net_saving = metrics_a["total_spending_eur"] - metrics_b["total_spending_eur"]
    out = {"cumulative_net_saving_eur": net_saving.groupby(level="replication").sum().to_numpy()}
    caseload_diff = (metrics_b["caseload_december"] - metrics_a["caseload_december"]).unstack("replication")
    for year in HEADLINE_YEARS:
        if year in caseload_diff.index:
            out[f"caseload_diff_{year}"] = caseload_diff.loc[year].to_numpy()
    return out


def headline(a_yearly: pd.DataFrame, b_yearly: pd.DataFrame, a: Scenario, b: Scenario, first_year: int) -> dict:
    """{metric: (mean, low, high)} of B against A: saving over the horizon, caseload difference in 2025 and 2030.

    The numbers `compare` gives for these (undiscounted net saving summed over the horizon, paired
    intervals over the replications both have), from the two scenarios' metrics alone: the full
    comparison table took ten times as long, and a Sobol' run asks for hundreds of headlines.
    """
    return {m: paired_interval(v) for m, v in headline_pairs(a_yearly, b_yearly, a, b, first_year).items()}


def run_sensitivity(
    a: Scenario,
    b: Scenario,
    ranges: pd.DataFrame,
    seed: int,
    reps: int,
    executor,
    on_done=None,
    first_year: int = FIRST_YEAR,
    draws=None,
    parameter_draws: int = 0,
) -> pd.DataFrame:
    """Run the base and each parameter low and high (A and B each), paired; the long table of headlines.

    With `draws` and `parameter_draws` N > 0 every setting also runs at draws 0..N-1 of the other
    fitted parameters (the one varied held at its setting), `reps` replications each: the table
    gains total_low/total_high, the 2.5th and 97.5th percentiles of the paired headline over
    draws x replications, never narrower than the noise interval."""
    from sim.analysis.comparison import run_paired_draws
    from sim.analysis.draws import drawn_scenarios, total_interval

    settings: list[tuple[str, str, float, float]] = [("(base)", "base", np.nan, np.nan)]
    for row in ranges.itertuples():
        settings += [(row.parameter, "low", row.low_a, row.low_b), (row.parameter, "high", row.high_a, row.high_b)]
    variants: dict[str, Scenario] = {}
    for k, (path, setting, value_a, value_b) in enumerate(settings):
        base = setting == "base"
        variants[f"{k}:a"] = a if base else with_parameter(a, path, value_a)
        variants[f"{k}:b"] = b if base else with_parameter(b, path, value_b)
    n_draws = parameter_draws if draws is not None else 0
    drawn = {}
    for k, (path, _, _, _) in enumerate(settings) if n_draws else ():
        for side in ("a", "b"):
            drawn[f"{k}:{side}"] = drawn_scenarios(variants[f"{k}:{side}"], draws, n_draws, held=[path])[0]
    yearlies, drawn_yearlies, failures = run_paired_draws(variants, drawn, seed, reps, executor, on_done)
    if failures:
        raise SensitivityError(f"{len(failures)} replication(s) failed, e.g. {failures[0]['error']}")
    rows = []
    for k, (path, setting, value_a, value_b) in enumerate(settings):
        va, vb = variants[f"{k}:a"], variants[f"{k}:b"]
        pairs = (
            headline_pairs(drawn_yearlies[f"{k}:a"], drawn_yearlies[f"{k}:b"], va, vb, first_year) if n_draws else {}
        )
        for metric, (mean, low, high) in headline(yearlies[f"{k}:a"], yearlies[f"{k}:b"], va, vb, first_year).items():
            row = {
                "parameter": path,
                "setting": setting,
                "value_a": value_a,
                "value_b": value_b,
                "metric": metric,
                "diff_mean": mean,
                "diff_low": low,
                "diff_high": high,
            }
            if n_draws:
                total_low, total_high = total_interval(pairs[metric])
                row["total_low"] = np.fmin(total_low, low)
                row["total_high"] = np.fmax(total_high, high)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS + (["total_low", "total_high"] if n_draws else []))


def tornado_png(table: pd.DataFrame, title: str) -> bytes:
    """The tornado plot (`tornado_figure`) as PNG."""
    return png_bytes(tornado_figure(table, title))


def tornado_figure(table: pd.DataFrame, title: str):
    """Tornado plot (one panel per headline metric): bars from the base result to the low and high settings.

    Parameters are ordered by their swing in the first metric (the saving), largest on top.
    """
    metrics = list(dict.fromkeys(table["metric"]))
    varied = table[table["setting"] != "base"]
    first = varied[varied["metric"] == metrics[0]].pivot(index="parameter", columns="setting", values="diff_mean")
    order = (first["high"] - first["low"]).abs().sort_values().index
    fig, axes = subplots((4.2 * len(metrics) + 2, 0.6 * len(order) + 2.2), 1, len(metrics), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(order))
    for ax, metric in zip(axes, metrics, strict=True):
        unit, scale = ("EUR million", 1e6) if metric.endswith("_eur") else ("clients", 1.0)
        part = table[table["metric"] == metric]
        base = float(part[part["setting"] == "base"]["diff_mean"].iloc[0]) / scale
        wide = varied[varied["metric"] == metric].pivot(index="parameter", columns="setting", values="diff_mean")
        wide = wide.reindex(order) / scale
        ax.barh(y, wide["low"] - base, left=base, color="#4c78a8", label="low value")
        ax.barh(y, wide["high"] - base, left=base, color="#f58518", alpha=0.8, label="high value")
        ax.axvline(base, color="black", lw=1)
        ax.set_title(f"{metric}\n({unit}; line: base)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, order, fontsize=8)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, y=1.08)
    return fig


GLOBAL_COLUMNS = [
    "metric",
    "parameter",
    "src",
    "variance_share",
    "r_squared",
    "samples",
    "headline_mean",
    "headline_sd",
]


def headlines_at(
    a: Scenario,
    b: Scenario,
    ranges: pd.DataFrame,
    u: np.ndarray,
    seed: int,
    reps: int,
    executor,
    on_done=None,
    first_year: int = FIRST_YEAR,
) -> pd.DataFrame:
    """The headline of B against A at each point of `u` (one row per point, one column per
    parameter in [0, 1]: low + u (high - low), the same u for A and B); every point uses the
    same seed and replications (common random numbers). One row per point: its u's, the values
    that ran in A and B (`value_a:PATH`, `value_b:PATH`: a count rounded) and the metrics."""
    variants: dict[str, Scenario] = {}
    ran: list[dict] = []
    kinds = {r.parameter: is_whole(a, r.parameter) for r in ranges.itertuples()}
    for i, point in enumerate(u):
        rows = list(zip(ranges.itertuples(), point, strict=True))
        values_a = {r.parameter: run_value(r.low_a + x * (r.high_a - r.low_a), kinds[r.parameter]) for r, x in rows}
        values_b = {r.parameter: run_value(r.low_b + x * (r.high_b - r.low_b), kinds[r.parameter]) for r, x in rows}
        variants[f"{i}:a"], variants[f"{i}:b"] = with_parameters(a, values_a), with_parameters(b, values_b)
        ran.append(
            {**{f"value_a:{p}": v for p, v in values_a.items()}, **{f"value_b:{p}": v for p, v in values_b.items()}}
        )
    yearlies, failures = run_paired(variants, seed, reps, executor, on_done)
    if failures:
        raise SensitivityError(f"{len(failures)} replication(s) failed, e.g. {failures[0]['error']}")
    points = []
    for i in range(len(u)):
        found = headline(yearlies[f"{i}:a"], yearlies[f"{i}:b"], variants[f"{i}:a"], variants[f"{i}:b"], first_year)
        points.append(
            {
                "sample": i,
                **{p: u[i, j] for j, p in enumerate(ranges["parameter"])},
                **ran[i],
                **{m: v[0] for m, v in found.items()},
            }
        )
    return pd.DataFrame(points)


def run_global(
    a: Scenario,
    b: Scenario,
    ranges: pd.DataFrame,
    samples: int,
    seed: int,
    reps: int,
    executor,
    on_done=None,
    first_year: int = FIRST_YEAR,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All parameters at once over a Latin hypercube of their ranges; standardised regression coefficients.

    Each of `samples` points sets every parameter to low + u (high - low) in both scenarios (the
    same u for A and B); the headline is the mean paired difference over `reps` replications.
    A linear fit of each headline on the u's gives SRC_j = beta_j sd(u_j) / sd(headline); when
    the fit is good (R^2 near 1) SRC_j^2 is parameter j's share of the headline's variance
    (Saltelli et al., Global Sensitivity Analysis, 2008, ch. 1). Returns (indices, samples).
    """
    from scipy.stats import qmc

    check_samples(samples, len(ranges))
    u = qmc.LatinHypercube(d=len(ranges), seed=np.random.default_rng(seed)).random(samples)
    table = headlines_at(a, b, ranges, u, seed, reps, executor, on_done, first_year)
    metrics = _metrics(table, ranges)
    x = u - u.mean(axis=0)
    design = np.column_stack([np.ones(samples), x])
    rows = []
    for metric in metrics:
        y = table[metric].to_numpy(float)
        beta, *_ = np.linalg.lstsq(design, y, rcond=None)
        residual = y - design @ beta
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else np.nan
        sd_y = float(y.std(ddof=1))
        for j, parameter in enumerate(ranges["parameter"]):
            src = beta[j + 1] * float(u[:, j].std(ddof=1)) / sd_y if sd_y > 0 else np.nan
            rows.append(
                {
                    "metric": metric,
                    "parameter": parameter,
                    "src": src,
                    "variance_share": src**2,
                    "r_squared": r2,
                    "samples": samples,
                    "headline_mean": float(y.mean()),
                    "headline_sd": sd_y,
                }
            )
    return pd.DataFrame(rows, columns=GLOBAL_COLUMNS), table


SOBOL_COLUMNS = [
    "metric",
    "parameter",
    "first_order",
    "first_low",
    "first_high",
    "total_order",
    "total_low",
    "total_high",
    "n",
    "points",
    "headline_sd",
]


def run_sobol(
    a: Scenario,
    b: Scenario,
    ranges: pd.DataFrame,
    n: int,
    seed: int,
    reps: int,
    executor,
    on_done=None,
    first_year: int = FIRST_YEAR,
    confidence: float = 0.9,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sobol' first- and total-order indices of each headline metric with every parameter uniform
    over its range (scipy.stats.sobol_indices, Saltelli 2010 estimators), and percentile bootstrap
    intervals over the base points.

    Points: matrices A and B (n points each, from one scrambled Sobol' sequence in 2d dimensions,
    as scipy draws them) and, for each parameter j, A with column j from B; n (d + 2) points run
    as one batch, each the mean paired difference over `reps` replications with one seed, so the
    indices describe the parameters, not the dice. Points and intervals are seeded by `seed`.
    Returns (indices, points).
    """
    from scipy.stats import DegenerateDataWarning, bootstrap, qmc, sobol_indices

    check_sobol_points(n)
    d = len(ranges)
    rng = np.random.default_rng(seed)
    base = qmc.Sobol(2 * d, rng=rng, bits=64).random(n)
    matrix_a, matrix_b = base[:, :d], base[:, d:]
    mixed = [np.where(np.arange(d) == j, matrix_b, matrix_a) for j in range(d)]
    points = headlines_at(
        a, b, ranges, np.vstack([matrix_a, matrix_b, *mixed]), seed, reps, executor, on_done, first_year
    )
    metrics = _metrics(points, ranges)
    f = points[metrics].to_numpy(float).T.reshape(len(metrics), d + 2, n)  # metric x matrix x point
    f_a, f_b, f_ab = f[:, 0], f[:, 1], np.moveaxis(f[:, 2:], 1, 0)

    def indices(rows: np.ndarray) -> np.ndarray:
        """First and total order (2 x metrics x parameters) from the points `rows` of each matrix."""
        found = sobol_indices(func={"f_A": f_a[:, rows], "f_B": f_b[:, rows], "f_AB": f_ab[..., rows]}, n=n)
        return np.stack([np.atleast_2d(found.first_order), np.atleast_2d(found.total_order)])

    # a metric no parameter moves has zero variance: its indices and intervals are NaN, said once
    # in the table rather than as numpy and scipy warnings
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        estimate = indices(np.arange(n))
        # percentile intervals: BCa's jackknife would leave out one point, and the estimators
        # need the points in powers of 2
        interval = bootstrap(
            [np.arange(n)],
            indices,
            vectorized=False,
            n_resamples=999,
            confidence_level=confidence,
            method="percentile",
            rng=rng,
        ).confidence_interval
    rows = []
    for m, metric in enumerate(metrics):
        for j, parameter in enumerate(ranges["parameter"]):
            rows.append(
                {
                    "metric": metric,
                    "parameter": parameter,
                    "first_order": estimate[0, m, j],
                    "first_low": interval.low[0, m, j],
                    "first_high": interval.high[0, m, j],
                    "total_order": estimate[1, m, j],
                    "total_low": interval.low[1, m, j],
                    "total_high": interval.high[1, m, j],
                    "n": n,
                    "points": len(points),
                    "headline_sd": float(points[metric].std(ddof=1)),
                }
            )
    return pd.DataFrame(rows, columns=SOBOL_COLUMNS), points


def check_sobol_points(n: int) -> None:
    """Sobol' designs need a power of 2 base points, 2 at least."""
    if n < 2 or n & (n - 1) or n > MAX_POINTS:
        raise SensitivityError(
            f"--sobol: give a power of 2 from 2 up to {MAX_POINTS}, e.g. 64, or 0 for none (got {n})"
        )


def check_samples(samples: int, parameters: int) -> None:
    """The regression over Latin-hypercube points needs parameters + 2 points at least."""
    if not parameters + 2 <= samples <= MAX_POINTS:
        raise SensitivityError(
            f"--samples: give {parameters + 2} (parameters + 2, for the regression) up to {MAX_POINTS}, or 0 for none (got {samples})"
        )


def check_horizon(a: Scenario, option: str = "--until") -> None:
    """The headline sums the saving from FIRST_YEAR: the scenarios must start before it and reach it."""
    start, last = a.simulation.start_year, a.simulation.until_year
    if start >= FIRST_YEAR:
        raise SensitivityError(
            f"simulation.start_year: the headline is summed from {FIRST_YEAR}; give scenarios "
            f"that start before it (these start in {start})"
        )
    if last < FIRST_YEAR:
        raise SensitivityError(
            f"{option}: the headline is summed from {FIRST_YEAR}; give {FIRST_YEAR} or later "
            f"(the scenarios end in {last})"
        )


def _metrics(table: pd.DataFrame, ranges: pd.DataFrame) -> list[str]:
    return [
        c
        for c in table.columns
        if c not in ("sample", *ranges["parameter"]) and not c.startswith(("value_a:", "value_b:"))
    ]


def sobol_png(indices: pd.DataFrame, title: str) -> bytes:
    """The Sobol' plot (`sobol_figure`) as PNG."""
    return png_bytes(sobol_figure(indices, title))


def sobol_figure(indices: pd.DataFrame, title: str):
    """Sobol' indices (one panel per headline metric): total and first order with their intervals."""
    metrics = list(dict.fromkeys(indices["metric"]))
    parameters = list(dict.fromkeys(indices["parameter"]))
    fig, axes = subplots((4.2 * len(metrics) + 2, 0.6 * len(parameters) + 2.2), 1, len(metrics), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(parameters))
    for ax, metric in zip(axes, metrics, strict=True):
        part = indices[indices["metric"] == metric].set_index("parameter").reindex(parameters)
        for offset, order, color in ((0.18, "total", "#f58518"), (-0.18, "first", "#4c78a8")):
            value = part[f"{order}_order"].to_numpy(float)
            error = np.abs(np.vstack([value - part[f"{order}_low"], part[f"{order}_high"] - value]))
            ax.barh(y + offset, value, height=0.34, color=color, xerr=error, capsize=2, label=f"{order} order")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(metric, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, parameters, fontsize=8)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{title}: Sobol' indices (bars: estimate; whiskers: bootstrap interval)", y=1.08)
    return fig


# -- the folder `caseload sensitivity` writes -----------------------------------------------------


def default_folder(a: Scenario, b: Scenario, seed: int) -> Path:
    """Where `caseload sensitivity` writes by default: results/sensitivity-A-B-seedN."""
    return Path("results") / f"sensitivity-{a.name}-{b.name}-seed{seed}"


def replications_per_phase(
    parameters: int, reps: int, samples: int = 0, sobol: int = 0, draws: int = 0
) -> dict[str, int]:
    """Replications each phase runs (A and B at every setting or point): one-at-a-time (the base and
    each parameter low and high, at the estimate and at each of `draws` parameter draws), and with
    `samples` / `sobol` the Latin-hypercube and Sobol' points."""
    phases = {"sensitivity": (1 + 2 * parameters) * 2 * reps * (1 + draws)}
    if samples:
        phases["global"] = samples * 2 * reps
    if sobol:
        phases["sobol"] = sobol * (parameters + 2) * 2 * reps
    return phases


def sensitivity_to_folder(
    a: Scenario,
    b: Scenario,
    ranges: pd.DataFrame,
    out: str | Path,
    seed: int = 42,
    reps: int = 10,
    executor=None,
    samples: int = 0,
    sobol: int = 0,
    force: bool = False,
    progress=None,
    draws=None,
    parameter_draws: int = 0,
) -> dict[str, pd.DataFrame]:
    """Run the one-at-a-time sensitivity of B against A over `ranges` (`parameter_ranges`), and
    with `samples` / `sobol` the Latin-hypercube and Sobol' analyses, then write what `caseload
    sensitivity` writes into `out` (tables, tornado.png, sobol.png, manifest.json); returns the
    tables. `progress(label, total)` gives a callback `on_done(done, total)` for each phase.

    With `draws` and `parameter_draws` N > 0 the one-at-a-time table gains total intervals
    (`run_sensitivity`). Raises `sim.output.OutputError` before any work if `out` may not be
    written, `sim.analysis.draws.DrawsError` before any run if the draws do not fit.
    """
    from sim.output import check_target, manifest, write_folder
    from sim.replications import SerialExecutor

    out = Path(out)
    check_target(out, force)
    executor = executor or SerialExecutor()
    on = progress or (lambda label, total: None)
    started = time.perf_counter()
    n_draws = parameter_draws if draws is not None else 0
    phases = replications_per_phase(len(ranges), reps, samples, sobol, n_draws)
    table = run_sensitivity(
        a, b, ranges, seed, reps, executor, on("sensitivity", phases["sensitivity"]), FIRST_YEAR, draws, n_draws
    )
    tables = {"sensitivity.csv": table}
    if samples:
        indices, points = run_global(a, b, ranges, samples, seed, reps, executor, on("global", phases["global"]))
        tables["global.csv"], tables["global_samples.csv"] = indices, points
    if sobol:
        indices, points = run_sobol(a, b, ranges, sobol, seed, reps, executor, on("sobol", phases["sobol"]))
        tables["sobol.csv"], tables["sobol_samples.csv"] = indices, points
    fields = manifest(
        "sensitivity",
        scenarios=[a.name, b.name],
        reference=a.name,
        seed=seed,
        replications=reps,
        params=list(ranges["parameter"]),
        ranges=ranges.to_dict(orient="records"),
        samples=samples,
        sobol=sobol,
        run_seconds=round(time.perf_counter() - started, 3),
        parameter_draws=(
            {**draws.manifest(n_draws), "replications_per_draw": reps, "held": "the parameter each setting varies"}
            if n_draws
            else {"used": 0, "why": "not asked for (--parameter-draws 0)" if draws is not None else "no draws given"}
        ),
    )

    def plots(folder: Path) -> None:
        (folder / "tornado.png").write_bytes(tornado_png(table, f"{b.name} vs {a.name}"))
        if sobol:
            (folder / "sobol.png").write_bytes(sobol_png(tables["sobol.csv"], f"{b.name} vs {a.name}"))

    write_folder(out, tables, fields, force=force, extra=plots)
    return tables


def _headline_words(metric: str, a: str, b: str) -> str:
    if metric == "cumulative_net_saving_eur":
        return f"net saving from {FIRST_YEAR} ({difference_of(a, b)} total spending; positive: {b} spends less)"
    year = metric.removeprefix("caseload_diff_")
    return f"December caseload {year} ({difference_of(b, a)})"


def _short(metric: str) -> str:
    return "net saving" if metric == "cumulative_net_saving_eur" else metric.replace("caseload_diff_", "caseload ")


def _value(metric: str, value: float, unit: bool = True) -> str:
    return millions(value, True, unit) if metric.endswith("_eur") else count(value, 1, True)


def summary_lines(tables: dict[str, pd.DataFrame], a: str, b: str) -> list[str]:
    """The sensitivity for the terminal: per headline, the base and each parameter's low and high
    setting with its 95% interval (euros in millions), then the shares of the global and Sobol'
    analyses when they were run. The files keep every digit."""
    table = tables["sensitivity.csv"]
    lines = []
    for metric, part in table.groupby("metric", sort=False):
        lines.append(f"{_headline_words(metric, a, b)}, mean (95% interval):")
        rows = []
        for r in part.itertuples():
            setting = "base" if r.setting == "base" else f"{r.setting}: {a} {significant(r.value_a)}"
            if r.setting != "base" and r.value_b != r.value_a:
                setting += f", {b} {significant(r.value_b)}"
            rows.append(
                [
                    "" if r.setting == "base" else r.parameter,
                    setting,
                    _value(metric, r.diff_mean),
                    f"({_value(metric, r.diff_low, False)} to {_value(metric, r.diff_high, False)})",
                ]
            )
        lines += ["  " + line for line in text_table(["parameter", "setting", "mean", "95%"], rows, left=2)]
    if "global.csv" in tables:
        g = tables["global.csv"]
        lines.append("\nAll parameters varied together: share of the headline's variance (standardised regression):")
        rows = [
            [_short(r.metric), r.parameter, f"{r.variance_share:.2f}", f"{r.r_squared:.2f}"] for r in g.itertuples()
        ]
        lines += ["  " + line for line in text_table(["headline", "parameter", "share", "R²"], rows, left=2)]
    if "sobol.csv" in tables:
        s = tables["sobol.csv"]
        lines.append("\nSobol' indices (95% interval):")
        rows = [
            [
                _short(r.metric),
                r.parameter,
                f"{r.first_order:.2f} ({r.first_low:.2f} to {r.first_high:.2f})",
                f"{r.total_order:.2f} ({r.total_low:.2f} to {r.total_high:.2f})",
            ]
            for r in s.itertuples()
        ]
        lines += ["  " + line for line in text_table(["headline", "parameter", "first order", "total"], rows, left=2)]
    return lines
