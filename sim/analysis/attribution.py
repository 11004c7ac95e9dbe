"""What drives a difference: the Shapley split of a comparison over what its scenarios differ in.

A comparison of B against A (the reference) differs in some of the policy levers in force
(sim/parameters.LEVERS, judged period by period over both schedules) and perhaps in other parts
of the scenario (a shock, the inflow, ...). Each is a factor. Every combination of factors is a
scenario of its own: A with those factors taken from B (`mixed_scenario`); with k factors there
are 2^k, of which A (none) and B (all) are the comparison's own. All are run on the same paired
replications (common random numbers), and each factor's share of a metric is its Shapley value,
the mean of its marginal contribution over the orders in which the factors can be added
(Shapley 1953; for model outputs e.g. Owen 2014, "Sobol' indices and Shapley value"):

    share_i = sum over S not holding i of |S|! (k - |S| - 1)! / k! x (v(S + i) - v(S))

per replication, so the shares add up to v(all) - v(none), the replication's difference, exactly.
Each share's mean gets the comparison's paired-t interval over replications. Above MAX_FACTORS
factors the other parts of the scenario are grouped into one, then the smaller levers; the
grouping is said, never silent.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.comparison import METRICS, paired_interval, scenario_metrics
from sim.parameters import LEVERS, Policy, PolicyPeriod, Scenario

MAX_FACTORS = 6
"""Most factors split out one by one (2^6 = 64 combinations); above it they are grouped."""
SECTIONS = (
    "simulation",
    "region",
    "drivers",
    "inflow",
    "chain",
    "work",
    "distance",
    "contact",
    "trajectories",
    "shocks",
    "money",
)
"""The scenario's parts outside its policies that a comparison may also differ in."""
ATTRIBUTED = [
    "caseload_december",
    "inflow",
    "exits_work",
    "benefit_spending_eur",
    "total_spending_eur",
    "net_saving_eur",
]
"""The headline metrics split over the factors (their horizon totals as comparison.csv has them)."""
COLUMNS = ["year", "metric", "scenario", "reference", "lever", "share_mean", "share_low", "share_high"]
"""Columns of attribution.csv, in order."""
LEVER_WORDS = {
    "door": "door",
    "served": "who is served",
    "staffing": "staffing",
    "contact": "contact",
    "trajectories": "trajectories",
    "aftercare": "aftercare",
}


@dataclass(frozen=True)
class Factor:
    """A part a comparison's scenarios differ in: policy levers and other scenario sections."""

    name: str
    levers: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Factors:
    """The factors of one comparison, and what grouping was needed to keep them few."""

    factors: list[Factor]
    note: str | None  # says which were grouped, if any


def _in_force(schedule: list[PolicyPeriod], day) -> str:
    """The policy in force on a date (the first period also covers the days before it)."""
    name = schedule[0].policy
    for period in schedule:
        if period.start <= day:
            name = period.policy
    return name


def _union_periods(reference: Scenario, scenario: Scenario) -> list[tuple[object, str, str]]:
    """(start, reference's policy, scenario's policy) over the union of both schedules' starts."""
    starts = sorted({p.start for p in reference.policy_schedule} | {p.start for p in scenario.policy_schedule})
    return [(d, _in_force(reference.policy_schedule, d), _in_force(scenario.policy_schedule, d)) for d in starts]


def differing_levers(reference: Scenario, scenario: Scenario) -> list[str]:
    """Levers whose setting differs between the policies in force in some period."""
    periods = _union_periods(reference, scenario)
    return [
        lever
        for lever in LEVERS
        if any(getattr(reference.policies[a], lever) != getattr(scenario.policies[b], lever) for _, a, b in periods)
    ]


def differing_sections(reference: Scenario, scenario: Scenario) -> list[str]:
    """Scenario sections outside the policies that differ."""
    return [s for s in SECTIONS if getattr(reference, s) != getattr(scenario, s)]


def _section_name(section: str) -> str:
    return section if section in ("shocks", "region", "drivers") else f"{section} parameters"


def factors(reference: Scenario, scenario: Scenario) -> Factors:
    """The factors `scenario` differs from `reference` in: each differing lever, each differing
    other section; above MAX_FACTORS the sections become one factor, then the levers that come
    last in LEVERS are grouped until MAX_FACTORS remain."""
    levers = [Factor(lever, levers=(lever,)) for lever in differing_levers(reference, scenario)]
    sections = [Factor(_section_name(s), sections=(s,)) for s in differing_sections(reference, scenario)]
    notes = []
    if len(levers) + len(sections) > MAX_FACTORS and len(sections) > 1:
        grouped = ", ".join(f.name for f in sections)
        sections = [Factor("other parameters", sections=tuple(s for f in sections for s in f.sections))]
        notes.append(f"other parameters ({grouped}) grouped as one factor")
    if len(levers) + len(sections) > MAX_FACTORS:
        keep = MAX_FACTORS - len(sections) - 1
        rest = levers[keep:]
        levers = [*levers[:keep], Factor("other levers", levers=tuple(f.levers[0] for f in rest))]
        notes.append(f"levers {', '.join(f.name for f in rest)} grouped as 'other levers'")
    note = None
    if notes:
        note = f"more than {MAX_FACTORS} factors differ: " + "; ".join(notes)
    return Factors([*levers, *sections], note)


def _mixed_policy(reference: Policy, scenario: Policy, levers: set[str]) -> Policy:
    return reference.model_copy(update={lever: getattr(scenario, lever) for lever in levers})


def _levers_of(policy: Policy) -> tuple:
    return tuple(getattr(policy, lever) for lever in LEVERS)


def mixed_scenario(reference: Scenario, scenario: Scenario, chosen: Iterable[Factor], all_factors: Factors) -> Scenario:
    """The reference with the `chosen` factors taken from `scenario` (`mix`). No factor gives the
    reference itself and every factor the scenario itself, so the split adds up to the
    comparison's own difference."""
    chosen = list(chosen)
    if not chosen:
        return reference
    if {f.name for f in chosen} == {f.name for f in all_factors.factors}:
        return scenario
    mask = "".join("1" if f in chosen else "0" for f in all_factors.factors)
    levers = {lever for f in chosen for lever in f.levers}
    sections = {section for f in chosen for section in f.sections}
    return mix(reference, scenario, levers, sections, f"{reference.name}-mix-{mask}")


def mix(reference: Scenario, scenario: Scenario, levers: set[str], sections: set[str], name: str) -> Scenario:
    """The reference with `sections` taken whole from `scenario` and `levers` in each period of
    both schedules. A period whose policy has the same levers as the one before continues it
    (its team and guidance go on), as in a schedule written by hand."""
    policies: dict[str, Policy] = {}
    schedule: list[PolicyPeriod] = []
    for start, a, b in _union_periods(reference, scenario):
        policy = _mixed_policy(reference.policies[a], scenario.policies[b], levers)
        if schedule and _levers_of(policies[schedule[-1].policy]) == _levers_of(policy):
            continue
        same = _levers_of(policy) == _levers_of(reference.policies[a])
        label = a if same else f"{a} with {', '.join(sorted(levers))} of {b}"
        policies.setdefault(label, policy)
        schedule.append(PolicyPeriod(start=start, policy=label))
    update = {s: getattr(scenario, s) for s in sections}
    update.update(name=name, policies=policies, policy_schedule=schedule)
    return Scenario.model_validate({**reference.model_dump(), **{k: _dumped(v) for k, v in update.items()}})


def _dumped(value):
    if isinstance(value, list):
        return [_dumped(v) for v in value]
    if isinstance(value, dict):
        return {k: _dumped(v) for k, v in value.items()}
    return value.model_dump() if hasattr(value, "model_dump") else value


def combinations(fs: Factors) -> list[tuple[int, ...]]:
    """Every combination of factors, as indices, from none to all."""
    k = len(fs.factors)
    return [c for size in range(k + 1) for c in itertools.combinations(range(k), size)]


def mixed_scenarios(reference: Scenario, scenario: Scenario, fs: Factors) -> dict[tuple[int, ...], Scenario]:
    """The scenarios to run besides the reference and the scenario: one per proper combination."""
    k = len(fs.factors)
    return {
        c: mixed_scenario(reference, scenario, [fs.factors[i] for i in c], fs)
        for c in combinations(fs)
        if 0 < len(c) < k
    }


def shapley_shares(values: dict[tuple[int, ...], pd.DataFrame], k: int) -> list[pd.DataFrame]:
    """Each factor's Shapley share, per row and column of the value frames (one per combination,
    all with the same index and columns)."""
    shares = []
    for i in range(k):
        share = 0.0
        for c, value in values.items():
            if i in c:
                continue
            weight = math.factorial(len(c)) * math.factorial(k - len(c) - 1) / math.factorial(k)
            share = share + weight * (values[tuple(sorted((*c, i)))] - value)
        shares.append(share)
    return shares


def _values(own: pd.DataFrame, reference_total: np.ndarray) -> pd.DataFrame:
    """The attributed metrics of one combination per (year, replication), with the net saving
    against the reference's total spending."""
    frame = own[[m for m in ATTRIBUTED if m != "net_saving_eur"]].copy()
    frame["net_saving_eur"] = reference_total - own["total_spending_eur"].to_numpy()
    return frame


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Horizon totals per replication, as comparison.csv makes them (a mean, or a sum)."""
    how = {m.name: m.total for m in METRICS}
    grouped = frame.groupby(level="replication")
    return pd.DataFrame({c: grouped[c].mean() if how[c] == "mean" else grouped[c].sum(min_count=1) for c in frame})


def attribute(
    yearlies: dict[tuple[int, ...], pd.DataFrame],
    scenarios: dict[tuple[int, ...], Scenario],
    fs: Factors,
    names: tuple[str, str],
    years: tuple[int, int],
) -> pd.DataFrame:
    """attribution.csv's rows for one comparison (`names`: scenario, reference) from the yearly
    tables of every combination (keyed as `combinations` gives them), on their common
    (year, replication) rows."""
    k = len(fs.factors)
    own = {c: scenario_metrics(yearlies[c], scenarios[c], years) for c in yearlies}
    common = sorted(set.intersection(*(set(f.index) for f in own.values())))
    index = pd.MultiIndex.from_tuples(common, names=["year", "replication"])
    reference_total = own[()].loc[index, "total_spending_eur"].to_numpy()
    values = {c: _values(f.loc[index], reference_total) for c, f in own.items()}
    rows = []
    for label, frames in (
        ("yearly", values),
        ("total", {c: _totals(v) for c, v in values.items()}),
    ):
        shares = shapley_shares(frames, k)
        for factor, share in zip(fs.factors, shares, strict=True):
            groups = share.groupby(level="year") if label == "yearly" else [("total", share)]
            for year, part in groups:
                for metric in ATTRIBUTED:
                    mean, low, high = paired_interval(part[metric].to_numpy())
                    rows.append([str(year), metric, names[0], names[1], factor.name, mean, low, high])
    return pd.DataFrame(rows, columns=COLUMNS)


def sentences(table: pd.DataFrame, last_year: int) -> list[str]:
    """The split in plain words: the last year's December caseload and the horizon's net saving,
    for each scenario against the reference."""
    lines = []
    for (scenario, reference), part in table.groupby(["scenario", "reference"], sort=False):
        for metric, year, unit in (
            ("caseload_december", str(last_year), "clients"),
            ("net_saving_eur", "total", "EUR"),
        ):
            rows = part[(part["metric"] == metric) & (part["year"] == year)]
            if rows.empty:
                continue
            total = rows["share_mean"].sum()
            pieces = ", ".join(
                f"{LEVER_WORDS.get(r.lever, r.lever)} {_signed(r.share_mean, unit)} "
                f"({_signed(r.share_low, unit)} to {_signed(r.share_high, unit)})"
                for r in rows.itertuples()
            )
            if metric == "caseload_december":
                what = f"{abs(total):,.0f} {'fewer' if total < 0 else 'more'} clients in December {last_year}"
            else:
                what = f"a net saving of EUR {total:,.0f} over the horizon (reference's spending minus the scenario's)"
            lines.append(f"Of {what} ({scenario} against {reference}): {pieces}.")
    return lines


def _signed(value: float, unit: str) -> str:
    if value != value:  # NaN: one replication gives no interval
        return "n/a"
    if unit == "EUR":
        return f"{value / 1e6:+,.2f} M"
    return f"{value:+,.0f}"


@dataclass(frozen=True)
class Plan:
    """The extra runs one comparison's attribution needs, and how to read them back."""

    scenario: str
    reference: str
    factors: Factors
    runs: dict[tuple[int, ...], Scenario]  # the proper combinations, by factor indices

    def key(self, combination: tuple[int, ...]) -> str:
        """The name a combination's run goes by among the comparison's runs."""
        return f"{self.scenario}~{''.join(map(str, combination))}"


def plan(scenarios: dict[str, Scenario]) -> list[Plan]:
    """One Plan per scenario against the reference (the first), for those that differ at all."""
    names = list(scenarios)
    reference = scenarios[names[0]]
    plans = []
    for name in names[1:]:
        fs = factors(reference, scenarios[name])
        if fs.factors:
            plans.append(Plan(name, names[0], fs, mixed_scenarios(reference, scenarios[name], fs)))
    return plans


def attribute_plans(
    plans: list[Plan], scenarios: dict[str, Scenario], yearlies: dict[str, pd.DataFrame], years: tuple[int, int]
) -> pd.DataFrame:
    """attribution.csv for every plan, from the yearly tables of the comparison's runs (its own
    scenarios by name, the combinations by Plan.key)."""
    parts = []
    for p in plans:
        k = len(p.factors.factors)
        everything = tuple(range(k))
        tables = {(): yearlies[p.reference], everything: yearlies[p.scenario]}
        runs = {(): scenarios[p.reference], everything: scenarios[p.scenario], **p.runs}
        tables.update({c: yearlies[p.key(c)] for c in p.runs})
        parts.append(attribute(tables, runs, p.factors, (p.scenario, p.reference), years))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
