"""Summaries over replications: the mean and a central band per year."""

from __future__ import annotations

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
