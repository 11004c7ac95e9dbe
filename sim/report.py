"""The comparison report: one self-contained HTML page, and the budget workbook.

Everything is read back from a comparison folder (comparison.csv, break_even.csv,
parameters.csv, scenarios/NAME/yearly.csv, manifest.json), never from memory, so every number
in the page's tables is a number in those files. Table cells carry `data-file`, `data-key` and
`data-col` naming where their number comes from (the tests check them). Plots are matplotlib
(Agg backend) PNGs embedded as base64.
"""

from __future__ import annotations

import base64
import html
import io
import json
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.parameters import CATEGORIES  # noqa: E402
from sim.results import summarise  # noqa: E402

HEADLINE = [
    "caseload_december", "exits_work", "exits_work_fulltime", "exits_work_temporary", "returns", "granite_stock",
    "participation_share", "work_consultant_caseload", "wait_days_mean", "benefit_spending_eur",
    "trajectory_spending_eur", "net_saving_eur", "cumulative_net_saving_eur",
]
BUDGET = ["benefit_spending_eur", "trajectory_spending_eur", "buig_balance_eur", "net_saving_eur", "cumulative_net_saving_eur"]
LABELS = {
    "caseload_december": "December caseload (mean over years)", "exits_work": "exits to work (all types)",
    "exits_work_fulltime": "exits to full-time work", "exits_work_temporary": "exits to temporary work",
    "returns": "returns (revolving door)", "granite_stock": "granite stock, 4+ years (mean)",
    "participation_share": "share in participation (mean)", "work_consultant_caseload": "clients per work consultant",
    "wait_days_mean": "intake waiting time, days", "benefit_spending_eur": "benefit spending, EUR",
    "trajectory_spending_eur": "trajectory spending, EUR", "buig_balance_eur": "BUIG grant minus benefits, EUR",
    "net_saving_eur": "net saving vs reference, EUR", "cumulative_net_saving_eur": "cumulative net saving, EUR (discounted)",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#1d232a}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #d8dee6;padding-bottom:.2em;margin-top:1.6em}
p.lead{color:#4a5561} table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #d8dee6;padding:3px 8px} th{background:#eef2f6;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} tr:nth-child(even) td{background:#f8fafc}
img{max-width:100%;border:1px solid #e4e8ee;margin:.4em 0} .note{color:#4a5561;font-size:.88em}
"""


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


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def observed_caseload(region: str) -> pd.DataFrame:
    """Observed December caseloads of a region (calibration/data/observed_caseload.csv)."""
    path = Path(str(resources.files("calibration"))) / "data" / "observed_caseload.csv"
    frame = pd.read_csv(path)
    return frame[frame["region"] == region][["year", "caseload_december"]]


def read_folder(folder: Path) -> dict:
    """Everything the report shows, read from a comparison folder."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    comparison = pd.read_csv(folder / "comparison.csv", dtype={"year": str})
    return {
        "manifest": manifest,
        "comparison": comparison,
        "break_even": pd.read_csv(folder / "break_even.csv"),
        "parameters": pd.read_csv(folder / "parameters.csv", dtype=str, keep_default_na=False),
        "yearly": {n: pd.read_csv(folder / "scenarios" / n / "yearly.csv") for n in manifest["scenarios"]},
    }


def _plot_paths(data: dict) -> str:
    manifest = data["manifest"]
    fig, ax = plt.subplots(figsize=(11, 4.6))
    for name, yearly in data["yearly"].items():
        s = summarise(yearly, ["caseload_december"])
        line, = ax.plot(s["year"], s["caseload_december_mean"], marker="o", ms=3, label=name)
        ax.fill_between(s["year"], s["caseload_december_low"], s["caseload_december_high"], alpha=0.18, color=line.get_color())
    region = manifest["parameters"][manifest["reference"]]["region"]["name"]
    observed = observed_caseload(region)
    if len(observed):
        ax.plot(observed["year"], observed["caseload_december"], "ks", ms=6, label=f"observed ({region})")
    ax.axvspan(manifest["from_year"] - 0.5, manifest["until_year"] + 0.5, color="#f1f4f8", zorder=-1)
    ax.set_xlabel("year")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("clients on benefit, December")
    ax.set_title("Caseload: mean and 90% band over replications (shaded: comparison horizon)")
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    return _png(fig)


def _plot_differences(data: dict) -> str:
    comparison, manifest = data["comparison"], data["manifest"]
    yearly = comparison[comparison["year"] != "total"].copy()
    yearly["year"] = yearly["year"].astype(int)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    for ax, metric, unit in [(axes[0], "caseload_december", 1.0), (axes[1], "cumulative_net_saving_eur", 1e6)]:
        for name in manifest["scenarios"][1:]:
            part = yearly[(yearly["metric"] == metric) & (yearly["scenario"] == name)]
            line, = ax.plot(part["year"], part["diff_mean"] / unit, marker="o", ms=3, label=f"{name} − {manifest['reference']}")
            ax.fill_between(part["year"], part["diff_low"] / unit, part["diff_high"] / unit, alpha=0.25, color=line.get_color())
        ax.axhline(0, color="black", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.set_xlabel("year")
        ax.legend(fontsize=8)
    axes[0].set_title("December caseload difference (95% CI)")
    axes[0].set_ylabel("clients")
    axes[1].set_title("Cumulative net saving vs reference (95% CI)")
    axes[1].set_ylabel("EUR million")
    return _png(fig)


def _plot_composition(data: dict) -> str:
    manifest = data["manifest"]
    first, last = manifest["from_year"], manifest["until_year"]
    years = sorted({first, min(max(first, 2025), last), last})
    groups = [("category", [f"stock_{c}" for c in CATEGORIES], [c.upper() for c in CATEGORIES]),
              ("years on assistance", ["stock_duration_lt1", "stock_duration_1_2", "stock_duration_2_4", "stock_duration_4plus"],
               ["<1", "1-2", "2-4", "4+ (granite)"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (title, columns, labels) in zip(axes, groups, strict=True):
        bars, names = [], []
        for name, yearly in data["yearly"].items():
            means = yearly[yearly["year"].isin(years)].groupby("year")[columns].mean()
            for year in years:
                bars.append(means.loc[year].to_numpy() if year in means.index else np.zeros(len(columns)))
                names.append(f"{name}\n{year}")
        values = np.array(bars)
        bottom = np.zeros(len(values))
        colours = plt.get_cmap("tab10" if len(columns) > 4 else "viridis")(np.linspace(0, 1, len(columns)) if len(columns) <= 4 else np.arange(len(columns)))
        for j, label in enumerate(labels):
            ax.bar(range(len(values)), values[:, j], bottom=bottom, label=label, color=colours[j])
            bottom += values[:, j]
        ax.set_xticks(range(len(values)), names, fontsize=7)
        ax.set_title(f"December stock by {title} (mean)")
        ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


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
    return _table(["metric", "scenario", "scenario mean", f"reference ({ref}) mean", "difference", "95% low", "95% high"], rows)


def _yearly_differences(data: dict, metric: str) -> str:
    c = data["comparison"]
    ref = data["manifest"]["reference"]
    part = c[(c["metric"] == metric) & (c["scenario"] != ref)]
    rows = []
    for _, row in part.iterrows():
        label = f"<td>{row['year']}</td><td>{html.escape(row['scenario'])}</td>"
        rows.append(_comparison_row(row, label, ["mean", "reference_mean", "diff_mean", "diff_low", "diff_high"]))
    return _table(["year", "scenario", "scenario mean", f"reference ({ref}) mean", "difference", "95% low", "95% high"], rows)


def _budget(data: dict) -> str:
    c = data["comparison"]
    metrics = [m for m in BUDGET if m in set(c["metric"])]
    rows = []
    for (year, scenario), block in c[c["metric"].isin(metrics)].groupby(["year", "scenario"], sort=False):
        cells = [f"<td>{year}</td><td>{html.escape(scenario)}</td>"]
        for metric in metrics:
            row = block[block["metric"] == metric].iloc[0]
            key = f"year={year}|metric={metric}|scenario={scenario}"
            column = "mean"
            cells.append(_cell(row[column], metric, "comparison.csv", key, column))
            if metric in ("net_saving_eur", "cumulative_net_saving_eur"):
                cells.append(_cell(row["diff_low"], metric, "comparison.csv", key, "diff_low"))
                cells.append(_cell(row["diff_high"], metric, "comparison.csv", key, "diff_high"))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = ["year", "scenario"]
    for metric in metrics:
        header.append(LABELS[metric])
        if metric in ("net_saving_eur", "cumulative_net_saving_eur"):
            header += ["95% low", "95% high"]
    return _table(header, rows)


def _break_even(data: dict) -> str:
    rows = []
    for _, row in data["break_even"].iterrows():
        key = f"scenario={row['scenario']}"
        cells = [f"<td>{html.escape(row['scenario'])}</td><td>{html.escape(row['reference'])}</td>"]
        for col in ["break_even_year", "break_even_low", "break_even_high"]:
            text = "not within horizon" if pd.isna(row[col]) else str(int(row[col]))
            cells.append(f'<td class="n" data-file="break_even.csv" data-key="{html.escape(key)}" data-col="{col}">{text}</td>')
        cells += [_cell(row[c], "x_eur", "break_even.csv", key, c)
                  for c in ["cumulative_saving_mean", "cumulative_saving_low", "cumulative_saving_high"]]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(["scenario", "reference", "break-even year", "earliest (95%)", "latest (95%)",
                   "cumulative saving, EUR", "95% low", "95% high"], rows)


def _parameters(data: dict) -> str:
    p = data["parameters"]
    names = data["manifest"]["scenarios"]
    rows = []
    for _, row in p.iterrows():
        cells = "".join(
            f'<td data-file="parameters.csv" data-key="parameter={html.escape(row["parameter"])}" data-col="{html.escape(n)}">'
            f"{html.escape(str(row[n]))}</td>" for n in names
        )
        rows.append(f"<tr><td>{html.escape(row['parameter'])}</td>{cells}</tr>")
    if not rows:
        return "<p>The scenarios have the same parameters.</p>"
    return _table(["parameter", *names], rows)


def _manifest(data: dict) -> str:
    m = data["manifest"]
    keys = ["seed", "replications", "replications_used", "from_year", "until_year", "discount_rate", "version",
            "run_seconds", "created"]
    rows = [f'<tr><td>{k}</td><td data-file="manifest.json" data-col="{k}">{html.escape(str(m.get(k, "")))}</td></tr>' for k in keys]
    rows.append(f"<tr><td>scenarios</td><td>{html.escape(', '.join(m['scenarios']))}</td></tr>")
    rows.append(f"<tr><td>failed replications</td><td>{len(m.get('replications_failed', []))}</td></tr>")
    return _table(["item", "value"], rows)


def render(folder: Path) -> str:
    """The report page for a comparison folder, as HTML text."""
    data = read_folder(folder)
    m = data["manifest"]
    ref, others = m["reference"], m["scenarios"][1:]
    rate = m.get("discount_rate", 0.0)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>caseload: {html.escape(' vs '.join(m['scenarios']))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(', '.join(others))} against {html.escape(ref)}</h1>",
        f"<p class='lead'>Horizon {m['from_year']}-{m['until_year']}; {m['replications_used']} paired replications "
        f"(seed {m['seed']}): replication i of every scenario sees the same clients with the same personal draws, so the "
        "differences come from the policy. Intervals of differences are 95% paired-t confidence intervals of the mean; "
        f"bands around paths are 90% of replications. Savings are discounted at {rate:.1%} a year to {m['from_year']}.</p>",
        "<h2>Headline: totals over the horizon</h2>",
        "<p class='note'>Flows and euros are summed over the horizon; stocks, shares, caseloads and waiting times are means "
        "of the yearly values. Net saving = the reference's benefit + trajectory spending minus this scenario's.</p>",
        _headline(data),
        "<h2>Caseload paths</h2>", _plot_paths(data),
        "<h2>Differences per year</h2>", _plot_differences(data),
        "<h3>December caseload</h3>", _yearly_differences(data, "caseload_december"),
        "<h3>Exits to work</h3>", _yearly_differences(data, "exits_work"),
        "<h2>Composition of the stock</h2>", _plot_composition(data),
        "<h2>Budget (BUIG and participation budget), EUR</h2>",
        "<p class='note'>Benefit spending = full-benefit client-months (part-time workers at their partial share) × "
        "the benefit per client-year / 12, on the BUIG. Trajectory spending = trajectories started × price, on the "
        "participation budget. The BUIG balance (grant minus benefits) shows only for years with a grant in the "
        "scenario (<code>money.state_grant_eur_per_year</code>).</p>",
        _budget(data),
        "<h3>Break-even</h3>",
        "<p class='note'>The first year from which cumulative benefit savings exceed cumulative extra trajectory "
        "costs for good; its range comes from the 95% bounds of the cumulative saving.</p>",
        _break_even(data),
        "<h2>Parameters that differ</h2>", _parameters(data),
        "<h2>Run</h2>", _manifest(data),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(folder: Path, name: str = "report.html") -> Path:
    """Write the report page into the comparison folder; returns its path."""
    path = Path(folder) / name
    partial = path.with_name(f".{name}.partial")
    partial.write_text(render(folder), encoding="utf-8")
    partial.replace(path)  # a page is there whole or not at all
    return path


def write_workbook(folder: Path, name: str = "comparison.xlsx") -> Path:
    """The budget and difference tables as one workbook (sheets: budget, differences, break_even)."""
    data = read_folder(folder)
    c = data["comparison"]
    path = Path(folder) / name
    partial = path.with_name(f".{name}.partial")
    with pd.ExcelWriter(partial, engine="openpyxl") as writer:
        c[c["metric"].isin(BUDGET)].to_excel(writer, sheet_name="budget", index=False)
        c.to_excel(writer, sheet_name="differences", index=False)
        data["break_even"].to_excel(writer, sheet_name="break_even", index=False)
    partial.replace(path)
    return path
