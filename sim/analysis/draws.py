"""Parameter uncertainty: the calibration's draws of its fitted parameters, run through the model.

`caseload calibrate` writes `draws.csv` beside the fitted file (one row per bootstrap draw: its
number, then every fitted parameter by dotted scenario path, counts at the region's full size)
and `estimates.csv` (which parameters the data identify only weakly); the shipped fit carries
them as `calibration/draws-REGION.csv` and `calibration/estimates-REGION.csv` beside
`calibration/fitted-REGION.toml`. A scenario's draws are those beside the fitted file it
includes (`find_draws`, from the files the loader merged: nothing is read that the scenario
does not name). Draw d of a scenario is the scenario with the fitted parameters at the draw's
values (`drawn_scenarios`): a count at the scenario's own size (the draw times the ratio of the
scenario's value to the fitted file's, so a scaled region such as `national` gets the draw
scaled), a parameter the scenario sets to a value of its own held at it.

The analyses run `reps` replications of each draw (replication r of draw d on its own keyed
seed, `sim.replications.replication_seed`), paired across scenarios by draw and replication, and
report beside the simulation-noise interval a total one: percentiles over draws x replications
of the paired difference (`total_interval`), never narrower than the noise interval it
includes. What drives the spread: `variance_shares`.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import PathError, get_path, merge, nested, read_toml
from sim.files import FileProblem, read_text
from sim.parameters import Scenario, is_count
from sim.scenario import ScenarioError, scaled_count, schema_field, with_overrides

DRAW_COLUMN = "draw"
"""draws.csv's first column: the draw's number, 0 to N-1 (calibration.uncertainty.DRAW_COLUMN)."""
DEFAULT_DRAWS = 100
"""Parameter draws of `run` and `compare` unless told: enough for the 2.5th and 97.5th percentiles over
draws x 2 replications and for the variance shares, within the comparison's time target (docs/performance.md)."""
DEFAULT_DRAW_REPS = 2
"""Replications per draw (and at the estimate) unless told, when drawing: the spread comes from the draws."""
TOTAL_LEVEL = 0.95
"""Level of total_low/total_high: the 2.5th and 97.5th percentiles."""
BAND_LEVELS = (0.50, 0.80, 0.95)
"""The fan charts' bands of total uncertainty."""
BAND_COLUMNS = ["p2_5", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p97_5"]
"""bands.csv's percentile columns: the edges of the 95, 90, 80 and 50% bands and the median."""
BAND_PERCENTILES = [2.5, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5]


class DrawsError(ValueError):
    """Draws that cannot be used; the message names the file, the field and what is allowed."""

    def __init__(self, file: str | Path, field: str, message: str) -> None:
        self.file, self.field, self.message = str(file), field, message
        where = f"{file}: {field}" if field else str(file)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ParameterDraws:
    """The draws of one fit, checked: values per draw and parameter, where they came from."""

    file: Path
    values: pd.DataFrame  # index: draw 0..N-1; columns: dotted parameter paths
    sha256: str
    fitted_file: Path | None = None
    fitted: dict[str, float] = field(default_factory=dict)  # the fitted file's value of each parameter
    weak: tuple[str, ...] = ()  # weakly identified in the calibration (estimates.csv)
    sources: tuple[tuple[str, str], ...] = ()  # (file, sha256) of every draws file combined here
    origin: dict[str, Path] = field(default_factory=dict)  # the draws file of each parameter, when combined

    def file_of(self, parameter: str) -> Path:
        """The draws file a parameter's column came from (for an error that names it)."""
        return self.origin.get(parameter, self.file)

    @property
    def parameters(self) -> list[str]:
        return list(self.values.columns)

    def __len__(self) -> int:
        return len(self.values)

    def manifest(self, used: int, held: dict[str, list[str]] | None = None) -> dict:
        """What a results folder's manifest says of the draws."""
        return {
            "file": str(self.file),
            "sha256": self.sha256,
            "fitted_file": str(self.fitted_file) if self.fitted_file else None,
            "files": [{"file": f, "sha256": h} for f, h in self.sources or ((str(self.file), self.sha256),)],
            "available": len(self),
            "used": used,
            "draws": list(range(used)),
            "parameters": self.parameters,
            "weakly_identified": list(self.weak),
            "held_at_scenario_value": held or {},
        }


# -- finding and reading ---------------------------------------------------------------------------


def fitted_file_of(files: Iterable[Path]) -> Path | None:
    """The fitted parameter file among a scenario's files (the last merged, as its values win)."""
    found = [Path(f) for f in files if Path(f).name.startswith("fitted-") and Path(f).suffix == ".toml"]
    return found[-1] if found else None


def _beside(fitted_file: Path, kind: str) -> Path:
    """`kind`-REGION.csv beside fitted-REGION.toml (shipped), else `kind`.csv (a calibrate output folder)."""
    shipped = fitted_file.with_name(f"{kind}-{fitted_file.stem.removeprefix('fitted-')}.csv")
    plain = fitted_file.with_name(f"{kind}.csv")
    return plain if plain.exists() and not shipped.exists() else shipped


def find_draws(files: Iterable[Path]) -> tuple[Path, Path] | None:
    """(draws file, fitted file) of a scenario from the files it was merged from; None without a fitted file."""
    fitted = fitted_file_of(files)
    return None if fitted is None else (_beside(fitted, "draws"), fitted)


def find_all_draws(files: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(draws file, fitted file) of every fitted file a scenario includes, in the order merged: a
    region's fit and, say, a shock's fitted on top of it (`_corona.toml` includes fitted-corona.toml)."""
    fitted = [Path(f) for f in files if Path(f).name.startswith("fitted-") and Path(f).suffix == ".toml"]
    return [(_beside(f, "draws"), f) for f in dict.fromkeys(fitted)]


def combined(parts: list[ParameterDraws]) -> ParameterDraws:
    """Draws of several fits as one: draw d of each, side by side (as many draws as the shortest has);
    a parameter in two fits takes the later one's draws, as the later fitted file's value wins. The fits
    are taken as independent (a shock fitted at the region's estimate ignores the region's spread)."""
    if len(parts) == 1:
        return parts[0]
    n = min(len(p) for p in parts)
    values: dict[str, pd.Series] = {}
    fitted: dict[str, float] = {}
    origin: dict[str, Path] = {}
    for part in parts:
        for name in part.parameters:
            values[name] = part.values[name].iloc[:n]
            origin[name] = part.file
        fitted.update(part.fitted)
    weak = tuple(dict.fromkeys(w for part in parts for w in part.weak))
    first = parts[0]
    sources = tuple((str(p.file), p.sha256) for p in parts)
    return ParameterDraws(
        first.file, pd.DataFrame(values), first.sha256, first.fitted_file, fitted, weak, sources, origin
    )


def _csv(path: Path) -> pd.DataFrame:
    try:
        text = read_text(path)
    except FileProblem as exc:
        raise DrawsError(path, "", f"{exc}; `caseload calibrate` writes the draws (docs/calibration.md)") from None
    try:
        return pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise DrawsError(path, "", "empty file; give the draws.csv `caseload calibrate` wrote") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DrawsError(path, "", f"not a CSV table ({reason})") from None


def _estimates(path: Path) -> tuple[list[str], tuple[str, ...]]:
    """(fitted parameters, weakly identified ones) from the calibration's estimates.csv; none without it."""
    if not path.exists():
        return [], ()
    table = _csv(path)
    missing = [c for c in ("parameter", "weak") if c not in table.columns]
    if missing:
        raise DrawsError(path, missing[0], "column missing; give the estimates.csv `caseload calibrate` wrote")
    flags = table["weak"].astype(str).str.lower().isin(["true", "1", "yes"])
    return list(table["parameter"].astype(str)), tuple(table.loc[flags, "parameter"].astype(str))


def read_draws(path: str | Path, fitted_file: str | Path | None = None) -> ParameterDraws:
    """Draws from a draws.csv, checked: a `draw` column numbering 0..N-1, then numeric scenario
    parameters with finite values; with the fitted file, every parameter must be one it sets.
    DrawsError naming the file and the field otherwise."""
    path = Path(path)
    table = _csv(path)
    columns = [str(c) for c in table.columns]
    if not columns or columns[0] != DRAW_COLUMN:
        raise DrawsError(path, DRAW_COLUMN, "must be the first column (the draw's number, 0 to N-1)")
    if len(set(columns)) != len(columns) or any(c.startswith("Unnamed") for c in columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1 or c.startswith("Unnamed")})
        raise DrawsError(path, ", ".join(dupes), "columns must be named once each, by dotted parameter path")
    if table.empty:
        raise DrawsError(path, "", "a header but no draws")
    parameters = columns[1:]
    if not parameters:
        raise DrawsError(path, "", "no parameter columns; give one per fitted parameter, by dotted path")
    draws = pd.to_numeric(table[DRAW_COLUMN], errors="coerce")
    if draws.isna().any() or not (draws.to_numpy() == np.arange(len(table))).all():
        raise DrawsError(path, DRAW_COLUMN, f"must number the rows 0 to {len(table) - 1} in order")
    for name in parameters:
        field_info = schema_field(name)
        if field_info is None:
            raise DrawsError(path, name, "not a scenario parameter; columns are dotted scenario paths")
        values = pd.to_numeric(table[name], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if len(bad):
            raise DrawsError(path, name, f"draw {bad[0]}: {table[name].iloc[bad[0]]!r} is not a finite number")
        table[name] = values.astype(float)
    fitted: dict[str, float] = {}
    fitted_path = Path(fitted_file) if fitted_file is not None else None
    if fitted_path is not None:
        try:
            data = read_toml(fitted_path)
        except FileProblem as exc:
            raise DrawsError(fitted_path, "", str(exc)) from None
        for name in parameters:
            try:
                fitted[name] = float(get_path(data, name))
            except (PathError, TypeError, ValueError):
                raise DrawsError(
                    path, name, f"not a parameter of {fitted_path.name}: these draws belong to another fit"
                ) from None
    estimates = _beside(fitted_path, "estimates") if fitted_path else path.with_name("estimates.csv")
    fitted_names, weak = _estimates(estimates)
    missing = [name for name in fitted_names if name not in parameters]
    if missing:
        raise DrawsError(
            path, missing[0], f"column missing: a fitted parameter ({estimates.name}) needs one, every draw a value"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    values = table[parameters].copy()
    values.index = pd.RangeIndex(len(values), name=DRAW_COLUMN)
    return ParameterDraws(path, values, digest, fitted_path, fitted, weak)


class TooFewDraws(DrawsError):
    """A draws file with fewer draws than asked for."""


def check_count(draws: ParameterDraws, n: int) -> None:
    """TooFewDraws unless `n` draws are available."""
    if n > len(draws):
        raise TooFewDraws(
            draws.file,
            DRAW_COLUMN,
            f"has {len(draws)} draws, fewer than the {n} asked for; give --parameter-draws {len(draws)} or fewer",
        )


class NoDraws(ValueError):
    """Parameter draws were asked for scenarios that have none, or different ones; the message says
    which. `scenario` names the one without a fitted file (None when the scenarios' draws differ)."""

    def __init__(self, message: str, scenario: str | None = None) -> None:
        self.scenario = scenario
        super().__init__(message)


def draws_for(files_by_scenario: dict[str, tuple[Path, ...]], n: int) -> ParameterDraws:
    """The draws of `n` > 0 parameter draws for scenarios {name: the files each was merged from}: the
    draws beside every fitted file they include, side by side, checked and counted. NoDraws when a
    scenario includes no fitted file or the scenarios' fits differ; DrawsError for a broken draws
    file, TooFewDraws for one with fewer than `n` draws."""
    found = {name: tuple(find_all_draws(files)) for name, files in files_by_scenario.items()}
    missing = [name for name, f in found.items() if not f]
    if missing:
        raise NoDraws(f"{missing[0]} includes no fitted parameter file, so it has no draws", missing[0])
    if len(set(found.values())) > 1:
        shown = "; ".join(f"{name}: {', '.join(str(d) for d, _ in f)}" for name, f in found.items())
        raise NoDraws(f"the scenarios' draws differ ({shown}); paired draws need the same fits")
    parts = [read_draws(draws_file, fitted) for draws_file, fitted in next(iter(found.values()))]
    for part in parts:
        check_count(part, n)
    return combined(parts)


# -- a scenario at each draw -------------------------------------------------------------------------


def _ratio(scenario: Scenario, draws: ParameterDraws, data: dict) -> float:
    """The scenario's size against the fit's: the ratio of its value of a fitted count to the fitted file's."""
    for name in draws.parameters:
        info = schema_field(name)
        own, fit = float(get_path(data, name)), draws.fitted.get(name, 0.0)
        if info is not None and is_count(info) and fit != 0 and own != 0:
            return own / fit
    return 1.0


def drawn_scenarios(
    scenario: Scenario, draws: ParameterDraws, n: int, held: Iterable[str] = ()
) -> tuple[list[Scenario], list[str]]:
    """The scenario at draws 0..n-1, and the fitted parameters held at the scenario's own value.

    A parameter the scenario sets to another value than the fitted file (a policy variant's own
    contact effect, a sensitivity setting named in `held`) keeps it: the draws describe the fit,
    not the scenario's choices. DrawsError if a draw is not a valid scenario (outside the schema's
    bounds) or a parameter is not in the scenario.
    """
    check_count(draws, n)
    data = scenario.model_dump(mode="python")
    kept = set(held)
    ratio = _ratio(scenario, draws, data)
    drawn: list[tuple[str, bool, float]] = []  # (path, count, scale)
    for name in draws.parameters:
        try:
            own = float(get_path(data, name))
        except (PathError, TypeError, ValueError):
            raise DrawsError(draws.file_of(name), name, f"not a parameter of scenario {scenario.name}") from None
        info = schema_field(name)
        count = info is not None and is_count(info)
        fit = draws.fitted.get(name)
        if name in kept or (not count and fit is not None and not math.isclose(own, fit, rel_tol=1e-12, abs_tol=0)):
            kept.add(name)
            continue
        drawn.append((name, count, ratio if count else 1.0))
    scenarios = []
    values = draws.values
    for d in range(n):
        over: dict = {}
        for name, count, scale in drawn:
            value = float(values.at[d, name])
            if count:
                info = schema_field(name)
                value = scaled_count(value, scale, info is not None and info.annotation is int)
            over = merge(over, nested(name, value))
        try:
            scenarios.append(with_overrides(scenario, over))
        except ScenarioError as exc:
            raise DrawsError(
                draws.file_of(exc.field),
                exc.field or DRAW_COLUMN,
                f"draw {d}: {exc.message} (scenario {scenario.name})",
            ) from None
    return scenarios, sorted(kept & set(draws.parameters))


# -- statistics over draws x replications ------------------------------------------------------------


def total_interval(values: np.ndarray, level: float = TOTAL_LEVEL) -> tuple[float, float]:
    """The central `level` interval of values (percentiles, linear interpolation); NaNs are skipped."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return np.nan, np.nan
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(v, [tail, 100 - tail])
    return float(low), float(high)


def widen(low: float, high: float, noise_low: float, noise_high: float) -> tuple[float, float]:
    """The total interval never narrower than the noise interval it includes: with few replications
    a t interval on few degrees of freedom can be wider than the spread of the pairs."""
    lows = [x for x in (low, noise_low) if x == x]
    highs = [x for x in (high, noise_high) if x == x]
    return (min(lows) if lows else np.nan, max(highs) if highs else np.nan)


def percentiles(frame: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    """bands.csv's percentile columns of `column` per group of `by`."""
    grouped = frame.groupby(by, sort=False)[column]
    out = pd.concat(
        {name: grouped.quantile(p / 100) for name, p in zip(BAND_COLUMNS, BAND_PERCENTILES, strict=True)}, axis=1
    )
    return out.reset_index()


NOISE = "simulation noise"
"""variance.csv's row for the replications' own spread within a draw."""
REST = "interactions and shared"
"""variance.csv's row for what no parameter's first-order share holds."""


def first_order_share(x: np.ndarray, y: np.ndarray, bins: int | None = None) -> float:
    """The first-order Sobol' index of y in x, estimated from given data: the variance of the mean of y
    over bins of x (equal counts), less what the bins' own noise adds to it, over the variance of y.

    (The given-data estimator of Plischke, Borgonovo and Smith 2013, with the bias of the bin means
    taken off.) About 0 for an x without effect, whatever the sample: that is what the bias correction
    is for. NaN when y does not vary.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(y)
    total = y.var()
    if n < 4 or not total > 0:
        return np.nan
    bins = bins or max(2, int(round(math.sqrt(n))))
    order = np.argsort(x, kind="stable")
    groups = np.array_split(y[order], bins)
    means = np.array([g.mean() for g in groups])
    sizes = np.array([len(g) for g in groups])
    between = float((sizes * (means - y.mean()) ** 2).sum() / n)
    within = np.array([g.var(ddof=1) if len(g) > 1 else 0.0 for g in groups])
    bias = float(within.sum() / n)  # what the bin means' own variance (within / size) adds to `between`
    return max(0.0, (between - bias) / total)


def variance_shares(
    pairs: pd.DataFrame, values: pd.DataFrame, metrics: list[str], weak: Iterable[str] = ()
) -> pd.DataFrame:
    """Share of each headline's variance over draws x replications due to each fitted parameter.

    `pairs`: one row per (draw, replication) with a `draw` column and the metrics; `values`: the
    draws' parameter values (index draw). The variance of a metric over the pairs splits into the
    spread of the draws' means and the replications' spread within a draw (simulation noise); each
    parameter's share is the variance of the mean of the metric given that parameter (its
    first-order index on the draws' means, times their variance) over the metric's, and what is left (interactions, and what correlated parameters share) is the rest. With correlated draws
    a parameter's share includes what it moves together with others, so the shares may overlap.
    """
    weak = set(weak)
    rows = []
    for metric in metrics:
        y = pairs[[DRAW_COLUMN, metric]].dropna()
        total = float(y[metric].var(ddof=0)) if len(y) > 1 else np.nan
        by_draw = y.groupby(DRAW_COLUMN)[metric]
        means = by_draw.mean()
        free = float((by_draw.count() - 1).sum())
        within = float((by_draw.var(ddof=1).fillna(0.0) * (by_draw.count() - 1)).sum() / free) if free else 0.0
        noise = min(1.0, within / total) if total and total > 0 else np.nan
        drawn = 1.0 - noise if noise == noise else np.nan
        # Var(E[y | parameter]) from the draws' means (whose own noise the estimator takes off), over Var(y)
        spread = float(means.var(ddof=0)) / total if total and total > 0 else np.nan
        shares = {
            name: first_order_share(values.loc[means.index, name].to_numpy(), means.to_numpy()) * spread
            for name in values.columns
        }
        for name, share in shares.items():
            rows.append({"metric": metric, "source": name, "share": share, "weak": name in weak})
        rest = drawn - np.nansum(list(shares.values())) if drawn == drawn else np.nan
        rows.append({"metric": metric, "source": NOISE, "share": noise, "weak": False})
        rows.append(
            {"metric": metric, "source": REST, "share": max(0.0, rest) if rest == rest else rest, "weak": False}
        )
    return pd.DataFrame(rows, columns=["metric", "source", "share", "weak"])


# -- a comparison over draws -------------------------------------------------------------------------

SPREAD_METRICS = ["cumulative_net_saving_eur", "total_spending_eur", "caseload_december", "exits_work"]
"""The headlines whose spread over the draws is split over the parameters (variance.csv): their
horizon totals as comparison.csv has them."""
TOTAL_COLUMNS = ["total_low", "total_high"]
"""comparison.csv's and attribution.csv's columns of the total interval, with parameter draws."""
SAVING_TOTAL_COLUMNS = ["cumulative_saving_total_low", "cumulative_saving_total_high"]
SAVING_UNDISCOUNTED_TOTAL_COLUMNS = [
    "cumulative_saving_undiscounted_total_low",
    "cumulative_saving_undiscounted_total_high",
]
BREAK_EVEN_DRAWS_COLUMNS = ["scenario", "reference", "year", "broken_even_share", "broken_even_share_undiscounted"]
"""break_even_draws.csv: per year, the share of draws whose saving (mean over the draw's replications)
has turned positive for good by then."""


def pair_id(draw: int, replication: int, reps: int) -> int:
    """The number a (draw, replication) pair goes by as the `replication` of the drawn yearly tables."""
    return draw * reps + replication


@dataclass(frozen=True)
class DrawnComparison:
    """What the draws add to a comparison: total intervals, fan-chart bands, break-even shares, spread."""

    totals: pd.DataFrame  # year, metric, scenario, total_low, total_high
    bands: pd.DataFrame  # bands.csv
    break_even: pd.DataFrame  # break_even_draws.csv
    savings: pd.DataFrame  # per scenario: the total interval of the cumulative savings, both ways
    variance: pd.DataFrame  # variance.csv
    draws: int
    reps: int


def _quantiles(frame: pd.DataFrame, level: str) -> dict[str, pd.DataFrame]:
    """Percentile frames (group x metric) of a (year, replication) x metric frame, by BAND_COLUMNS."""
    grouped = frame.groupby(level=level)
    return {name: grouped.quantile(p / 100) for name, p in zip(BAND_COLUMNS, BAND_PERCENTILES, strict=True)}


def _long(parts: dict[str, pd.DataFrame], first: str) -> pd.DataFrame:
    frames = [frame.stack(future_stack=True).rename(name) for name, frame in parts.items()]
    out = pd.concat(frames, axis=1).reset_index()
    return out.rename(columns={out.columns[0]: first, out.columns[1]: "metric"})


def _pooled_noise(frame: pd.DataFrame, draw_of: pd.Series, yearly: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The replications' own spread of each metric, pooled over the draws: (sd, degrees of freedom)
    per year (or for the horizon, one row "total"), from the variance within each draw."""
    pairs = frame.index.get_level_values("replication")
    keys = (
        [frame.index.get_level_values("year"), draw_of.loc[pairs].to_numpy()]
        if yearly
        else [draw_of.loc[pairs].to_numpy()]
    )
    g = frame.groupby(keys)
    free = (g.count() - 1).clip(lower=0)
    squares = g.var(ddof=1).fillna(0.0) * free
    if yearly:
        df, ss = free.groupby(level=0).sum(), squares.groupby(level=0).sum()
    else:
        df, ss = free.sum().to_frame("total").T, squares.sum().to_frame("total").T
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(ss / df.where(df > 0))
    return sd, df


def compare_draws(
    yearlies: dict[str, pd.DataFrame],
    scenarios: dict[str, Scenario],
    years: tuple[int, int],
    discount_rate: float,
    reps: int,
    values: pd.DataFrame,
    weak: Iterable[str] = (),
) -> DrawnComparison:
    """The draws' part of a comparison, from the drawn yearly tables (their `replication` is the
    pair's number, `pair_id`), paired by draw and replication like the replications at the estimate."""
    from sim.analysis.budget import break_even_year
    from sim.analysis.comparison import METRICS, _totals, paired_metrics

    own, index = paired_metrics(yearlies, scenarios, years, discount_rate)
    names = list(yearlies)
    reference = names[0]
    metrics = [m.name for m in METRICS if m.name in own[reference]]
    tail = 100 * (1 - TOTAL_LEVEL) / 2
    totals, bands, shares, savings, spread = [], [], [], [], []
    ref_totals = _totals(own[reference][metrics])
    pairs = index.get_level_values("replication").unique()
    draw_of = pd.Series(pairs // reps, index=pairs)
    for n in names:
        level, diff = own[n][metrics], own[n][metrics] - own[reference][metrics]
        diff_totals = _totals(own[n][metrics]) - ref_totals
        for group, frame in (("year", diff), ("total", diff_totals)):
            g = frame.groupby(level="year") if group == "year" else frame.groupby(lambda _: "total")
            low, high = g.quantile(tail / 100), g.quantile(1 - tail / 100)
            sd, df = _pooled_noise(frame, draw_of, group == "year")
            part = _long({"total_low": low, "total_high": high, "noise_sd": sd, "noise_df": df}, "year")
            totals.append(part.assign(scenario=n))
        for quantity, frame in (("level", level), ("difference", diff)):
            part = _long(_quantiles(frame, "year"), "year")
            bands.append(part.assign(scenario=n, reference=reference, quantity=quantity))
        if n == reference:
            continue
        cumulative = own[n]["cumulative_net_saving_eur"].unstack("replication")
        plain = own[n]["net_saving_eur"].unstack("replication").cumsum()
        row = {"scenario": n}
        for columns, paths in ((SAVING_TOTAL_COLUMNS, cumulative), (SAVING_UNDISCOUNTED_TOTAL_COLUMNS, plain)):
            row.update(zip(columns, total_interval(paths.iloc[-1].to_numpy()), strict=True))
        savings.append(row)
        by_draw = {
            kind: paths.T.groupby(draw_of.loc[paths.columns].to_numpy()).mean().T
            for kind, paths in (("discounted", cumulative), ("undiscounted", plain))
        }
        span = cumulative.index.to_numpy()
        even = {
            kind: np.array([break_even_year(span, paths[d].to_numpy()) or np.inf for d in paths.columns], dtype=float)
            for kind, paths in by_draw.items()
        }
        for year in span:
            shares.append(
                {
                    "scenario": n,
                    "reference": reference,
                    "year": int(year),
                    "broken_even_share": float((even["discounted"] <= year).mean()),
                    "broken_even_share_undiscounted": float((even["undiscounted"] <= year).mean()),
                }
            )
        pair_values = diff_totals[[m for m in SPREAD_METRICS if m in diff_totals]].copy()
        pair_values[DRAW_COLUMN] = draw_of.loc[pair_values.index].to_numpy()
        part = variance_shares(pair_values, values, [m for m in SPREAD_METRICS if m in diff_totals], weak)
        spread.append(part.assign(scenario=n, reference=reference))
    total_table = pd.concat(totals, ignore_index=True)
    total_table["year"] = total_table["year"].astype(str)
    band_table = pd.concat(bands, ignore_index=True)
    band_table = band_table[["year", "metric", "scenario", "reference", "quantity", *BAND_COLUMNS]]
    variance = (
        pd.concat(spread, ignore_index=True)[["scenario", "reference", "metric", "source", "share", "weak"]]
        if spread
        else pd.DataFrame(columns=["scenario", "reference", "metric", "source", "share", "weak"])
    )
    draws = int(draw_of.nunique())
    return DrawnComparison(
        total_table,
        band_table,
        pd.DataFrame(shares, columns=BREAK_EVEN_DRAWS_COLUMNS),
        pd.DataFrame(savings, columns=["scenario", *SAVING_TOTAL_COLUMNS, *SAVING_UNDISCOUNTED_TOTAL_COLUMNS]),
        variance,
        draws,
        reps,
    )


def with_totals(table: pd.DataFrame, totals: pd.DataFrame, keys: list[str], noise: tuple[str, str]) -> pd.DataFrame:
    """`table` with total_low/total_high joined on `keys`, each widened to hold the noise interval."""
    out = table.merge(totals, on=keys, how="left", validate="one_to_one")
    low, high = out[noise[0]].to_numpy(dtype=float), out[noise[1]].to_numpy(dtype=float)
    out["total_low"] = np.fmin(out["total_low"].to_numpy(dtype=float), low)
    out["total_high"] = np.fmax(out["total_high"].to_numpy(dtype=float), high)
    return out


# -- a run over draws ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawnRun:
    """A scenario's replications at the parameter draws: their yearly tables and the bands over them."""

    yearly: pd.DataFrame  # draws/yearly.csv: every draw's replications, with `draw` and `replication`
    bands: pd.DataFrame  # bands.csv: per year and yearly column, percentiles over draws x replications
    failures: list[dict]


def run_draws(drawn: list[Scenario], seed: int, reps: int, executor=None, on_done=None) -> DrawnRun:
    """`reps` replications of each drawn scenario (replication r of draw d on its keyed seed)."""
    from sim.replications import ReplicationTask, SerialExecutor, run_task

    executor = executor or SerialExecutor()
    tasks = [(d, ReplicationTask(s, seed, r, draw=d)) for d, s in enumerate(drawn) for r in range(reps)]
    frames: dict[tuple[int, int], pd.DataFrame] = {}
    failures: list[dict] = []
    for done, (k, result) in enumerate(executor.map_unordered(run_task, [t for _, t in tasks]), start=1):
        d, task = tasks[k]
        if isinstance(result, BaseException):
            failures.append(
                {
                    "scenario": task.scenario.name,
                    "seed": seed,
                    "replication": task.replication,
                    "draw": d,
                    "error": f"{type(result).__name__}: {result}",
                }
            )
        else:
            frames[(d, task.replication)] = result.yearly.assign(draw=d)
        if on_done:
            on_done(done, len(tasks))
    yearly = pd.concat([frames[k] for k in sorted(frames)], ignore_index=True) if frames else pd.DataFrame()
    columns = [
        c
        for c in yearly.columns
        if c not in ("year", "replication", DRAW_COLUMN) and pd.api.types.is_numeric_dtype(yearly[c])
    ]
    bands = (
        _long(_quantiles(yearly.set_index(["year", "replication"])[columns], "year"), "year")
        if len(yearly)
        else pd.DataFrame(columns=["year", "metric", *BAND_COLUMNS])
    )
    return DrawnRun(yearly, bands, failures)


def run_with_draws(
    scenario: Scenario,
    out: str | Path,
    draws: ParameterDraws,
    parameter_draws: int,
    seed: int = 42,
    reps: int = 1,
    executor=None,
    record_events: bool = False,
    force: bool = False,
    on_done=None,
    scenario_file: str | Path | None = None,
    table_format: str = "csv",
):
    """`sim.runs.run_to_folder`, and the scenario at draws 0..N-1 of the fitted parameters, `reps`
    replications each: the folder also holds draws/yearly.csv (every draw's yearly tables, with
    `draw`) and bands.csv (percentiles of every yearly column over draws x replications), the
    manifest `parameter_draws`. Returns (RunOutcome, DrawnRun). DrawsError before any run if the
    draws do not fit the scenario."""
    import time

    from sim.output import check_table_format, check_target
    from sim.replications import run_replications
    from sim.runs import RunOutcome, write_run

    check_target(Path(out), force)
    check_table_format(table_format)
    drawn, held = drawn_scenarios(scenario, draws, parameter_draws)
    total = reps * (1 + parameter_draws)
    count = {"done": 0}

    def done(_: int, __: int) -> None:
        count["done"] += 1
        if on_done:
            on_done(count["done"], total)

    started = time.perf_counter()
    results = run_replications(scenario, seed, reps, executor, record_events, done)
    spread = run_draws(drawn, seed, reps, executor, done)
    seconds = time.perf_counter() - started
    tables = {"yearly.csv": results.yearly, "monthly.csv": results.monthly}
    if record_events and results.events is not None:
        tables["events.csv"] = results.events
    tables.update({"draws/yearly.csv": spread.yearly, "bands.csv": spread.bands})
    record = {**draws.manifest(parameter_draws, {scenario.name: held} if held else {}), "replications_per_draw": reps}
    write_run(
        scenario,
        out,
        tables,
        seed,
        reps,
        seconds,
        force,
        scenario_file,
        table_format,
        results.failures,
        results.client_events,
        parameter_draws=record,
        draws_failed=spread.failures,
    )
    return RunOutcome(Path(out), results, seconds), spread
