"""Summaries over replications (the mean and a central band per year), and the numbers of the
terminal as people read them.

The terminal shows euros in millions with one decimal (`EUR 51.2 M`), counts with thousands
separators, and a difference with its sign and the order of its terms said once (`broad -
focus`); the files keep every digit (docs/comparing.md#reading-the-terminal).
"""

from __future__ import annotations

import math

import pandas as pd


def summarise(yearly: pd.DataFrame, columns: list[str], band: float = 0.90) -> pd.DataFrame:
    """Mean and a central `band` interval over replications, per year, for each column."""
    low_q, high_q = (1 - band) / 2, 1 - (1 - band) / 2
    frame = yearly[["year", *columns]].astype(dict.fromkeys(columns, "float64"))
    grouped = frame.groupby("year")
    parts = {}
    for column in columns:
        parts[f"{column}_mean"] = grouped[column].mean()
        parts[f"{column}_low"] = grouped[column].quantile(low_q)
        parts[f"{column}_high"] = grouped[column].quantile(high_q)
    return pd.DataFrame(parts).reset_index()


# -- numbers for people ------------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or pd.isna(value)


def millions(value: float, signed: bool = False, unit: bool = True) -> str:
    """Euros in millions with one decimal: 'EUR 51.2 M' ('+51.2' signed without the unit); 'n/a' if missing."""
    if _missing(value):
        return "n/a"
    shown = f"{value / 1e6:{'+' if signed else ''},.1f}"
    if shown.lstrip("+-") == "0.0":
        shown = "0.0"  # no '-0.0': a rounded zero has no direction
    return f"EUR {shown} M" if unit else shown


def count(value: float, decimals: int = 0, signed: bool = False) -> str:
    """A count with thousands separators ('1,660'; '+12.5' signed with one decimal); 'n/a' if missing."""
    if _missing(value):
        return "n/a"
    shown = f"{value:{'+' if signed else ''},.{decimals}f}"
    return shown.lstrip("+-") if float(shown.replace(",", "")) == 0 else shown


def span(low: float, high: float, unit: str = "") -> str:
    """An interval on its own, the unit said once as for a single value: 'EUR 15.9-42.3 M' for
    euros (unit 'EUR'), '1,698-1,772' for counts; ' to ' between the bounds if one is negative
    ('EUR -5.0 to 3.2 M'), 'n/a' if either is missing."""
    if _missing(low) or _missing(high):
        return "n/a"
    if unit == "EUR":
        low_shown, high_shown = millions(low, unit=False), millions(high, unit=False)
    else:
        low_shown, high_shown = count(low), count(high)
    between = " to " if low_shown.startswith("-") or high_shown.startswith("-") else "-"
    shown = f"{low_shown}{between}{high_shown}"
    if unit == "EUR":
        return f"EUR {shown} M"
    return f"{shown} {unit}" if unit else shown


def euros(value: float) -> str:
    """Whole euros with thousands separators, for amounts too small for millions: 'EUR 12,345'."""
    return "n/a" if _missing(value) else f"EUR {value:,.0f}"


def difference_of(scenario: str, reference: str) -> str:
    """How a difference is ordered, said the same way everywhere: 'broad - focus'."""
    return f"{scenario} - {reference}"


def text_table(header: list[str], rows: list[list[str]], left: int = 0) -> list[str]:
    """Rows of text cells as aligned lines: the first `left` columns left-aligned, the rest right."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), *(line(r) for r in rows)]


def yearly_lines(yearly: pd.DataFrame) -> list[str]:
    """A run's yearly table for the terminal: one replication as it is, several as the mean per year
    with the December caseload's 90% band over replications."""
    reps = yearly["replication"].nunique() if "replication" in yearly else 1
    columns = ["caseload_december", "inflow", "outflow", "benefit_spending_eur", "wait_days_mean"]
    s = summarise(yearly, columns)
    header = ["year", "December caseload", "inflow", "outflow", "benefits", "intake wait"]
    if reps > 1:
        header[1] = "December caseload (90% band)"
    rows = []
    for r in s.itertuples():
        caseload = count(r.caseload_december_mean)
        if reps > 1:
            caseload += f" ({span(r.caseload_december_low, r.caseload_december_high)})"
        wait = "" if _missing(r.wait_days_mean_mean) else f"{r.wait_days_mean_mean:.1f} days"
        rows.append(
            [
                str(int(r.year)),
                caseload,
                "" if _missing(r.inflow_mean) else count(r.inflow_mean),
                "" if _missing(r.outflow_mean) else count(r.outflow_mean),
                "" if _missing(r.benefit_spending_eur_mean) else millions(r.benefit_spending_eur_mean),
                wait,
            ]
        )
    lines = text_table(header, rows)
    if reps > 1:
        lines.append(f"means over {reps:,} replications")
    return lines


def drawn_yearly_lines(yearly: pd.DataFrame, bands: pd.DataFrame) -> list[str]:
    """A run with parameter draws for the terminal: per year the mean at the fitted parameters of the
    December caseload and the benefits, each with two 90% bands: simulation noise (over the estimate's
    replications, when there are several) and total (over draws x replications, bands.csv)."""
    reps = yearly["replication"].nunique() if "replication" in yearly else 1
    s = summarise(yearly, ["caseload_december", "benefit_spending_eur"]).set_index("year")
    total = bands.set_index(["metric", "year"])
    header = ["year", "December caseload", "noise 90%", "total 90%", "benefits", "total 90%"]
    rows = []
    for year, r in s.iterrows():
        case, money = total.loc[("caseload_december", year)], total.loc[("benefit_spending_eur", year)]
        noise = span(r.caseload_december_low, r.caseload_december_high) if reps > 1 else ""
        spent = not _missing(r.benefit_spending_eur_mean)
        rows.append(
            [
                str(int(year)),
                count(r.caseload_december_mean),
                noise,
                span(case.p5, case.p95),
                millions(r.benefit_spending_eur_mean) if spent else "",
                span(money.p5, money.p95, "EUR") if spent else "",
            ]
        )
    return [
        *text_table(header, rows),
        "noise: over the replications at the fitted parameters; total: over the "
        "parameter draws x replications (parameters and simulation)",
    ]


def significant(value: float, digits: int = 3) -> str:
    """A number to `digits` significant figures with thousands separators ('51,200', '0.0123')."""
    if _missing(value):
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{round(value, decimals):,.{decimals}f}"
