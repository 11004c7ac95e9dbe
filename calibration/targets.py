"""Targets: the observed December caseloads (stocks) and the secondary moments of docs/domain.md.

Each target is computed from one replication's yearly table; the objective compares the mean
over replications with the observed value. Stocks are compared as stocks (December caseload
per year), flows as flows (a net change, a yearly inflow as a share of the stock), shares as
shares. Counts are divided by the population scale, so a scaled-down population is compared
with full-size observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.config import CALIBRATION_DIR, CHANGES, Calibration, Moment
from sim.consultants import trial_job_finding_gain
from sim.parameters import Scenario
from sim.results import quarterly_flows

DATA_DIR = CALIBRATION_DIR / "data"


def observed_caseload(region: str, path: Path | None = None) -> pd.Series:
    """December caseload by year for a region (calibration/data/observed_caseload.csv)."""
    table = pd.read_csv(path or DATA_DIR / "observed_caseload.csv")
    rows = table[table["region"] == region]
    if rows.empty:
        raise KeyError(
            f"no observed caseload for region {region!r}; known: {', '.join(sorted(table['region'].unique()))}"
        )
    return rows.set_index("year")["caseload_december"].astype(float).sort_index()


@dataclass(frozen=True)
class Target:
    """One number to meet: name, kind (stock, flow or share), observed value, residual scale, weight."""

    name: str
    kind: str
    year: int | None
    observed: float
    sd: float
    weight: float
    source: str


def _ratio(num: pd.Series, den: pd.Series) -> float:
    total = float(den.sum())
    return float(num.sum()) / total if total > 0 else 0.0


def _change(moment: Moment, y: pd.DataFrame, monthly: pd.DataFrame | None) -> float:
    """Relative change of a flow from the first to the second of the moment's years (in its quarter
    of each, added up from the monthly table, if it has one): 0.22 is +22%."""
    flow = moment.statistic.removesuffix("_change")
    base, year = moment.years
    if moment.quarter is None:
        before, after = float(y.loc[base, flow]), float(y.loc[year, flow])
    else:
        if monthly is None:
            raise ValueError(f"{moment.name} needs the replication's monthly table")
        months = monthly.loc[monthly["year"].isin(moment.years), ["year", "month", flow]]  # one replication's
        q = quarterly_flows(months, [flow])[flow]
        before, after = float(q.get((base, moment.quarter), 0)), float(q.get((year, moment.quarter), 0))
    return after / before - 1.0 if before > 0 else 0.0


_PLACEMENTS = ["placements_category_1", "placements_category_2", "placements_category_3"]
_WORK_EDUCATION = ["outflow_work_fulltime", "outflow_work_temporary", "outflow_self_employment", "outflow_education"]
_SALARIED = ["outflow_work_fulltime", "outflow_work_temporary"]


def _stat(
    moment: Moment, y: pd.DataFrame, scale: float, monthly: pd.DataFrame | None, scenario: Scenario | None
) -> float:
    """A secondary statistic of one replication's yearly table (indexed by year), its monthly
    table, or (contact_trial_gain) the scenario's own hazards.

    Returns are counted by the year the leavers left (sim/returns.COHORT_COLUMNS): a share of the
    moment's years' leavers back within the window. Placements are exits to work and part-time
    jobs found, the municipality's "helped into a job"."""
    years = moment.years
    if moment.statistic in CHANGES:
        return _change(moment, y, monthly)
    rows = y.loc[years]
    stock = y["caseload_december"]
    mean_stock = pd.Series([(stock[t - 1] + stock[t]) / 2 for t in years], index=years)
    s = moment.statistic
    if s == "net_change":
        return float(np.mean([stock[t] - stock[t - 1] for t in years])) / scale
    if s == "gatekept_share":
        return _ratio(rows["gatekept"], rows["notifications"])
    if s == "participation_share":
        return _ratio(rows["stock_participation"], rows["caseload_december"])
    if s == "consultant_caseload":
        return float(rows["work_consultant_caseload"].mean())
    if s == "inflow_share_of_stock":
        return _ratio(rows["inflow"], mean_stock)
    if s == "outflow_share_of_stock":
        return _ratio(rows["outflow"], mean_stock)
    if s == "parttime_share":
        return _ratio(rows["stock_parttime"], rows["caseload_december"])
    if s == "work_share_of_outflow":
        work = rows["outflow_work_fulltime"] + rows["outflow_work_temporary"] + rows["outflow_self_employment"]
        return _ratio(work, rows["outflow"])
    if s == "long_spell_share":
        return _ratio(rows["stock_duration_4plus"], rows["caseload_december"])
    if s in ("back_within_6m", "back_within_12m", "back_within_24m"):
        return _ratio(rows["leavers_back_" + s.removeprefix("back_within_")], rows["outflow"])
    if s == "work_education_back_within_6m":
        return _ratio(rows["leavers_work_education_back_6m"], rows[_WORK_EDUCATION].sum(axis=1))
    if s == "salaried_back_within_18m":
        return _ratio(rows["leavers_salaried_back_18m"], rows[_SALARIED].sum(axis=1))
    if s == "placements":
        return float(rows[_PLACEMENTS].sum(axis=1).mean()) / scale
    if s == "placements_first_half":
        if monthly is None:
            raise ValueError("placements_first_half needs the monthly table")
        half = monthly[monthly["year"].isin(years) & (monthly["month"] <= 6)]
        return float(half[_PLACEMENTS].to_numpy(dtype=float).sum()) / len(years) / scale
    if s == "contact_trial_gain":
        if scenario is None or moment.trial is None:
            raise ValueError("contact_trial_gain needs the scenario and the trial's design")
        t = moment.trial
        return trial_job_finding_gain(scenario, t.caseload, t.control_caseload, t.months, t.years_on)
    raise ValueError(f"unknown statistic {s!r}")  # the config's Literal makes this unreachable


class TargetSet:
    """The targets of one fit: stocks for the fitted years, and the moments inside them."""

    def __init__(self, calibration: Calibration, fit_years: tuple[int, int], observed: pd.Series | None = None) -> None:
        self.calibration = calibration
        self.first, self.last = fit_years
        self.scale = calibration.population_scale
        self.observed = observed if observed is not None else observed_caseload(calibration.region)
        st = calibration.stocks
        # the fitted years after stocks.last_year are run for their flows, with no December stock to meet
        self.stock_last = self.last if st.last_year is None else max(self.first, min(self.last, st.last_year))
        missing = [t for t in range(self.first, self.stock_last + 1) if t not in self.observed.index]
        if missing:
            years = self.observed.index
            raise KeyError(
                f"no observed caseload for {calibration.region} in {', '.join(map(str, missing))}; "
                f"observed: {min(years)}-{max(years)} (stocks.last_year stops the stock targets earlier)"
            )
        self.targets: list[Target] = [
            Target(
                f"caseload {t}",
                "stock",
                t,
                float(self.observed[t]),
                st.relative_sd * float(self.observed[t]),
                st.weight,
                "calibration/data/observed_caseload.csv",
            )
            for t in range(self.first + 1, self.stock_last + 1)
        ]
        self.moments = [m for m in calibration.moments if self.first < min(m.years) and max(m.years) <= self.last]
        flows = (
            "net_change",
            "inflow_share_of_stock",
            "outflow_share_of_stock",
            "placements",
            "placements_first_half",
            *CHANGES,
        )
        for m in self.moments:
            kind = "flow" if m.statistic in flows else "share"
            self.targets.append(Target(m.name, kind, None, m.value, m.sd, m.weight, m.source))
        self.values = np.array([t.observed for t in self.targets])
        self.sds = np.array([t.sd for t in self.targets])
        self.weights = np.array([t.weight for t in self.targets])
        # a figure given as "at most": only a value above it is a misfit (stocks are all "equal")
        self.at_most = np.array(
            [False] * (len(self.targets) - len(self.moments)) + [m.bound == "at_most" for m in self.moments]
        )

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def simulated(
        self, yearly: pd.DataFrame, monthly: pd.DataFrame | None = None, scenario: Scenario | None = None
    ) -> np.ndarray:
        """The target statistics of one replication's tables (in observed units); `scenario` is the
        one it ran, for the statistics of its hazards (contact_trial_gain)."""
        # one plain float block: label lookups on the nullable columns (one array per column)
        # cost about 0.1 s per replication, more than the replication itself
        numeric = yearly.drop(columns=["policy"])
        y = pd.DataFrame(
            numeric.to_numpy(dtype=float, na_value=np.nan), index=yearly["year"].to_numpy(int), columns=numeric.columns
        )
        stocks = [float(y.loc[t, "caseload_december"]) / self.scale for t in range(self.first + 1, self.stock_last + 1)]
        return np.array(stocks + [_stat(m, y, self.scale, monthly, scenario) for m in self.moments])

    def residuals(self, mean_simulated: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Weighted, scaled residuals sqrt(w) (sim - obs) / sd; their sum of squares is the data part of the objective."""
        values = self.values if values is None else values
        miss = mean_simulated - values
        miss = np.where(self.at_most, np.maximum(miss, 0.0), miss)
        return np.sqrt(self.weights) * miss / self.sds
