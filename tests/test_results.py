"""Results (sim/results.py): the yearly table sums each year's monthly flows, holds the December
stocks, and its start-year row holds only the stock; waiting times by year of grant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calendar import Calendar
from sim.clients import ClientTable
from sim.results import FLOW_COLUMNS, STOCK_COLUMNS, YEARLY_COLUMNS, build_tables, quarterly_flows, waits_by_grant_year

pytestmark = pytest.mark.unit

START = 2013


def _rows(years: list[int], seed: int = 0) -> list[dict]:
    """Month-end records with random flows and stocks, as the model appends them."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in years:
        for month in range(1, 13):
            row = {"year": year, "month": month, "policy": "broad" if year < 2015 else "focus"}
            row["caseload"] = int(rng.integers(1000, 2000))
            for column in FLOW_COLUMNS:
                row[column] = (
                    float(rng.random() * 1e5) if column.endswith(("_eur", "_months")) else int(rng.integers(50))
                )
            for column in STOCK_COLUMNS:
                row[column] = int(rng.integers(500))
            row["work_consultant_caseload"] = float(rng.random() * 100)
            row["work_consultants"] = float(rng.random() * 10)
            rows.append(row)
    return rows


WAITS = pd.DataFrame({"wait_days_mean": [20.0, 25.0], "wait_days_p90": [40.0, 45.0]}, index=[2014, 2015])


def test_the_yearly_table_sums_the_flows_and_keeps_the_december_stocks():
    rows = _rows([2014, 2015])
    yearly, monthly = build_tables(rows, WAITS, START, initial_stock=1660, replication=3)
    assert list(yearly.columns) == YEARLY_COLUMNS and yearly["year"].tolist() == [2013, 2014, 2015]
    assert (yearly["replication"] == 3).all() and (monthly["replication"] == 3).all()
    assert len(monthly) == 24 and monthly["year"].tolist() == [2014] * 12 + [2015] * 12
    frame = pd.DataFrame(rows)
    for year in (2014, 2015):
        row = yearly.set_index("year").loc[year]
        months = frame[frame["year"] == year]
        for column in FLOW_COLUMNS:
            assert row[column] == pytest.approx(months[column].sum(), rel=1e-12), (year, column)
        december = months.iloc[-1]
        assert row["caseload_december"] == december["caseload"] and row["policy"] == december["policy"]
        for column in STOCK_COLUMNS:
            assert row[column] == december[column], (year, column)
        assert row["work_consultant_caseload"] == pytest.approx(months["work_consultant_caseload"].mean())
        assert row["work_consultants"] == pytest.approx(months["work_consultants"].mean())  # FTE-years
        assert row["wait_days_mean"] == WAITS.loc[year, "wait_days_mean"]
        assert row["wait_days_p90"] == WAITS.loc[year, "wait_days_p90"]


def test_quarterly_flows_add_up_to_the_yearly_ones_per_replication():
    tables = [
        build_tables(_rows([2014, 2015], seed=r), WAITS, START, initial_stock=1660, replication=r) for r in (0, 1)
    ]
    yearly = pd.concat([y for y, _ in tables], ignore_index=True)
    monthly = pd.concat([m for _, m in tables], ignore_index=True)
    quarterly = quarterly_flows(monthly)
    assert list(quarterly.columns) == FLOW_COLUMNS  # flows only: stocks do not add up
    assert list(quarterly.index.names) == ["replication", "year", "quarter"] and len(quarterly) == 2 * 2 * 4
    by_year = quarterly.groupby(["replication", "year"]).sum()
    after_start = yearly[yearly["year"] > START].set_index(["replication", "year"])
    for column in FLOW_COLUMNS:
        assert np.allclose(by_year[column], after_start.loc[by_year.index, column].astype(float), rtol=1e-12), column
    # the second quarter is April-June
    months = monthly[(monthly["replication"] == 1) & (monthly["year"] == 2015) & monthly["month"].between(4, 6)]
    assert quarterly.loc[(1, 2015, 2), "outflow"] == months["outflow"].sum()
    one = quarterly_flows(monthly[monthly["replication"] == 0].drop(columns="replication"), ["inflow"])
    assert list(one.columns) == ["inflow"] and list(one.index.names) == ["year", "quarter"]


def test_the_start_years_row_holds_only_the_stock():
    yearly, _ = build_tables(_rows([2014, 2015]), WAITS, START, initial_stock=1660, replication=0)
    first = yearly.iloc[0]
    assert (first["year"], first["replication"], first["caseload_december"]) == (START, 0, 1660)
    rest = [c for c in YEARLY_COLUMNS if c not in ("year", "replication", "caseload_december")]
    assert yearly.iloc[0][rest].isna().all()
    assert yearly.iloc[1:][[*FLOW_COLUMNS, *STOCK_COLUMNS, "policy"]].notna().all().all()


def test_counts_are_whole_numbers_and_money_and_waits_are_floats_all_nullable():
    yearly, _ = build_tables(_rows([2014]), WAITS, START, initial_stock=5, replication=0)
    assert str(yearly["caseload_december"].dtype) == "Int64" and str(yearly["outflow"].dtype) == "Int64"
    for column in (
        "benefit_client_months",
        "benefit_spending_eur",
        "wait_days_p90",
        "work_consultant_caseload",
        "work_consultants",
        "work_consultant_spending_eur",
        "participation_distance_mean",
    ):
        assert str(yearly[column].dtype) == "Float64", column


def test_a_year_without_grants_has_no_waiting_time():
    waits = WAITS.loc[[2014]]
    yearly, _ = build_tables(_rows([2014, 2015]), waits, START, initial_stock=5, replication=0)
    assert yearly.set_index("year").loc[2015, ["wait_days_mean", "wait_days_p90"]].isna().all()


def test_burn_in_months_are_dropped_and_give_the_start_stock():
    rows = _rows([2012, 2013, 2014])
    yearly, monthly = build_tables(rows, WAITS, START, initial_stock=1660, replication=0)
    assert yearly["year"].tolist() == [2013, 2014] and (monthly["year"] == 2014).all()
    assert yearly.iloc[0]["caseload_december"] == rows[23]["caseload"]  # December 2013 of the burn-in


def test_waits_are_the_days_from_notification_to_benefit_by_year_of_grant():
    calendar = Calendar.for_years(2014, 2016)
    t = ClientTable()
    ids = t.add(7)
    t.notification_day[ids] = [-400.0, 10.0, 20.0, 300.0, 360.0, 400.0, 500.0]
    t.grant_day[ids] = [-380.0, 30.0, 50.0, 340.0, 370.0, np.nan, 600.0]  # the stock's, one never granted
    waits = waits_by_grant_year(t, calendar)
    assert waits.index.tolist() == [2014, 2015]
    in_2014 = np.array([20.0, 30.0, 40.0])  # granted on days 30, 50, 340
    assert waits.loc[2014, "wait_days_mean"] == pytest.approx(in_2014.mean())
    assert waits.loc[2014, "wait_days_p90"] == pytest.approx(np.quantile(in_2014, 0.9))
    assert waits.loc[2015, "wait_days_mean"] == pytest.approx(np.mean([10.0, 100.0]))  # granted on days 370, 600
