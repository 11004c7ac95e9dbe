"""The comparison report: one self-contained HTML page, and the budget workbook.

Everything is read back from a comparison folder (comparison.csv, break_even.csv,
parameters.csv, scenarios/NAME/yearly.csv, manifest.json), never from memory, so every number
in the page's tables is a number in those files. Table cells carry `data-file`, `data-key` and
`data-col` naming where their number comes from (the tests check them). Plots are matplotlib
(Agg backend) PNGs embedded as base64.

The folder is checked as it is read: a file that is missing, not UTF-8, not JSON or CSV, or
lacks a field or column the report uses is one `ReportError` naming the file, the field and
what is allowed. Page and workbook are made in memory and then written to temporary files in
the folder that are renamed into place, so a bad folder, or one that cannot be written, is left
as it was.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from sim.analysis.attribution import LEVER_WORDS
from sim.analysis.comparison import UNDISCOUNTED_COLUMNS
from sim.analysis.plots import png_bytes, subplots, waterfall
from sim.analysis.summary import summarise
from sim.files import SLUG_RULE, FileProblem, is_slug, read_text
from sim.output import OutputError
from sim.parameters import CATEGORIES

HEADLINE = [
    "caseload_december",
    "notifications",
    "gatekept",
    "reapplications",
    "inflow",
    "exits_work",
    "exits_work_fulltime",
    "exits_work_temporary",
    "returns",
    "granite_stock",
    "participation_share",
    "participation_active_share",
    "work_consultant_caseload",
    "wait_days_mean",
    "work_consultants",
    "benefit_spending_eur",
    "trajectory_spending_eur",
    "staff_spending_eur",
    "total_spending_eur",
    "net_saving_eur",
    "cumulative_net_saving_eur",
]
BUDGET = [
    "benefit_spending_eur",
    "trajectory_spending_eur",
    "staff_spending_eur",
    "total_spending_eur",
    "buig_balance_eur",
    "net_saving_eur",
    "cumulative_net_saving_eur",
]
LABELS = {
    "caseload_december": "December caseload (mean over years)",
    "notifications": "notifications",
    "gatekept": "stopped at the door",
    "reapplications": "stopped at the door who applied again",
    "inflow": "inflow to benefit (returns included)",
    "work_consultants": "work consultants, FTE-years",
    "staff_spending_eur": "staff spending, EUR",
    "total_spending_eur": "total spending (all budgets), EUR",
    "exits_work": "exits to work (all types)",
    "exits_work_fulltime": "exits to full-time work",
    "exits_work_temporary": "exits to temporary work",
    "returns": "returns after leaving",
    "granite_stock": "granite stock, 4+ years (mean)",
    "participation_share": "share in participation (mean)",
    "participation_active_share": "participation clients in an activity (share, mean)",
    "work_consultant_caseload": "clients per work consultant",
    "wait_days_mean": "intake waiting time, days",
    "benefit_spending_eur": "benefit spending, EUR",
    "trajectory_spending_eur": "trajectory spending, EUR",
    "buig_balance_eur": "BUIG grant minus benefits, EUR",
    "net_saving_eur": "net saving vs reference, EUR",
    "cumulative_net_saving_eur": "cumulative net saving, EUR (discounted)",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#1d232a}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #d8dee6;padding-bottom:.2em;margin-top:1.6em}
p.lead{color:#4a5561} table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #d8dee6;padding:3px 8px} th{background:#eef2f6;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} tr:nth-child(even) td{background:#f8fafc}
.scroll{overflow-x:auto;max-width:100%} .scroll table{margin-top:0}
.plots{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:flex-start}
img{max-width:100%;height:auto;border:1px solid #e4e8ee;margin:.4em 0} .note{color:#4a5561;font-size:.88em}
code{overflow-wrap:anywhere}
@media (max-width:600px){body{margin:12px auto;padding:0 10px} table{font-size:.8em} th,td{padding:2px 5px}}
"""
PANEL = (5.6, 3.9)
"""Inches of one plot panel: 560 px at 100 dpi, shown whole beside another on a wide screen and
at 0.6 of its size or more on a phone (390 px), where 10-point text is still 8 px."""


def fmt(value: float, metric: str) -> str:
    """How a number is shown: euros whole, shares with 3 decimals, counts and days with 1."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return "–"
    if metric.endswith("_eur"):
        return f"{value:,.0f}"
    if metric.endswith("_share"):
        return f"{value:.3f}"
    return f"{value:,.1f}"


def _cell(value, metric: str, file: str, key: str, col: str) -> str:
    attrs = f'data-file="{file}" data-key="{html.escape(key)}" data-col="{col}"'
    return f'<td class="n" {attrs}>{fmt(value, metric)}</td>'


def _png(fig, alt: str) -> str:
    """The figure as an embedded image; `alt` says what it shows, for those who cannot see it."""
    data = base64.b64encode(png_bytes(fig)).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _shown(figures: list) -> str:
    """Figures with their text alternatives (the `*_figures` functions) as the page's panels."""
    return _panels(*(_png(fig, alt) for fig, alt in figures))


def _panels(*images: str) -> str:
    """Plot panels side by side where the page is wide enough, one under another where it is not."""
    return f"<div class='plots'>{''.join(images)}</div>"


class ReportError(OutputError):
    """A comparison folder the report cannot be made from or written into; the message names the
    file, the field and what is allowed.

    An OutputError, so `caseload compare --report` reports it like any other folder it cannot
    write, and removes its partial folder."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file, self.field, self.message = file, field, message
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")


MAX_FILE_BYTES = 256_000_000
"""Largest file of a comparison folder read: yearly tables of many replications run to megabytes."""

_AGAIN = "write the folder again with `caseload compare`"
NEEDED = ["manifest.json", "comparison.csv", "break_even.csv", "parameters.csv"]

# What the report reads of each table, by kind: "text" a non-empty string, "value" any string,
# "number" a number or empty, "whole" a whole number or empty, "year" a whole number,
# "year_or_total" a year or the word total (comparison.csv's year column).
COMPARISON_COLUMNS = {
    "year": "year_or_total",
    "metric": "text",
    "scenario": "text",
    "mean": "number",
    "reference_mean": "number",
    "diff_mean": "number",
    "diff_low": "number",
    "diff_high": "number",
}
BREAK_EVEN_COLUMNS = {
    "scenario": "text",
    "reference": "text",
    "break_even_year": "whole",
    "break_even_low": "whole",
    "break_even_high": "whole",
    "cumulative_saving_mean": "number",
    "cumulative_saving_low": "number",
    "cumulative_saving_high": "number",
}
ATTRIBUTION_COLUMNS = {
    "year": "year_or_total",
    "metric": "text",
    "scenario": "text",
    "reference": "text",
    "lever": "text",
    "share_mean": "number",
    "share_low": "number",
    "share_high": "number",
}
BAND_COLUMNS = {
    "year": "year",
    "metric": "text",
    "scenario": "text",
    "quantity": "text",
    **dict.fromkeys(["p2_5", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p97_5"], "number"),
}
VARIANCE_COLUMNS = {"scenario": "text", "metric": "text", "source": "text", "share": "number", "weak": "value"}
BREAK_EVEN_DRAWS_COLUMNS = {
    "scenario": "text",
    "year": "year",
    "broken_even_share": "number",
    "broken_even_share_undiscounted": "number",
}
YEARLY_COLUMNS = {
    "year": "year",
    "caseload_december": "number",
    **{f"stock_{c}": "number" for c in CATEGORIES},
    **dict.fromkeys(
        ["stock_duration_lt1", "stock_duration_1_2", "stock_duration_2_4", "stock_duration_4plus"], "number"
    ),
}
_TEXT_KINDS = ("text", "value", "year_or_total")
_NA = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
"""pandas' own missing-value words, kept for number columns only: a scenario may be named `NA`."""


def _show(value) -> str:
    """A value for an error line: its repr on one line, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _text_of(path: Path) -> str:
    if not path.is_file():
        raise ReportError(str(path), "", f"missing or not a regular file; {_AGAIN}")
    try:
        return read_text(path, MAX_FILE_BYTES)
    except FileProblem as exc:
        raise ReportError(str(path), "", f"{exc}; {_AGAIN}") from None


def read_table(path: Path, columns: dict[str, str], rows: bool = True) -> pd.DataFrame:
    """A CSV table of the folder with the columns the report reads checked; ReportError otherwise.

    Text columns are read as written (no missing-value words); the others as pandas reads numbers.
    `rows`: the table must have at least one row.
    """
    text = _text_of(path)
    try:
        header = pd.read_csv(io.StringIO(text), nrows=0).columns
        kinds = {c: columns.get(c, "other") for c in header}
        frame = pd.read_csv(
            io.StringIO(text),
            keep_default_na=False,
            dtype={c: str for c, k in kinds.items() if k in _TEXT_KINDS},
            na_values={c: _NA for c, k in kinds.items() if k not in _TEXT_KINDS},
        )
    except pd.errors.EmptyDataError:
        raise ReportError(str(path), "", f"empty file; {_AGAIN}") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ReportError(str(path), "", f"not a CSV table ({reason}); {_AGAIN}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportError(
            str(path), ", ".join(missing), f"column missing; the report needs the columns {', '.join(columns)}"
        )
    if rows and frame.empty:
        raise ReportError(str(path), "", f"a header but no rows; {_AGAIN}")
    for column, kind in columns.items():
        _check_column(path, column, kind, frame[column])
    return frame


def _check_column(path: Path, column: str, kind: str, values: pd.Series) -> None:
    def bad(index, allowed: str):
        row = values.index.get_loc(index) + 1
        raise ReportError(str(path), column, f"row {row} holds {_show(values[index])}; {allowed}")

    if kind in ("text", "year_or_total"):
        pattern, allowed = (
            (r".+", "give a non-empty text") if kind == "text" else (r"\d+|total", "give a year or 'total'")
        )
        wrong = ~values.str.fullmatch(pattern, flags=re.DOTALL)
        if wrong.any():
            bad(wrong.idxmax(), allowed)
        return
    if kind == "value" or values.empty:  # an empty table (a header only) has nothing to check
        return
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        wrong = numbers.isna() & values.notna()
        bad(wrong.idxmax() if wrong.any() else values.index[0], "give a number or leave the cell empty")
    if kind in ("whole", "year"):
        allowed = "give a whole year" if kind == "year" else "give a whole year or leave the cell empty"
        wrong = (values.isna() if kind == "year" else pd.Series(False, index=values.index)) | (
            values.notna() & ~(np.isfinite(values) & (values % 1 == 0))
        )
        if wrong.any():
            bad(wrong.idxmax(), allowed)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_manifest(path: Path) -> dict:
    """manifest.json with the fields the report reads checked; ReportError naming the first bad one."""
    text = _text_of(path)
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            str(path), "", f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); {_AGAIN}"
        ) from None
    except RecursionError:
        raise ReportError(str(path), "", f"not JSON the report can read (nested too deeply); {_AGAIN}") from None
    if not isinstance(manifest, dict):
        raise ReportError(str(path), "", f"JSON but not an object of named fields; {_AGAIN}")

    def need(key: str, ok, allowed: str, required: bool = True) -> None:
        if key not in manifest:
            if required:
                raise ReportError(str(path), key, f"missing; give {allowed}")
            return
        if not ok(manifest[key]):
            raise ReportError(str(path), key, f"{_show(manifest[key])} is not allowed; give {allowed}")

    need(
        "scenarios",
        lambda v: isinstance(v, list) and len(v) >= 2 and all(is_slug(n) for n in v) and len(set(v)) == len(v),
        f"a list of two or more distinct scenario names, each {SLUG_RULE}",
    )
    names = manifest["scenarios"]
    need("reference", lambda v: v == names[0], f"the first of scenarios, {names[0]!r}")
    need("from_year", _is_int, "a whole year")
    need(
        "until_year",
        lambda v: _is_int(v) and v >= manifest["from_year"],
        f"a whole year from from_year ({manifest['from_year']})",
    )
    need("seed", _is_int, "a whole number")
    need("replications_used", lambda v: _is_int(v) and v >= 0, "a whole number of replications")
    need("discount_rate", _is_number, "a yearly rate, e.g. 0.03", required=False)
    need("replications_failed", lambda v: isinstance(v, list), "a list of failed replications", required=False)
    reference, node, where = names[0], manifest.get("parameters"), "parameters"
    for part in (reference, "region", "name"):
        if not isinstance(node, dict) or part not in node:
            raise ReportError(str(path), f"{where}.{part}", f"missing; {_AGAIN}")
        node, where = node[part], f"{where}.{part}"
    if not isinstance(node, str):
        raise ReportError(str(path), where, f"{_show(node)} is not allowed; give the region's name")
    return manifest


def read_folder(folder: Path) -> dict:
    """Everything the report shows, read from a comparison folder and checked; ReportError otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise ReportError(str(folder), "", f"not a comparison folder ({what}); make one with `caseload compare`")
    missing = [n for n in NEEDED if not (folder / n).exists()]
    if missing:
        raise ReportError(
            str(folder), "", f"not a comparison folder (missing {', '.join(missing)}); make one with `caseload compare`"
        )
    manifest = read_manifest(folder / "manifest.json")
    names = manifest["scenarios"]
    parameters = read_table(
        folder / "parameters.csv", {"parameter": "text", **dict.fromkeys(names, "value")}, rows=False
    )
    return {
        "manifest": manifest,
        "comparison": read_table(folder / "comparison.csv", COMPARISON_COLUMNS),
        "break_even": read_table(folder / "break_even.csv", BREAK_EVEN_COLUMNS),
        "parameters": parameters,
        "yearly": {n: read_table(folder / "scenarios" / n / "yearly.csv", YEARLY_COLUMNS) for n in names},
        # written by comparisons since the levers came apart; an older folder has none
        "attribution": read_table(folder / "attribution.csv", ATTRIBUTION_COLUMNS, rows=False)
        if (folder / "attribution.csv").exists()
        else None,
        # written by comparisons with parameter draws
        **{
            key: read_table(folder / name, columns, rows=False) if (folder / name).exists() else None
            for key, name, columns in (
                ("bands", "bands.csv", BAND_COLUMNS),
                ("variance", "variance.csv", VARIANCE_COLUMNS),
                ("break_even_draws", "break_even_draws.csv", BREAK_EVEN_DRAWS_COLUMNS),
            )
        },
    }


def paths_figures(data: dict):
    """Each scenario's December caseload, mean and 90% band over replications, with the observed years."""
    manifest = data["manifest"]
    fig, ax = subplots(PANEL)
    for name, yearly in data["yearly"].items():
        s = summarise(yearly, ["caseload_december"])
        (line,) = ax.plot(s["year"], s["caseload_december_mean"], marker="o", ms=3, label=name)
        ax.fill_between(
            s["year"], s["caseload_december_low"], s["caseload_december_high"], alpha=0.18, color=line.get_color()
        )
    region = manifest["parameters"][manifest["reference"]]["region"]["name"]
    observed = data.get("observed")
    if observed is not None and len(observed):
        ax.plot(observed.index, observed.to_numpy(), "ks", ms=6, label=f"observed ({region})")
    ax.axvspan(manifest["from_year"] - 0.5, manifest["until_year"] + 0.5, color="#f1f4f8", zorder=-1)
    ax.set_xlabel("year")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("clients on benefit, December")
    ax.set_title("Caseload: mean and 90% band\n(shaded: comparison horizon)", fontsize=11)
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    names = ", ".join(data["yearly"])
    seen = f", with the observed caseloads of {region}" if observed is not None and len(observed) else ""
    alt = (
        f"December caseload by year of {names}: mean and 90% band over replications{seen}; "
        f"the comparison horizon {manifest['from_year']}-{manifest['until_year']} shaded"
    )
    return [(fig, alt)]


def differences_figures(data: dict):
    """Each scenario's difference from the reference per year, in the December caseload and the
    cumulative net saving, with 95% intervals."""
    comparison, manifest = data["comparison"], data["manifest"]
    yearly = comparison[comparison["year"] != "total"].copy()
    yearly["year"] = yearly["year"].astype(int)
    ref, others = manifest["reference"], ", ".join(manifest["scenarios"][1:])
    panels = [
        ("caseload_december", 1.0, "December caseload difference (95% CI)", "clients"),
        ("cumulative_net_saving_eur", 1e6, "Cumulative net saving vs reference (95% CI)", "EUR million"),
    ]
    images = []
    for metric, unit, title, label in panels:
        fig, ax = subplots(PANEL)
        for name in manifest["scenarios"][1:]:
            part = yearly[(yearly["metric"] == metric) & (yearly["scenario"] == name)]
            (line,) = ax.plot(part["year"], part["diff_mean"] / unit, marker="o", ms=3, label=f"{name} − {ref}")
            ax.fill_between(
                part["year"], part["diff_low"] / unit, part["diff_high"] / unit, alpha=0.25, color=line.get_color()
            )
        ax.axhline(0, color="black", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.set_xlabel("year")
        ax.legend(fontsize=8)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(label)
        what = "December caseload" if metric == "caseload_december" else "cumulative net saving (EUR million)"
        images.append(
            (
                fig,
                f"{what} of {others} minus {ref} by year, with its 95% confidence interval; the line at 0 is no difference",
            )
        )
    return images


def composition_figures(data: dict):
    """The December stock by category and by years on assistance, per scenario, in the first,
    2025 and last year of the horizon."""
    manifest = data["manifest"]
    first, last = manifest["from_year"], manifest["until_year"]
    years = sorted({first, min(max(first, 2025), last), last})
    groups = [
        ("category", [f"stock_{c}" for c in CATEGORIES], [c.upper() for c in CATEGORIES]),
        (
            "years on assistance",
            ["stock_duration_lt1", "stock_duration_1_2", "stock_duration_2_4", "stock_duration_4plus"],
            ["<1", "1-2", "2-4", "4+ (granite)"],
        ),
    ]
    images = []
    for title, columns, labels in groups:
        fig, ax = subplots(PANEL)
        bars, names = [], []
        for name, yearly in data["yearly"].items():
            means = yearly[yearly["year"].isin(years)].groupby("year")[columns].mean()
            for year in years:
                bars.append(means.loc[year].to_numpy() if year in means.index else np.zeros(len(columns)))
                names.append(f"{name}\n{year}")
        values = np.array(bars)
        bottom = np.zeros(len(values))
        colours = matplotlib.colormaps.get_cmap("tab10" if len(columns) > 4 else "viridis")(
            np.linspace(0, 1, len(columns)) if len(columns) <= 4 else np.arange(len(columns))
        )
        for j, label in enumerate(labels):
            ax.bar(range(len(values)), values[:, j], bottom=bottom, label=label, color=colours[j])
            bottom += values[:, j]
        ax.set_xticks(range(len(values)), names, fontsize=8)
        ax.set_title(f"December stock by {title} (mean)", fontsize=11)
        ax.legend(fontsize=8, ncol=2)
        alt = (
            f"Stacked bars of the mean December stock by {title} ({', '.join(labels)}) for each scenario in "
            f"{', '.join(str(y) for y in years)}"
        )
        images.append((fig, alt))
    return images


def _fan(ax, band: pd.DataFrame, scale: float, colour, label: str) -> None:
    """50/80/95% bands of total uncertainty and their median."""
    years = band["year"].to_numpy()
    for (low, high), alpha in ((("p2_5", "p97_5"), 0.12), (("p10", "p90"), 0.2), (("p25", "p75"), 0.3)):
        ax.fill_between(years, band[low] / scale, band[high] / scale, color=colour, alpha=alpha, lw=0)
    ax.plot(years, band["p50"] / scale, color=colour, lw=1.5, label=label)


def fan_figures(data: dict):
    """Fan charts: the December caseload paths, and each scenario's difference from the reference in
    the December caseload and the cumulative net saving, total uncertainty (parameters and
    simulation) in 50/80/95% bands with their median, the simulation-noise interval as thin dashed
    lines. None in a folder without parameter draws."""
    bands, comparison, manifest = data.get("bands"), data["comparison"], data["manifest"]
    if bands is None:
        return []
    ref = manifest["reference"]
    colours = matplotlib.colormaps.get_cmap("tab10")
    yearly = comparison[comparison["year"] != "total"].copy()
    yearly["year"] = yearly["year"].astype(int)
    images = []
    fig, ax = subplots(PANEL)
    for i, name in enumerate(manifest["scenarios"]):
        part = bands[(bands["metric"] == "caseload_december") & (bands["quantity"] == "level")]
        _fan(ax, part[part["scenario"] == name], 1.0, colours(i), name)
    _fan_axes(ax, "December caseload (50/80/95% of draws x replications)", "clients")
    images.append(
        (
            fig,
            "December caseload of each scenario by year: median and 50, 80 and 95% bands over "
            "parameter draws x replications",
        )
    )
    for metric, scale, title, unit in (
        ("caseload_december", 1.0, "December caseload difference", "clients"),
        ("cumulative_net_saving_eur", 1e6, "Cumulative net saving vs reference", "EUR million"),
    ):
        fig, ax = subplots(PANEL)
        for i, name in enumerate(manifest["scenarios"][1:], start=1):
            part = bands[
                (bands["metric"] == metric) & (bands["quantity"] == "difference") & (bands["scenario"] == name)
            ]
            _fan(ax, part, scale, colours(i), f"{name} − {ref}")
            noise = yearly[(yearly["metric"] == metric) & (yearly["scenario"] == name)]
            for column in ("diff_low", "diff_high"):
                ax.plot(noise["year"], noise[column] / scale, color="black", lw=0.7, ls="--")
        ax.axhline(0, color="black", lw=0.6)
        _fan_axes(ax, f"{title} (dashed: noise 95%)", unit)
        images.append(
            (
                fig,
                f"{title.lower()} of {', '.join(manifest['scenarios'][1:])} minus {ref} by year: median "
                "and 50, 80 and 95% bands of the total uncertainty, the simulation-noise interval dashed",
            )
        )
    return images


def _fan_axes(ax, title: str, unit: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    ax.set_xlabel("year")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _uncertainty(data: dict) -> str:
    """The section on parameter uncertainty: what the two intervals are, fan charts, the headline with
    both intervals, when the draws break even, and what drives the spread."""
    m, c = data["manifest"], data["comparison"]
    if data.get("bands") is None or "total_low" not in c:
        return (
            "<p class='note'>Simulation noise only: this comparison ran at the fitted parameters alone "
            "(<code>--parameter-draws 0</code>), so its intervals leave out how uncertain the calibration is. "
            "Run it with parameter draws for total intervals.</p>"
        )
    drawn = m.get("parameter_draws", {})
    ref = m["reference"]
    parts = [
        f"<p class='lead'>Two intervals for every difference. <b>Simulation noise</b>: how sure the mean at the fitted "
        f"parameters is (95% paired-t, its variance pooled over the draws' replications). <b>Total</b> (parameters and "
        f"simulation): 95% of the paired differences over {drawn.get('used', '?')} draws of the fitted parameters from "
        f"the calibration's bootstrap x {drawn.get('replications_per_draw', '?')} replications each "
        f"(<code>{html.escape(str(drawn.get('file', '')))}</code>). Quote the total interval: the noise interval "
        "says only that the simulation has run long enough. What neither holds: the model's structure, the fixed "
        "assumptions, the drivers after the last observed year.</p>",
        _shown(fan_figures(data)),
        "<p class='note'>Bands: 50, 80 and 95% of draws x replications; line: their median; dashed: the "
        "simulation-noise interval of the mean.</p>",
    ]
    total = c[(c["year"] == "total") & (c["scenario"] != ref)]
    rows = []
    for metric in ["cumulative_net_saving_eur", *HEADLINE]:
        for _, row in total[total["metric"] == metric].iterrows():
            label = f"<td>{html.escape(LABELS.get(metric, metric))}</td><td>{html.escape(row['scenario'])}</td>"
            rows.append(_comparison_row(row, label, ["diff_mean", "diff_low", "diff_high", "total_low", "total_high"]))
    parts.append(
        _table(
            ["metric", "scenario", "difference", "noise 95% low", "noise 95% high", "total 95% low", "total 95% high"],
            rows,
        )
    )
    shares = data.get("break_even_draws")
    if shares is not None and len(shares):
        parts.append("<h3>Break-even over the draws</h3>")
        rows = [
            f"<tr><td>{html.escape(r.scenario)}</td><td>{int(r.year)}</td><td>{r.broken_even_share:.0%}</td>"
            f"<td>{r.broken_even_share_undiscounted:.0%}</td></tr>"
            for r in shares.itertuples()
        ]
        parts.append(
            "<p class='note'>Share of the parameter draws whose cumulative net saving (mean over the draw's "
            "replications) is positive for good by the end of each year.</p>"
            + _table(["scenario", "year", "broken even (discounted)", "broken even (undiscounted)"], rows)
        )
    variance = data.get("variance")
    if variance is not None and len(variance):
        parts.append("<h3>What drives the spread</h3>")
        parts.append(
            "<p class='note'>Share of each headline's variance over draws x replications due to each fitted "
            "parameter (first-order Sobol' index on the draws), to the replications' own noise, and to the rest "
            "(interactions, and what correlated parameters move together). Parameters with a share under 2% are "
            "left out.</p>"
        )
        for sentence in spread_sentences(variance):
            parts.append(f"<p>{html.escape(sentence)}</p>")
        rows = []
        for r in variance.itertuples():
            if r.share == r.share and r.share >= 0.02:
                weak = " (weakly identified)" if str(r.weak).lower() == "true" else ""
                rows.append(
                    f"<tr><td>{html.escape(r.scenario)}</td><td>{html.escape(LABELS.get(r.metric, r.metric))}</td>"
                    f"<td>{html.escape(r.source)}{weak}</td><td>{r.share:.0%}</td></tr>"
                )
        parts.append(_table(["scenario", "headline", "source", "share of variance"], rows))
    return "\n".join(parts)


def spread_sentences(variance: pd.DataFrame, least: float = 0.1) -> list[str]:
    """A plain sentence for each headline whose spread rests for `least` or more on a weakly
    identified parameter."""
    out = []
    for (scenario, metric), part in variance.groupby(["scenario", "metric"], sort=False):
        weak = part[(part["weak"].astype(str).str.lower() == "true") & (part["share"] >= least)]
        weak = weak.sort_values("share", ascending=False)
        if weak.empty:
            continue
        named = ", ".join(f"{r.source} ({r.share:.0%})" for r in weak.itertuples())
        out.append(
            f"{scenario}, {LABELS.get(metric, metric)}: the spread rests for {weak['share'].sum():.0%} on "
            f"parameters the calibration identifies only weakly: {named}. The data say little about them; "
            "their priors carry the interval."
        )
    return out


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    # a wide table scrolls in its own box, so a phone's page never does
    return f"<div class='scroll'><table><tr>{head}</tr>{''.join(rows)}</table></div>"


def _comparison_row(row: pd.Series, label: str, columns: list[str]) -> str:
    key = f"year={row['year']}|metric={row['metric']}|scenario={row['scenario']}"
    cells = "".join(_cell(row[c], row["metric"], "comparison.csv", key, c) for c in columns)
    return f"<tr>{label}{cells}</tr>"


def _headline(data: dict) -> str:
    c = data["comparison"]
    ref = data["manifest"]["reference"]
    total = c[(c["year"] == "total") & (c["scenario"] != ref)]
    rows = []
    for metric in HEADLINE:
        for _, row in total[total["metric"] == metric].iterrows():
            label = f"<td>{html.escape(LABELS[metric])}</td><td>{html.escape(row['scenario'])}</td>"
            rows.append(_comparison_row(row, label, ["mean", "reference_mean", "diff_mean", "diff_low", "diff_high"]))
    return _table(
        ["metric", "scenario", "scenario mean", f"reference ({ref}) mean", "difference", "95% low", "95% high"], rows
    )


def _yearly_differences(data: dict, metric: str) -> str:
    c = data["comparison"]
    ref = data["manifest"]["reference"]
    part = c[(c["metric"] == metric) & (c["scenario"] != ref)]
    rows = []
    for _, row in part.iterrows():
        label = f"<td>{row['year']}</td><td>{html.escape(row['scenario'])}</td>"
        rows.append(_comparison_row(row, label, ["mean", "reference_mean", "diff_mean", "diff_low", "diff_high"]))
    return _table(
        ["year", "scenario", "scenario mean", f"reference ({ref}) mean", "difference", "95% low", "95% high"], rows
    )


def _budget(data: dict) -> str:
    c = data["comparison"]
    metrics = [m for m in BUDGET if m in set(c["metric"])]
    rows = []
    for (year, scenario), block in c[c["metric"].isin(metrics)].groupby(["year", "scenario"], sort=False):
        cells = [f"<td>{year}</td><td>{html.escape(scenario)}</td>"]
        for metric in metrics:
            found = block[block["metric"] == metric]
            columns = (
                ["mean", "diff_low", "diff_high"]
                if metric in ("net_saving_eur", "cumulative_net_saving_eur")
                else ["mean"]
            )
            if found.empty:  # a metric some year or scenario lacks: a dash, not a shifted row
                cells += ['<td class="n">–</td>'] * len(columns)
                continue
            key = f"year={year}|metric={metric}|scenario={scenario}"
            cells += [_cell(found.iloc[0][column], metric, "comparison.csv", key, column) for column in columns]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = ["year", "scenario"]
    for metric in metrics:
        header.append(LABELS[metric])
        if metric in ("net_saving_eur", "cumulative_net_saving_eur"):
            header += ["95% low", "95% high"]
    return _table(header, rows)


def _break_even(data: dict) -> str:
    """Break-even and the cumulative saving, discounted and undiscounted side by side, and the
    cost of an extra exit to work."""
    rows = []
    plain = all(c in data["break_even"].columns for c in UNDISCOUNTED_COLUMNS)
    for _, row in data["break_even"].iterrows():
        key = f"scenario={row['scenario']}"
        cells = [f"<td>{html.escape(row['scenario'])}</td><td>{html.escape(row['reference'])}</td>"]
        for col in ["break_even_year", "break_even_low", "break_even_high"]:
            text = "not within horizon" if pd.isna(row[col]) else str(int(row[col]))
            cells.append(
                f'<td class="n" data-file="break_even.csv" data-key="{html.escape(key)}" data-col="{col}">{text}</td>'
            )
        cells += [
            _cell(row[c], "x_eur", "break_even.csv", key, c)
            for c in ["cumulative_saving_mean", "cumulative_saving_low", "cumulative_saving_high"]
        ]
        if plain:
            year = row["break_even_year_undiscounted"]
            cells.append(
                f'<td class="n" data-file="break_even.csv" data-key="{html.escape(key)}" '
                f'data-col="break_even_year_undiscounted">{"not within horizon" if pd.isna(year) else int(year)}</td>'
            )
            cells += [_cell(row[c], "x_eur", "break_even.csv", key, c) for c in UNDISCOUNTED_COLUMNS[1:]]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    rate = data["manifest"].get("discount_rate", 0.0) or 0.0
    header = [
        "scenario",
        "reference",
        "break-even year" + (f" (discounted at {rate:.1%})" if rate else ""),
        "earliest (95%)",
        "latest (95%)",
        "cumulative saving, EUR" + (" (discounted)" if rate else ""),
        "95% low",
        "95% high",
    ]
    if plain:
        header += [
            "break-even, undiscounted",
            "cumulative saving, undiscounted, EUR",
            "95% low",
            "95% high",
            "extra exits to work",
            "extra total spending per extra exit, EUR",
        ]
    return _table(header, rows)


_POLICY_PATHS = ("policies.", "policy_schedule.")


def _parameters(data: dict) -> str:
    """The resolved parameters that differ, side by side. The policies and their schedule are
    said in plain words under "What each scenario assumes"; their paths are folded away."""
    p = data["parameters"]
    names = data["manifest"]["scenarios"]

    def rows(frame: pd.DataFrame) -> list[str]:
        out = []
        for _, row in frame.iterrows():
            key = html.escape(row["parameter"])
            cells = "".join(
                f'<td data-file="parameters.csv" data-key="parameter={key}" data-col="{html.escape(n)}">'
                f"{html.escape(str(row[n]))}</td>"
                for n in names
            )
            out.append(f"<tr><td>{key}</td>{cells}</tr>")
        return out

    policy = p["parameter"].str.startswith(_POLICY_PATHS)
    other, policies = rows(p[~policy]), rows(p[policy])
    parts = [
        _table(["parameter", *names], other)
        if other
        else "<p>Outside their policies, the scenarios have the same parameters.</p>"
    ]
    if policies:
        parts.append(
            "<details><summary>The policies' settings and schedule as parameter paths (in words above, under "
            f"What each scenario assumes; {len(policies)} rows of parameters.csv)</summary>"
            + _table(["parameter", *names], policies)
            + "</details>"
        )
    return "\n".join(parts)


def _manifest(data: dict) -> str:
    m = data["manifest"]
    keys = [
        "seed",
        "replications",
        "replications_used",
        "from_year",
        "until_year",
        "discount_rate",
        "version",
        "run_seconds",
        "created",
    ]
    rows = [
        f'<tr><td>{k}</td><td data-file="manifest.json" data-col="{k}">{html.escape(str(m.get(k, "")))}</td></tr>'
        for k in keys
    ]
    rows.append(f"<tr><td>scenarios</td><td>{html.escape(', '.join(m['scenarios']))}</td></tr>")
    rows.append(f"<tr><td>failed replications</td><td>{len(m.get('replications_failed', []))}</td></tr>")
    return _table(["item", "value"], rows)


def _assumptions(data: dict) -> str:
    """What each scenario assumes, period by period, in plain words (sim.policies.describe)."""
    from pydantic import ValidationError

    from sim.parameters import Scenario
    from sim.policies import describe

    items = []
    for name in data["manifest"]["scenarios"]:
        try:
            lines = describe(Scenario.model_validate(data["manifest"]["parameters"][name]))
        except (ValidationError, KeyError, TypeError):
            lines = ["(not described: the folder was written by an older version; see the parameters below)"]
        inner = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        items.append(f"<li><b>{html.escape(name)}</b><ul>{inner}</ul></li>")
    return f"<ul>{''.join(items)}</ul>"


_SPLIT = [
    ("caseload_december", "last", "December caseload, clients", 1.0),
    ("net_saving_eur", "total", "net saving over the horizon, EUR million", 1e6),
]


def waterfall_figures(data: dict, scenario: str):
    """From the reference's value, one bar per factor's share, to the scenario's value: for the
    last year's December caseload and the horizon's net saving (which starts at no saving)."""
    a, c, m = data["attribution"], data["comparison"], data["manifest"]
    images = []
    for metric, which, title, unit in _SPLIT:
        fig, ax = subplots(PANEL)
        year = str(m["until_year"]) if which == "last" else "total"
        rows = a[(a["scenario"] == scenario) & (a["metric"] == metric) & (a["year"] == year)]
        base = c[(c["scenario"] == scenario) & (c["metric"] == metric) & (c["year"] == year)]
        if metric == "net_saving_eur" or base.empty:
            start = (f"{m['reference']} (no saving)" if metric == "net_saving_eur" else m["reference"], 0.0)
        else:
            start = (m["reference"], float(base.iloc[0]["reference_mean"]))
        steps = [
            (LEVER_WORDS.get(r.lever, r.lever), r.share_mean, r.share_low, r.share_high) for r in rows.itertuples()
        ]
        waterfall(ax, start, steps, scenario, unit)
        when = f"December {year}" if which == "last" else f"{m['from_year']}-{m['until_year']}"
        ax.set_title(f"{title}\n({when})", fontsize=10)
        factors = ", ".join(name for name, *_ in steps) or "no factor"
        images.append(
            (
                fig,
                f"Waterfall of the {title} ({when}) from {start[0]} to {scenario}: the share of each of {factors}, "
                "with its 95% interval",
            )
        )
    return images


def _attribution(data: dict) -> str:
    """The split of each difference over what the scenarios differ in: waterfalls and the table."""
    a, m = data["attribution"], data["manifest"]
    if a is None:
        return "<p>This folder has no attribution.csv (written without attribution, or by an older version).</p>"
    said = {
        c.get("scenario"): c.get("note") or c.get("grouping") for c in m.get("attribution", {}).get("comparisons", [])
    }
    parts = [
        "<p class='note'>Each scenario's difference from the reference split over the levers of the policies in "
        "force and the other parts of the scenario in which they differ. Every combination of them was run: the "
        "reference with those taken from the scenario, on the same paired replications. A factor's share is its "
        "Shapley value, its contribution averaged over the orders in which the factors can be added, so an "
        "interaction is split evenly and the shares add up to the difference in every replication; 95% paired-t "
        "intervals over replications. Read a waterfall from the reference's bar on the left: each factor adds "
        "(orange) or takes off (blue) its share, with its interval at its end, and the last bar is the scenario's "
        "value.</p>",
    ]
    for scenario in m["scenarios"][1:]:
        note = said.get(scenario)
        parts.append(f"<h3>{html.escape(scenario)} against {html.escape(m['reference'])}</h3>")
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}.</p>")
        if not (a["scenario"] == scenario).any():
            if not note:
                parts.append("<p class='note'>Not split.</p>")
            continue
        parts.append(_shown(waterfall_figures(data, scenario)))
        rows = []
        part = a[(a["scenario"] == scenario) & a["year"].isin([str(m["until_year"]), "total"])]
        drawn = "total_low" in a
        columns = ("share_mean", "share_low", "share_high", *(("total_low", "total_high") if drawn else ()))
        for row in part.itertuples():
            key = f"year={row.year}|metric={row.metric}|scenario={scenario}|lever={row.lever}"
            cells = "".join(_cell(getattr(row, col), row.metric, "attribution.csv", key, col) for col in columns)
            label = LABELS.get(row.metric, row.metric)
            factor = LEVER_WORDS.get(row.lever, row.lever)
            rows.append(
                f"<tr><td>{row.year}</td><td>{html.escape(label)}</td><td>{html.escape(factor)}</td>{cells}</tr>"
            )
        header = ["year", "metric", "lever or part", "share"]
        header += (
            ["noise 95% low", "noise 95% high", "total 95% low", "total 95% high"] if drawn else ["95% low", "95% high"]
        )
        parts.append(_table(header, rows))
    return "\n".join(parts)


Observed = Callable[[str], "pd.Series | None"]
"""The observed December caseload by year of a region, or None: passed in, the report reads no data."""


def _with_observed(data: dict, observed: Observed | None) -> dict:
    manifest = data["manifest"]
    region = manifest["parameters"][manifest["reference"]]["region"]["name"]
    return {**data, "observed": observed(region) if observed is not None else None}


def render(folder: Path, observed: Observed | None = None) -> str:
    """The report page for a comparison folder, as HTML text."""
    return page(_with_observed(read_folder(folder), observed))


def page(data: dict) -> str:
    """The report page for what `read_folder` read, as HTML text."""
    m = data["manifest"]
    ref, others = m["reference"], m["scenarios"][1:]
    rate = m.get("discount_rate", 0.0)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>caseload: {html.escape(' vs '.join(m['scenarios']))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(', '.join(others))} against {html.escape(ref)}</h1>",
        f"<p class='lead'>Horizon {m['from_year']}-{m['until_year']}; {m['replications_used']} paired replications "
        f"(seed {m['seed']}): replication i of every scenario sees the same clients with the same personal draws, so the "
        "differences come from the policy. Intervals of differences are 95% paired-t confidence intervals of the mean; "
        f"bands around paths are 90% of replications. Savings are discounted at {rate:.1%} a year to {m['from_year']}.</p>",
        "<h2>What each scenario assumes</h2>",
        _assumptions(data),
        "<h2>How sure: parameters and simulation</h2>",
        _uncertainty(data),
        "<h2>Headline: totals over the horizon</h2>",
        "<p class='note'>Flows and euros are summed over the horizon; stocks, shares, caseloads and waiting times are means "
        "of the yearly values. Differences are this scenario minus the reference; net saving = the reference's total "
        "spending (benefits, trajectories and staff) minus this scenario's.</p>",
        _headline(data),
        "<h2>What drives the difference</h2>",
        _attribution(data),
        "<h2>Caseload paths</h2>",
        _shown(paths_figures(data)),
        "<h2>Differences per year</h2>",
        _shown(differences_figures(data)),
        "<h3>December caseload</h3>",
        _yearly_differences(data, "caseload_december"),
        "<h3>Exits to work</h3>",
        _yearly_differences(data, "exits_work"),
        "<h2>Composition of the stock</h2>",
        _shown(composition_figures(data)),
        "<h2>Budget (BUIG, participation budget and staff), EUR</h2>",
        "<p class='note'>Benefit spending = full-benefit client-months (part-time workers at their partial share, owed "
        "from the day of notification) × the year's benefit / 12, on the BUIG. Trajectory spending = trajectories started "
        "× price, on the participation budget. Staff = the work consultants' FTE-years, the income consultants' "
        "contacts with the unserved, the extra guidance and aftercare, at the prices in docs/domain.md, on the "
        "municipality's own budget. Not in the euros: the intake chain's desks, wage-cost subsidies, the participation "
        "activities themselves, anything outside the municipality. The BUIG balance (grant plus any safety net minus "
        "benefits) shows only for years with a grant in the scenario (<code>money.state_grant_eur_per_year</code>).</p>",
        _budget(data),
        "<h3>Break-even</h3>",
        "<p class='note'>The first year from which the cumulative net saving on total spending (every budget) is "
        "positive for good; its range comes from the 95% bounds of the cumulative saving.</p>",
        _break_even(data),
        "<h2>Other parameters that differ</h2>",
        _parameters(data),
        "<h2>Run</h2>",
        _manifest(data),
        "</body></html>",
    ]
    return "\n".join(parts)


SECTIONS = {
    "assumptions": _assumptions,
    "uncertainty": _uncertainty,
    "headline": _headline,
    "attribution": _attribution,
    "paths": lambda data: _shown(paths_figures(data)),
    "differences": lambda data: _shown(differences_figures(data)),
    "budget": _budget,
    "break_even": _break_even,
}
"""The report's sections a page of another tool shows on its own (`caseload explore`), by name."""

PAGE_CSS = _CSS
"""The report's style sheet, for pages that show its sections."""


def section_html(data: dict, name: str) -> str:
    """One of the report's SECTIONS for what `read_folder` read (or a comparison in memory), as HTML."""
    return SECTIONS[name](data)


def summary_html(data: dict) -> str:
    """The comparison in brief, for a notebook: what was compared, the headline totals and the
    break-even, as HTML (the page's own tables)."""
    m = data["manifest"]
    return "\n".join(
        [
            f"<h3>{html.escape(', '.join(m['scenarios'][1:]))} against {html.escape(m['reference'])}</h3>",
            f"<p>Horizon {m['from_year']}-{m['until_year']}; {m['replications_used']} paired replications "
            f"(seed {m['seed']}); differences are the scenario minus the reference, with 95% intervals.</p>",
            _headline(data),
            "<h4>Break-even</h4>",
            _break_even(data),
        ]
    )


def write_outputs(
    folder: Path, report: str | None = "report.html", workbook: str | None = None, observed: Observed | None = None
) -> list[Path]:
    """Write the report page and/or the workbook into a comparison folder; returns their paths.

    Both are made from one checked reading of the folder before either is written, and each is
    written whole or not at all: on any problem (ReportError) the folder is as it was. `observed`
    gives the region's observed December caseloads (None: none), drawn beside the paths.
    """
    folder = Path(folder)
    data = _with_observed(read_folder(folder), observed)
    contents = {}
    if report is not None:
        contents[report] = page(data).encode("utf-8")
    if workbook is not None:
        contents[workbook] = workbook_bytes(data)
    return _place(folder, contents)


def write_report(folder: Path, name: str = "report.html", observed: Observed | None = None) -> Path:
    """Write the report page into the comparison folder; returns its path."""
    return write_outputs(folder, report=name, observed=observed)[0]


def write_workbook(folder: Path, name: str = "comparison.xlsx") -> Path:
    """The workbook for a council memo (see workbook_bytes) in the comparison folder; returns its path."""
    return write_outputs(folder, report=None, workbook=name)[0]


def _place(folder: Path, contents: dict[str, bytes]) -> list[Path]:
    """Write each file to a temporary file beside it, then rename them into place; on failure
    remove the temporaries, so no reader ever sees half a file."""
    for name in contents:
        target = folder / name
        if target.exists() and not target.is_file():
            raise ReportError(str(target), "", "exists and is not a file; remove it to write the report")
    temporary: dict[Path, Path] = {}
    placed: list[Path] = []
    target = folder
    try:
        for name, content in contents.items():
            target = folder / name
            # pid and random part: two reports written into one folder at once do not share a file
            partial = folder / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.partial"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            temporary[target] = partial
            with open(fd, "wb") as fh:
                fh.write(content)
        for target, partial in temporary.items():
            os.replace(partial, target)
            placed.append(target)
    except OSError as exc:
        done = f"; only {', '.join(p.name for p in placed)} was written" if placed else "; the folder is as it was"
        raise ReportError(str(target), "", f"cannot write ({exc.strerror or exc}){done}") from None
    finally:
        for partial in temporary.values():
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    return placed


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
"""Text starting with one of these a spreadsheet may take for a formula (OWASP, CSV injection)."""
_NOT_IN_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
MAX_CELL_CHARACTERS = 32_767
"""Excel's limit on a cell's text; a longer text makes Excel call the file damaged."""


def _storable(number: float) -> bool:
    # an xlsx number cannot be infinite, and openpyxl writes 16 significant digits ("%.16g"),
    # which round the largest doubles up to infinity: those stay text, every digit kept
    return math.isfinite(number) and math.isfinite(float(f"{number:.16g}"))


def _number_of(value, numbers_in_text: bool):
    """The number a cell should hold, or None for text: numbers as they are, and with
    `numbers_in_text` text that is a plain decimal number (parameters.csv holds only text)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = value.item() if isinstance(value, np.generic) else value
        return number if _storable(number) else None
    if numbers_in_text and isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value):
        if _INTEGER.fullmatch(value):
            number = int(value)
            return number if abs(number) < 2**53 else None  # beyond a double's whole numbers: keep every digit as text
        number = float(value)
        return number if _storable(number) else None
    return None


def _put(sheet, row: int, column: int, value, numbers_in_text: bool = False):
    """One workbook cell: a number as a number, anything else as text that Excel never evaluates."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return sheet.cell(row, column)
    number = _number_of(value, numbers_in_text)
    if number is not None:
        return sheet.cell(row, column, number)
    # what XML cannot hold would make the file unreadable; XML readers turn CR into LF anyway
    text = _NOT_IN_XML.sub("\ufffd", str(value).replace("\r\n", "\n").replace("\r", "\n"))[:MAX_CELL_CHARACTERS]
    cell = sheet.cell(row, column)
    if text:
        cell.value = text
        cell.data_type = "s"  # openpyxl makes text starting with "=" a formula
        if text.startswith(FORMULA_START):
            cell.quotePrefix = True  # and Excel would make it one when the cell is edited
    return cell


EURO_FORMAT = "€ #,##0;[Red]-€ #,##0"
"""Number format of every euro cell: whole euros, thousands separated, negatives red (a memo shows no cents)."""
SHARE_FORMAT = "0.0%"
YEAR_FORMAT = "0"
BUDGET_ITEMS = {
    "benefit_spending_eur": "benefits (BUIG)",
    "trajectory_spending_eur": "trajectories (participation budget)",
    "staff_spending_eur": "staff",
    "total_spending_eur": "total",
    "buig_balance_eur": "BUIG balance",
}
"""The budget sheet's spending items, by metric, in the words of its second header row."""
SAVING_ITEMS = {
    "net_saving_eur": "net saving vs {reference}",
    "cumulative_net_saving_eur": "cumulative net saving vs {reference}",
}
"""The budget sheet's saving items, by metric; each is followed by its 95% low and 95% high."""
SAVING_COLUMNS = {"diff_mean": "", "diff_low": "95% low", "diff_high": "95% high"}
"""comparison.csv's column behind each saving cell, and its words (the mean's words are the item's)."""
MAX_BUDGET_YEARS = 1000
"""Most year rows on the budget sheet (a horizon from the model's years is far shorter)."""
HORIZON_TOTAL = "horizon total"
"""Column A of the budget sheet's totals row (comparison.csv's year 'total')."""
NOT_IN_THE_EUROS = (
    "Not in the euros: the intake chain's desks, wage-cost subsidies, the participation activities themselves, "
    "anything outside the municipality."
)
_UNITS = [  # (end of a parameter's name, its unit), first match wins
    ("_eur_per_full_year", "EUR per client-year"),
    ("_eur_per_fte_year", "EUR per FTE-year"),
    ("_eur_per_contact", "EUR per contact"),
    ("_eur_per_placement", "EUR per placement"),
    ("_eur_per_year", "EUR a year"),
    ("price_eur", "EUR per trajectory"),
    ("_per_year", "share a year"),
    ("_share", "share"),
    ("_year", "year"),
    ("_weeks", "weeks"),
]


def _unit(name: str, value) -> str:
    """A parameter's unit, read from its name (and yes/no for a switch), so the memo's reader need not guess."""
    if isinstance(value, bool):
        return "yes/no"
    base = name.rsplit(".", 1)[0] if name.rsplit(".", 1)[-1].isdigit() else name  # a grant's year is not its name
    return next((unit for end, unit in _UNITS if base.endswith(end)), "")


def _value_format(unit: str) -> str | None:
    """The number format that shows a value in its unit: euros whole, shares as percentages, years plain."""
    if unit.startswith("EUR"):
        return EURO_FORMAT
    if unit.startswith("share"):
        return SHARE_FORMAT
    if unit == "year":
        return YEAR_FORMAT
    return None


def _widths(sheet, widths: dict[int, float], default: float | None = None) -> None:
    """Column widths in characters: the given ones, and `default` for every other column in use."""
    from openpyxl.utils import get_column_letter

    for j in range(1, sheet.max_column + 1):
        width = widths.get(j, default)
        if width is not None:
            sheet.column_dimensions[get_column_letter(j)].width = width


def _header(sheet, row: int, values: list, bold) -> None:
    """One bold header row from column 1."""
    for j, value in enumerate(values, 1):
        _put(sheet, row, j, value).font = bold


def _year_of(value):
    """A comparison.csv year as a number, 'total' (or anything else) as it is."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _budget_sheet(book, data: dict, bold) -> None:
    """The budget sheet, wide, to paste into a memo: one row a year (the year a number in column A),
    one blank row, then a row 'horizon total' (comparison.csv's year 'total': sums over the years,
    the cumulative saving as at the last year). Row 1 names the scenario over its columns (merged),
    row 2 the item in words. Each scenario has its spending on every budget in comparison.csv
    (mean over replications); each scenario other than the reference then has its net saving and
    cumulative net saving against the reference (diff_mean), each with its 95% interval beside it.
    Every value cell is the number in comparison.csv, in euros; a cell the file leaves empty stays empty."""
    from openpyxl.styles import Alignment

    manifest, c = data["manifest"], data["comparison"]
    names, reference = manifest["scenarios"], manifest["scenarios"][0]
    lookup = {
        (str(r.year), r.metric, r.scenario): r
        for r in c[c["metric"].isin([*BUDGET_ITEMS, *SAVING_ITEMS])].itertuples(index=False)
    }
    present = set(c["metric"])
    # (row 1, row 2, metric, scenario, comparison.csv column) for each column from B
    columns: list[tuple[str, str, str, str, str]] = []
    for name in names:
        title = f"{name} (reference)" if name == reference else name
        columns += [(title, words, m, name, "mean") for m, words in BUDGET_ITEMS.items() if m in present]
    for name in names[1:]:
        for m, words in SAVING_ITEMS.items():
            if m in present:
                columns += [
                    (f"{name}: saving vs {reference}", col_words or words.format(reference=reference), m, name, col)
                    for col, col_words in SAVING_COLUMNS.items()
                ]
    sheet = book.create_sheet("budget")
    _put(sheet, 1, 1, "year").font = bold
    sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=1)
    for j, (title, words, *_) in enumerate(columns, 2):
        _put(sheet, 2, j, words).font = bold
        if j == 2 or columns[j - 3][0] != title:
            _put(sheet, 1, j, title).font = bold
            span = sum(1 for other in columns if other[0] == title)
            if span > 1:
                sheet.merge_cells(start_row=1, start_column=j, end_row=1, end_column=j + span - 1)
    for cell in (*sheet[1], *sheet[2]):
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    first, last = manifest["from_year"], manifest["until_year"]
    if last - first < MAX_BUDGET_YEARS:
        years = [str(y) for y in range(first, last + 1)]
    else:  # a hand-made manifest's horizon: the years comparison.csv has
        years = sorted({y for y in c["year"].astype(str) if y.isdigit()}, key=int)[:MAX_BUDGET_YEARS]
    rows = [(3 + i, year, int(year)) for i, year in enumerate(years)]
    rows.append((3 + len(years) + 1, "total", HORIZON_TOTAL))
    for i, year, label in rows:
        label_cell = _put(sheet, i, 1, label)
        if year == "total":
            label_cell.font = bold
        for j, (_, _, metric, name, col) in enumerate(columns, 2):
            found = lookup.get((year, metric, name))
            value = getattr(found, col) if found is not None else None
            cell = _put(sheet, i, j, None if value is None or pd.isna(value) else float(value))
            cell.number_format = EURO_FORMAT
            if year == "total":
                cell.font = bold
    note = rows[-1][0] + 2
    rate = manifest.get("discount_rate")
    discount = f", discounted at {rate:.1%} a year" if _is_number(rate) and rate else ""
    _put(
        sheet,
        note,
        1,
        f"Euros; means over {manifest['replications_used']} paired replications, 95% intervals of the difference "
        f"between paired replications; net saving is {reference}'s total spending minus the scenario's; "
        f"the cumulative net saving adds the years from {manifest['from_year']}{discount}. {NOT_IN_THE_EUROS}",
    )
    sheet.row_dimensions[2].height = 45
    sheet.freeze_panes = "B3"
    sheet.print_title_rows = "1:2"  # printed or made a PDF for the memo: landscape, one page wide, headers on each page
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    _widths(sheet, {1: 13}, 16)  # year column: wide enough for "horizon total"


def _assumptions_sheet(book, data: dict, bold) -> None:
    """The reference scenario's prices (manifest parameters): every money parameter, the grant one row
    a year, the part-time benefit share and each trajectory's price, with unit and source (the
    parameter's description in sim.parameters), so the memo says what the euros rest on."""
    from sim.parameters import Money, TrajectoryType, Work

    manifest = data["manifest"]
    reference = manifest["scenarios"][0]
    scenario = manifest["parameters"][reference]
    money = scenario.get("money") if isinstance(scenario.get("money"), dict) else {}
    rows: list[tuple[str, object, str]] = []  # (parameter, value, source)
    for name, field in Money.model_fields.items():
        value = money.get(name, "not recorded")
        if isinstance(value, dict):
            rows += [(f"money.{name}.{year}", value[year], field.description or "") for year in value]
            if not value:
                rows.append((f"money.{name}", "none given", field.description or ""))
        else:
            rows.append((f"money.{name}", value, field.description or ""))
    work = scenario.get("work") if isinstance(scenario.get("work"), dict) else {}
    share = "parttime_benefit_share"
    rows.append((f"work.{share}", work.get(share, "not recorded"), Work.model_fields[share].description or ""))
    basket = (
        (scenario.get("trajectories") or {}).get("basket") if isinstance(scenario.get("trajectories"), dict) else None
    )
    for i, item in enumerate(basket if isinstance(basket, list) else []):
        if isinstance(item, dict):
            label = item.get("name", i)
            source = TrajectoryType.model_fields["price_eur"].description or ""
            rows.append((f"trajectories.basket.{label}.price_eur", item.get("price_eur", "not recorded"), source))
    sheet = book.create_sheet("assumptions")
    _header(sheet, 1, ["parameter", "value", "unit", "source"], bold)
    for i, (name, value, source) in enumerate(rows, 2):
        unit = _unit(name, value)
        _put(sheet, i, 1, name)
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        cell = _put(sheet, i, 2, shown)
        if isinstance(shown, int | float) and _value_format(unit):
            cell.number_format = _value_format(unit)
        _put(sheet, i, 3, unit)
        _put(sheet, i, 4, source)
    _put(sheet, len(rows) + 3, 1, NOT_IN_THE_EUROS)
    _put(
        sheet,
        len(rows) + 4,
        1,
        f"The prices of the reference scenario, {reference}; each source is the parameter's description in sim/parameters.py.",
    )
    sheet.freeze_panes = "B2"
    _widths(sheet, {1: 44, 2: 16, 3: 20, 4: 90})


def _run_sheet(book, data: dict, bold) -> None:
    """How the comparison was made (manifest.json), one item a row, so a number in the memo can be traced
    and made again: scenarios, seed, replications, horizon, discount rate, versions, commit."""
    manifest = data["manifest"]
    software = manifest.get("software") if isinstance(manifest.get("software"), dict) else {}
    packages = software.get("packages") if isinstance(software.get("packages"), dict) else {}
    failed = manifest.get("replications_failed")
    rows = [
        ("scenarios", ", ".join(manifest["scenarios"])),
        ("reference", manifest["scenarios"][0]),
        ("seed", manifest["seed"]),
        ("replications asked", manifest.get("replications", "not recorded")),
        ("replications used", manifest["replications_used"]),
        *([("replications failed", len(failed))] if isinstance(failed, list) else []),
        ("horizon", f"{manifest['from_year']}-{manifest['until_year']}"),
        ("discount rate", manifest.get("discount_rate", "not recorded")),
        ("caseload version", manifest.get("version", "not recorded")),
        ("created", manifest.get("created", "not recorded")),
        ("Python", software.get("python", "not recorded")),
        *((f"library {name}", version) for name, version in packages.items()),
        ("git commit", software.get("git_commit", "not recorded")),
    ]
    sheet = book.create_sheet("run")
    _header(sheet, 1, ["item", "value"], bold)
    for i, (item, value) in enumerate(rows, 2):
        _put(sheet, i, 1, item)
        cell = _put(sheet, i, 2, value)
        if item == "discount rate" and _is_number(value):
            cell.number_format = SHARE_FORMAT
    sheet.freeze_panes = "A2"
    _widths(sheet, {1: 22, 2: 48})


def _euro_columns(title: str, frame: pd.DataFrame) -> tuple[list[str], pd.Series]:
    """The columns of a long sheet that hold euros, and the rows in which they do: comparison.csv's and
    attribution.csv's numbers where the metric ends in _eur, break_even.csv's savings and costs."""
    if title in ("differences", "attribution"):
        numbers = [c for c in frame.columns if c in ("mean", "reference_mean") or c.startswith(("diff_", "share_"))]
        return numbers, frame["metric"].astype(str).str.endswith("_eur")
    if title == "break_even":
        euros = [c for c in frame.columns if c.startswith("cumulative_saving") or c.endswith("_eur")]
        return euros, pd.Series(True, index=frame.index)
    return [], pd.Series(False, index=frame.index)


def workbook_bytes(data: dict) -> bytes:
    """The workbook as .xlsx bytes, for a council memo: first the sheets to paste, then the tables in full.

    budget (wide: a row a year and the horizon total, each scenario's spending by budget and each
    scenario's net saving against the reference with its 95% interval; see _budget_sheet),
    assumptions (the reference's prices with unit and source), run (how it was made); then
    differences (all of comparison.csv, years as numbers and 'total' as text), break_even,
    attribution (if the folder has it) and parameters (parameters.csv). Euro cells show whole euros
    with thousands separators; header rows are bold and frozen."""
    import openpyxl
    from openpyxl.styles import Font

    c = data["comparison"]
    names = data["manifest"]["scenarios"]
    sheets = [
        ("differences", c, {"year"}),
        ("break_even", data["break_even"], set()),
        ("parameters", data["parameters"], set(names)),
    ]
    if data.get("attribution") is not None:
        sheets.insert(2, ("attribution", data["attribution"], {"year"}))
    book = openpyxl.Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    _budget_sheet(book, data, bold)
    _assumptions_sheet(book, data, bold)
    _run_sheet(book, data, bold)
    for title, frame, numbers_in_text in sheets:
        sheet = book.create_sheet(title)
        _header(sheet, 1, list(frame.columns), bold)
        euros, in_euros = _euro_columns(title, frame)
        for i, (values, euro_row) in enumerate(zip(frame.itertuples(index=False, name=None), in_euros, strict=True), 2):
            for j, (name, value) in enumerate(zip(frame.columns, values, strict=True), 1):
                cell = _put(sheet, i, j, value, name in numbers_in_text)
                if euro_row and name in euros and isinstance(cell.value, int | float):
                    cell.number_format = EURO_FORMAT
        sheet.freeze_panes = "A2"
        _widths(sheet, {}, 16)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
