"""Results: the monthly and yearly tables of a replication, derived from the monthly records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calendar import Calendar
from sim.clients import ClientTable
from sim.money import STAFF_COLUMNS
from sim.month_step import STOCK_COLUMNS as MONTH_STOCKS
from sim.returns import COHORT_COLUMNS

FLOW_COLUMNS = [
    "notifications",
    "gatekept",
    "reapplications",
    "inflow",
    "returns",
    "outflow",
    "outflow_work_fulltime",
    "outflow_work_temporary",
    "outflow_education",
    "outflow_self_employment",
    "outflow_pension",
    "outflow_other",
    "placements_parttime",
    "placements_category_1",
    "placements_category_2",
    "placements_category_3",
    "trajectories_started",
    "benefit_client_months",
    "benefit_spending_eur",
    "trajectory_spending_eur",
    *STAFF_COLUMNS,
]
STOCK_COLUMNS = [*MONTH_STOCKS[1:], "clients_served", "participation_distance_mean", "in_chain", "deterred"]
"""December's stocks in the yearly table: the month step's counts after the caseload, then the model's own."""
YEARLY_COLUMNS = [
    "year",
    "replication",
    "policy",
    "caseload_december",
    *FLOW_COLUMNS,
    *STOCK_COLUMNS,
    "work_consultants",
    "work_consultant_caseload",
    "wait_days_mean",
    "wait_days_p90",
    *COHORT_COLUMNS,
]
"""Columns of `yearly.csv`, in order (documented in docs/model.md)."""
_YEARLY_FLOATS = [
    "benefit_client_months",
    "benefit_spending_eur",
    "trajectory_spending_eur",
    *STAFF_COLUMNS,
    "participation_distance_mean",
    "work_consultants",
    "work_consultant_caseload",
    "wait_days_mean",
    "wait_days_p90",
]


def build_tables(
    rows: list[dict],
    waits: pd.DataFrame,
    start_year: int,
    initial_stock: int,
    replication: int,
    cohorts: dict[int, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(yearly, monthly) tables for the simulated years after the start year (burn-in dropped).

    `rows` are the month ends' records, `waits` the waiting times by year of grant
    (`waits_by_grant_year`), `initial_stock` the December caseload of the start year when no
    burn-in months precede it, `cohorts` the leavers back by the year they left
    (sim/returns.COHORT_COLUMNS).
    """
    monthly = pd.DataFrame(rows)
    monthly.insert(0, "replication", replication)
    before = monthly[monthly["year"] <= start_year]
    start_stock = int(before["caseload"].iloc[-1]) if len(before) else initial_stock
    monthly = monthly[monthly["year"] > start_year].reset_index(drop=True)

    grouped = monthly.groupby("year", sort=True)
    yearly = grouped[FLOW_COLUMNS].sum()
    december = grouped.last()
    yearly["caseload_december"] = december["caseload"]
    # yearly means: the team in FTE-years, and the caseload it held
    yearly["work_consultants"] = grouped["work_consultants"].mean()
    yearly["work_consultant_caseload"] = grouped["work_consultant_caseload"].mean()
    back = pd.DataFrame.from_dict(cohorts or {}, orient="index", columns=list(COHORT_COLUMNS))
    back = back.reindex(yearly.index, fill_value=0).astype(np.int64)
    yearly = yearly.join([december[STOCK_COLUMNS], waits, back], how="left")
    # the start year's row has only the December caseload; each column is made nullable directly
    # (a DataFrame.astype of object columns cost more than the rest of the tables together)
    first = {"year": start_year, "replication": replication, "caseload_december": start_stock}
    yearly["year"] = yearly.index
    yearly["replication"] = replication
    columns = {
        column: _after_start(first.get(column), yearly[column].to_numpy(), column in _YEARLY_FLOATS)
        for column in YEARLY_COLUMNS
        if column != "policy"
    }
    columns["policy"] = pd.concat([pd.Series([pd.NA]), december["policy"]], ignore_index=True)
    return pd.DataFrame(columns)[YEARLY_COLUMNS], monthly


def quarterly_flows(monthly: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """The flows of a monthly table added up by quarter: one row per (replication, year, quarter),
    quarter 1 being January-March (per (year, quarter) for a table without a replication column).

    `columns`: the flows to add (default every FLOW_COLUMNS column the table has). Stocks are not
    flows and are left out. The quarters of a year add up to its row in the yearly table.
    """
    flows = columns if columns is not None else [c for c in FLOW_COLUMNS if c in monthly.columns]
    keys = ["replication"] if "replication" in monthly.columns else []
    quarter = ((monthly["month"].to_numpy() - 1) // 3 + 1).astype(np.int64)
    frame = monthly[[*keys, "year", *flows]].assign(quarter=quarter)
    return frame.groupby([*keys, "year", "quarter"], sort=True)[flows].sum()


def _after_start(start: float | None, values: np.ndarray, floats: bool) -> pd.api.extensions.ExtensionArray:
    """A nullable Float64 or Int64 column: the start year's value (None: missing), then `values` (NaN: missing)."""
    data = np.concatenate([[np.nan if start is None else start], values])
    missing = np.isnan(data)
    if floats:
        return pd.arrays.FloatingArray(data, missing)
    return pd.arrays.IntegerArray(np.where(missing, 0, data).astype(np.int64), missing)


def waits_by_grant_year(table: ClientTable, calendar: Calendar) -> pd.DataFrame:
    """Mean and 90th percentile of days from notification to benefit, by year of grant."""
    grant = table.view("grant_day")
    notified = table.view("notification_day")
    mask = np.isfinite(grant) & (notified >= 0)
    wait = grant[mask] - notified[mask]
    years = calendar.years_of(grant[mask])
    frame = pd.DataFrame({"year": years, "wait": wait})
    grouped = frame.groupby("year")["wait"]
    # pandas' own quantile (linear, as np.quantile) runs in C; a Python lambda per year was a hot spot
    return pd.DataFrame({"wait_days_mean": grouped.mean(), "wait_days_p90": grouped.quantile(0.9)})
