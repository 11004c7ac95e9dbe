"""The workbook for the council memo: budget, assumptions and run first; every number on the budget
sheet is comparison.csv's, cell for cell, in euros; the prices carry their source; the run is the manifest's."""

from __future__ import annotations

import json
import math

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from sim.analysis.report import (
    BUDGET_ITEMS,
    EURO_FORMAT,
    HORIZON_TOTAL,
    NOT_IN_THE_EUROS,
    SAVING_COLUMNS,
    SAVING_ITEMS,
)
from sim.parameters import Money

pytestmark = pytest.mark.cli  # runs `caseload compare` and reads the file it writes

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One small comparison (focus against broad, two replications, to 2021) with its workbook."""
    out = tmp_path_factory.mktemp("workbook") / "cmp"
    result = runner.invoke(
        app,
        [
            "compare",
            "--parameter-draws",
            "0",
            "focus",
            "broad",
            "--reps",
            "2",
            "--until",
            "2021",
            "--xlsx",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def book(folder):
    return openpyxl.load_workbook(folder / "comparison.xlsx")


@pytest.fixture(scope="module")
def manifest(folder):
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def comparison(folder):
    return pd.read_csv(folder / "comparison.csv", dtype={"year": str})


def _columns(sheet, reference: str) -> dict[int, tuple[str, str, str]]:
    """Each budget column (from B) read back through its two header rows: (scenario, metric, csv column)."""
    words_of_spending = {words: metric for metric, words in BUDGET_ITEMS.items()}
    words_of_saving = {words.format(reference=reference): metric for metric, words in SAVING_ITEMS.items()}
    words_of_column = {words: column for column, words in SAVING_COLUMNS.items() if words}
    columns, title, metric = {}, None, None
    for j in range(2, sheet.max_column + 1):
        title = sheet.cell(1, j).value or title  # row 1 is merged over a scenario's columns
        words = sheet.cell(2, j).value
        if title.endswith(f": saving vs {reference}"):
            scenario = title.split(":")[0]
            if words in words_of_saving:
                metric, column = words_of_saving[words], "diff_mean"
            else:
                column = words_of_column[words]
        else:
            scenario = title.removesuffix(" (reference)")
            metric, column = words_of_spending[words], "mean"
        columns[j] = (scenario, metric, column)
    return columns


def _value_rows(sheet) -> dict[int, str]:
    """The budget sheet's value rows, by row number: comparison.csv's year for each."""
    rows = {}
    for i in range(3, sheet.max_row + 1):
        label = sheet.cell(i, 1).value
        if isinstance(label, int):
            rows[i] = str(label)
        elif label == HORIZON_TOTAL:
            rows[i] = "total"
    return rows


def test_the_memo_sheets_come_first(book):
    assert book.sheetnames[:3] == ["budget", "assumptions", "run"]
    assert book.sheetnames[3:] == ["differences", "break_even", "attribution", "parameters"]


def test_every_budget_cell_is_comparison_csv_number(book, manifest, comparison):
    sheet, reference = book["budget"], manifest["reference"]
    columns, rows = _columns(sheet, reference), _value_rows(sheet)
    years = list(range(manifest["from_year"], manifest["until_year"] + 1))
    assert [int(y) for y in rows.values() if y != "total"] == years  # a row a year, the year a number
    assert list(rows.values())[-1] == "total"
    indexed = comparison.set_index(["year", "metric", "scenario"])
    # every spending item for every scenario, and each non-reference scenario's savings with their interval
    wanted = {(s, m, "mean") for s in manifest["scenarios"] for m in BUDGET_ITEMS if m in set(comparison["metric"])}
    wanted |= {(s, m, c) for s in manifest["scenarios"][1:] for m in SAVING_ITEMS for c in SAVING_COLUMNS}
    assert set(columns.values()) == wanted and len(columns) == len(wanted)
    checked = 0
    for i, year in rows.items():
        for j, (scenario, metric, column) in columns.items():
            cell, expected = sheet.cell(i, j), indexed.loc[(year, metric, scenario), column]
            if math.isnan(expected):
                assert cell.value is None, (year, metric, scenario, column)
                continue
            assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool), cell.coordinate
            assert cell.value == pytest.approx(expected, rel=1e-6, abs=1e-6), (year, metric, scenario, column)
            assert cell.number_format == EURO_FORMAT, cell.coordinate
            checked += 1
    assert checked > len(years) * len(columns) / 2


def test_budget_headers_are_bold_and_frozen_with_sensible_widths(book):
    sheet = book["budget"]
    assert sheet.freeze_panes == "B3"
    assert all(c.font.bold for row in sheet.iter_rows(min_row=1, max_row=2) for c in row if c.value is not None)
    assert sheet.cell(1, 1).value == "year" and "A1:A2" in {str(r) for r in sheet.merged_cells.ranges}
    widths = [
        sheet.column_dimensions[openpyxl.utils.get_column_letter(j)].width for j in range(2, sheet.max_column + 1)
    ]
    assert all(14 <= w <= 18 for w in widths) and sheet.column_dimensions["A"].width <= 14
    for title in ("differences", "break_even", "attribution", "parameters", "assumptions", "run"):
        other = book[title]
        assert other.freeze_panes in ("A2", "B2") and all(c.font.bold for c in other[1] if c.value is not None), title


def test_the_differences_sheet_has_numeric_years_and_euro_formats(book, comparison):
    sheet = book["differences"]
    header = [c.value for c in sheet[1]]
    assert header == list(comparison.columns)
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == len(comparison)
    numbers = ["mean", "reference_mean", "diff_mean", "diff_low", "diff_high"]
    for row, (_, csv) in zip(rows, comparison.iterrows(), strict=True):
        year = row[0].value
        assert year == "total" if csv["year"] == "total" else year == int(csv["year"])
        for name in numbers:
            cell = row[header.index(name)]
            if cell.value is not None:
                assert (cell.number_format == EURO_FORMAT) == csv["metric"].endswith("_eur"), cell.coordinate


def test_assumptions_hold_every_money_parameter_with_its_source(book, manifest):
    sheet = book["assumptions"]
    assert [c.value for c in sheet[1]] == ["parameter", "value", "unit", "source"]
    rows = {r[0]: r[1:] for r in sheet.iter_rows(min_row=2, values_only=True) if r[0]}
    money = manifest["parameters"][manifest["reference"]]["money"]
    for name, value in money.items():
        assert name in Money.model_fields
        keys = [f"money.{name}.{year}" for year in value] if isinstance(value, dict) else [f"money.{name}"]
        for key, expected in zip(keys, value.values() if isinstance(value, dict) else [value], strict=True):
            shown, unit, source = rows[key]
            assert source and source == Money.model_fields[name].description, key
            assert shown == (("yes" if expected else "no") if isinstance(expected, bool) else expected), key
            assert unit, key
            if name.endswith("_share"):
                assert unit == "share"
            if "_eur" in name:
                assert unit.startswith("EUR")
    for name, field in Money.model_fields.items():  # every money parameter, each with its source
        keys = [k for k in rows if k == f"money.{name}" or k.startswith(f"money.{name}.")]
        assert keys and all(rows[k][2] == field.description and rows[k][2] for k in keys), name
    assert rows["work.parttime_benefit_share"][1] == "share"
    for item in manifest["parameters"][manifest["reference"]]["trajectories"]["basket"]:
        shown, unit, source = rows[f"trajectories.basket.{item['name']}.price_eur"]
        assert shown == item["price_eur"] and unit.startswith("EUR") and source
    assert NOT_IN_THE_EUROS in rows


def test_the_run_sheet_is_the_manifest(book, manifest):
    rows = dict(book["run"].iter_rows(min_row=2, values_only=True))
    assert rows["seed"] == manifest["seed"]
    assert rows["replications asked"] == manifest["replications"]
    assert rows["replications used"] == manifest["replications_used"]
    assert rows["reference"] == manifest["reference"] and rows["scenarios"] == ", ".join(manifest["scenarios"])
    assert rows["horizon"] == f"{manifest['from_year']}-{manifest['until_year']}"
    assert rows["git commit"] == manifest["software"]["git_commit"]
    assert rows["Python"] == manifest["software"]["python"]


def test_break_even_savings_are_in_euros(book):
    sheet = book["break_even"]
    header = [c.value for c in sheet[1]]
    for name in ("cumulative_saving_mean", "cost_per_extra_exit_eur"):
        cell = sheet.cell(2, header.index(name) + 1)
        assert cell.value is None or cell.number_format == EURO_FORMAT, name
    assert sheet.cell(2, header.index("break_even_year") + 1).number_format != EURO_FORMAT


def test_a_comparison_without_a_grant_has_no_balance_column(folder):
    """buig_balance_eur is on the budget sheet only where comparison.csv has it (a grant was given)."""
    import io

    from sim.analysis.report import read_folder, workbook_bytes

    data = read_folder(folder)
    data["comparison"] = data["comparison"][data["comparison"]["metric"] != "buig_balance_eur"]
    sheet = openpyxl.load_workbook(io.BytesIO(workbook_bytes(data)))["budget"]
    items = [c.value for c in sheet[2]]
    assert "BUIG balance" not in items and items.count("benefits (BUIG)") == 2
    assert set(_columns(sheet, "focus").values()) >= {("broad", "net_saving_eur", "diff_low")}
