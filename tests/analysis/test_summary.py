"""Summaries over replications (sim/analysis/summary.py): the mean and central band per year are
numpy's mean and (linear) quantiles of the replications."""

from __future__ import annotations

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
