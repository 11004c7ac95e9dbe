"""Summaries over replications (sim/analysis/summary.py): the mean and central band per year are
numpy's mean and (linear) quantiles of the replications."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sim.analysis.summary import summarise

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def yearly() -> pd.DataFrame:
    """Twenty replications of three years, with nullable columns as the yearly tables have them."""
    rng = np.random.default_rng(4)
    years, reps = [2019, 2020, 2021], 20
    return pd.DataFrame(
        {
            "year": np.repeat(years, reps),
            "replication": np.tile(np.arange(reps), len(years)),
            "caseload_december": pd.array(rng.integers(1500, 2000, len(years) * reps), dtype="Int64"),
            "benefit_spending_eur": pd.array(rng.normal(2.5e7, 1e6, len(years) * reps), dtype="Float64"),
        }
    )


@pytest.mark.parametrize("band", [0.90, 0.5, 1.0])
def test_mean_and_band_are_numpys(yearly, band):
    columns = ["caseload_december", "benefit_spending_eur"]
    table = summarise(yearly, columns, band=band)
    assert table["year"].tolist() == [2019, 2020, 2021]
    assert list(table.columns) == ["year", *(f"{c}_{s}" for c in columns for s in ("mean", "low", "high"))]
    for _, row in table.iterrows():
        for column in columns:
            values = yearly.loc[yearly["year"] == row["year"], column].to_numpy(dtype=float)
            low, high = np.quantile(values, [(1 - band) / 2, 1 - (1 - band) / 2])
            assert row[f"{column}_mean"] == pytest.approx(values.mean(), rel=1e-12)
            assert row[f"{column}_low"] == pytest.approx(low, rel=1e-12)
            assert row[f"{column}_high"] == pytest.approx(high, rel=1e-12)
            assert row[f"{column}_low"] <= row[f"{column}_mean"] <= row[f"{column}_high"]


def test_one_replication_has_a_band_of_zero_width(yearly):
    one = yearly[yearly["replication"] == 0]
    table = summarise(one, ["caseload_december"]).set_index("year")
    expected = one.set_index("year")["caseload_december"].astype(float)
    for side in ("mean", "low", "high"):
        assert (table[f"caseload_december_{side}"] == expected).all()


def test_the_start_years_missing_flows_stay_missing():
    yearly = pd.DataFrame(
        {"year": [2013, 2013, 2014, 2014], "inflow": pd.array([pd.NA, pd.NA, 100, 120], dtype="Int64")}
    )
    table = summarise(yearly, ["inflow"]).set_index("year")
    assert table.loc[2013].isna().all() and table.loc[2014, "inflow_mean"] == 110.0


# -- numbers for people ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "signed", "shown"),
    [
        (51_238_268.5, False, "EUR 51.2 M"),
        (51_238_268.5, True, "EUR +51.2 M"),
        (-1_234_567_890.0, True, "EUR -1,234.6 M"),
        (-20_000.0, True, "EUR 0.0 M"),  # a rounded zero has no sign
        (float("nan"), False, "n/a"),
    ],
)
def test_euros_are_millions_with_one_decimal_and_thousands_separators(value, signed, shown):
    from sim.analysis.summary import millions

    assert millions(value, signed) == shown


@pytest.mark.parametrize(
    ("low", "high", "unit", "shown"),
    [
        (15_912_000.0, 42_288_000.0, "EUR", "EUR 15.9-42.3 M"),
        (-5_040_000.0, 3_190_000.0, "EUR", "EUR -5.0 to 3.2 M"),
        (1_698.0, 1_772.4, "", "1,698-1,772"),
        (12.0, 30.0, "clients", "12-30 clients"),
        (float("nan"), 30.0, "EUR", "n/a"),
    ],
)
def test_an_interval_on_its_own_says_its_unit_once(low, high, unit, shown):
    from sim.analysis.summary import span

    assert span(low, high, unit) == shown


def test_a_run_with_draws_shows_both_bands_with_the_unit_once(yearly):
    from sim.analysis.summary import drawn_yearly_lines

    years = sorted(set(yearly["year"]))
    bands = pd.DataFrame(
        [
            {"metric": metric, "year": year, "p5": low, "p95": high}
            for year in years
            for metric, low, high in (("caseload_december", 1_450.0, 2_050.0), ("benefit_spending_eur", 15.9e6, 42.3e6))
        ]
    )
    lines = drawn_yearly_lines(yearly, bands)
    rows = [line for line in lines if line[:4].isdigit()]
    assert len(rows) == len(years)
    for row in rows:
        assert "-EUR" not in row and row.count("EUR") == 2, row  # the mean's and the band's, once each
        assert row.endswith("  EUR 15.9-42.3 M"), row
        assert re.search(r"  \d,\d{3}-\d,\d{3}  1,450-2,050  ", row), row


def test_counts_differences_and_tables_read_as_people_write_them():
    from sim.analysis.summary import count, difference_of, euros, significant, text_table

    assert count(1660) == "1,660" and count(-12.345, 1, signed=True) == "-12.3" and count(0.01, 1, True) == "0.0"
    assert euros(-11_003.4) == "EUR -11,003" and difference_of("broad", "focus") == "broad - focus"
    assert (
        significant(644.43, 4) == "644.4" and significant(167_114.67) == "167,115" and significant(0.012345) == "0.0123"
    )
    assert text_table(["name", "value"], [["a", "1"], ["longer", "1,000"]], left=1) == [
        "name    value",
        "a           1",
        "longer  1,000",
    ]


def test_a_runs_yearly_lines_say_the_band_and_the_units(yearly):
    from sim.analysis.summary import yearly_lines

    table = yearly.assign(inflow=10, outflow=8, wait_days_mean=21.25)
    lines = yearly_lines(table)
    assert lines[0].split("  ")[0] == "year" and "December caseload (90% band)" in lines[0]
    assert lines[-1] == "means over 20 replications"
    assert lines[1].startswith("2019") and " M " in lines[1] + " " and "21.2 days" in lines[1]
    one = yearly_lines(table[table["replication"] == 0])
    assert "90% band" not in one[0] and "means over" not in one[-1]
