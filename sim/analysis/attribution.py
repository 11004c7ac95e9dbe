"""What drives a difference: the Shapley split of a comparison over what its scenarios differ in.

A comparison of B against A (the reference) differs in some of the policy levers in force
(sim/parameters.LEVERS, judged period by period over both schedules) and perhaps in other parts
of the scenario (a shock, the inflow, ...). Each is a factor (`factors`). Every combination of
factors is a scenario of its own: A with those factors taken from B (`mixed_scenario`); with k
factors there are 2^k, of which A (none) and B (all) are the comparison's own runs. All are run
on the same paired replications (common random numbers), and each factor's share of a metric is
its Shapley value, the mean of its marginal contribution over the orders in which the factors
can be added (Shapley 1953; for model outputs e.g. Owen 2014, "Sobol' indices and Shapley value"):

    share_i = sum over S not holding i of |S|! (k - |S| - 1)! / k! x (v(S + i) - v(S))

per replication, so the shares add up to v(all) - v(none), the replication's difference, exactly.
Each share's mean gets the comparison's paired-t interval over replications. Above MAX_FACTORS
factors the other parts of the scenario are grouped into one, then the levers listed last in
LEVERS; the grouping is said (`Factors.note`), never silent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.comparison import ComparisonError, _totals, paired_interval, scenario_metrics
from sim.analysis.summary import count, difference_of, millions
from sim.files import is_slug, slugify
from sim.parameters import LEVERS, Policy, PolicyPeriod, Scenario

MAX_FACTORS = 6
"""Most factors split out one by one (2^6 = 64 combinations); above it they are grouped."""
SECTIONS = {
    "region": "region",
    "drivers": "drivers",
    "inflow": "inflow parameters",
    "chain": "chain parameters",
    "work": "work parameters",
    "distance": "distance parameters",
    "contact": "contact parameters",
    "trajectories": "trajectories parameters",
    "shocks": "shocks",
    "money": "money parameters",
}
"""The scenario's parts outside its policies that a comparison may also differ in, by the name of
their factor (`contact` and `trajectories` are also levers, so a part is named apart from them).
`simulation` is not one: paired replications need the same start, horizon and burn-in."""
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
"""A lever as the sentences and the waterfall name it."""
OTHER_PARAMETERS = "other parameters"
OTHER_LEVERS = "other levers"


class AttributionError(ComparisonError):
    """Two scenarios whose difference cannot be split (they simulate different spans)."""


# -- what two scenarios differ in --------------------------------------------------------------------


def _in_force(schedule: list[PolicyPeriod], day: dt.date) -> str:
    """The policy in force on a date (the first period also covers the days before it)."""
    name = schedule[0].policy
    for period in schedule:
        if period.start <= day:
            name = period.policy
    return name


def _union_periods(reference: Scenario, scenario: Scenario) -> list[tuple[dt.date, str, str]]:
    """(start, reference's policy, scenario's policy) over the union of both schedules' starts."""
    starts = sorted({p.start for p in reference.policy_schedule} | {p.start for p in scenario.policy_schedule})
    return [(d, _in_force(reference.policy_schedule, d), _in_force(scenario.policy_schedule, d)) for d in starts]


def differing_levers(reference: Scenario, scenario: Scenario) -> list[str]:
    """Levers whose setting differs between the policies in force in some period (a policy
    defined but never in force does not count)."""
    periods = _union_periods(reference, scenario)
    return [
        lever
        for lever in LEVERS
        if any(getattr(reference.policies[a], lever) != getattr(scenario.policies[b], lever) for _, a, b in periods)
    ]


def factors(reference: Scenario, scenario: Scenario) -> list[str]:
    """What `scenario` differs from `reference` in: each lever of the policies in force (in
    LEVERS' order), then each other part of the scenario (by its factor name in SECTIONS).

    AttributionError when the two simulate different spans: then no run of one is a pair of
    a run of the other.
    """
    if reference.simulation != scenario.simulation:
        fields = [
            f
            for f in type(reference.simulation).model_fields
            if getattr(reference.simulation, f) != getattr(scenario.simulation, f)
        ]
        raise AttributionError(
            f"simulation.{fields[0]}: {scenario.name} has {getattr(scenario.simulation, fields[0])}, "
            f"{reference.name} {getattr(reference.simulation, fields[0])}; a difference can only be split "
            "between scenarios that simulate the same years"
        )
    sections = [name for section, name in SECTIONS.items() if getattr(reference, section) != getattr(scenario, section)]
    return [*differing_levers(reference, scenario), *sections]


def _when(starts: list[dt.date], i: int) -> str:
    """A period of the union schedule in words, as `sim.policies.describe` says it."""
    last = starts[i + 1] - dt.timedelta(days=1) if i + 1 < len(starts) else None
    if i == 0:
        return f"until {last}" if last else "throughout"
    return f"{starts[i]} to {last}" if last else f"from {starts[i]}"


def _shown(value, width: int = 70) -> str:
    if value is None:
        return "(not set)"
    text = str(value)
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 1e6 else f"{value:.6g}"
    return text if len(text) <= width else text[: width - 3] + "..."


def _shocks_in_words(scenario: Scenario) -> str:
    from sim.shocks import describe_shock

    return "; ".join(f"{name} from {s.start} to {s.end} ({describe_shock(s)})" for name, s in scenario.shocks.items())


def difference_lines(reference: Scenario, scenario: Scenario) -> list[str]:
    """How `scenario`'s resolved settings differ from `reference`'s, in words (`caseload scenarios
    diff`): the levers of the policies in force, period by period over both schedules, as
    `sim.policies.describe_levers` says them; then every other setting that differs, by part of
    the scenario, as `reference's value -> scenario's`. Name and description aside."""
    from sim.analysis.comparison import flatten
    from sim.policies import describe_levers

    a, b = reference.name, scenario.name
    lines = [f"{b} against {a} ({a}'s setting -> {b}'s):"]
    periods = _union_periods(reference, scenario)
    starts = [start for start, _, _ in periods]
    policy_lines = []
    for i, (_, pa, pb) in enumerate(periods):
        policy_a, policy_b = reference.policies[pa], scenario.policies[pb]
        levers = [lever for lever in LEVERS if getattr(policy_a, lever) != getattr(policy_b, lever)]
        if not levers:
            continue
        words_a = describe_levers(policy_a, reference.money.work_consultant_eur_per_fte_year)
        words_b = describe_levers(policy_b, scenario.money.work_consultant_eur_per_fte_year)
        policy_lines.append(f"  {_when(starts, i)}: policy {pa} -> {pb}")
        policy_lines += [f"    {LEVER_WORDS[lever]}: {words_a[lever]} -> {words_b[lever]}" for lever in levers]
    lines.append("Policies in force, lever by lever:")
    lines += policy_lines or ["  the same levers in every period"]
    flat_a, flat_b = flatten(reference.model_dump(mode="json")), flatten(scenario.model_dump(mode="json"))
    other = []
    for section, words in {"simulation": "simulation", **SECTIONS}.items():
        if getattr(reference, section) == getattr(scenario, section):
            continue
        if section == "shocks" and not (reference.shocks and scenario.shocks):  # one has none: say the other's
            other.append(f"  shocks: {_shocks_in_words(reference) or 'none'} -> {_shocks_in_words(scenario) or 'none'}")
            continue
        paths = sorted(p for p in set(flat_a) | set(flat_b) if p == section or p.startswith(f"{section}."))
        changed = [p for p in paths if flat_a.get(p) != flat_b.get(p)]
        other.append(f"  {words}:")
        other += [f"    {p}: {_shown(flat_a.get(p))} -> {_shown(flat_b.get(p))}" for p in changed]
    lines.append("Other settings:")
    lines += other or ["  the same"]
    return lines


@dataclass(frozen=True)
class Factor:
    """One factor of the split: a lever, another part of the scenario, or a group of them."""

    name: str
    members: tuple[str, ...]  # the factors of `factors` it holds

    @property
    def levers(self) -> tuple[str, ...]:
        return tuple(m for m in self.members if m in LEVERS)

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(section for section, name in SECTIONS.items() if name in self.members)


@dataclass(frozen=True)
class Factors:
    """The factors of one comparison, and what grouping was needed to keep them few."""

    factors: list[Factor]
    note: str | None  # says which were grouped, or why there is nothing to split


def grouped(names: list[str]) -> Factors:
    """The factors of `factors`, each on its own, or above MAX_FACTORS grouped: first every part
    outside the policies into "other parameters", then the levers listed last in LEVERS (the
    ones that usually move the caseload least) into "other levers", until MAX_FACTORS remain."""
    levers = [Factor(n, (n,)) for n in names if n in LEVERS]
    others = [Factor(n, (n,)) for n in names if n not in LEVERS]
    notes = []
    if len(levers) + len(others) > MAX_FACTORS and len(others) > 1:
        notes.append(f"{', '.join(f.name for f in others)} grouped as '{OTHER_PARAMETERS}'")
        others = [Factor(OTHER_PARAMETERS, tuple(f.name for f in others))]
    if len(levers) + len(others) > MAX_FACTORS:
        keep = MAX_FACTORS - len(others) - 1
        rest = levers[keep:]
        notes.append(f"levers {', '.join(f.name for f in rest)} grouped as '{OTHER_LEVERS}'")
        levers = [*levers[:keep], Factor(OTHER_LEVERS, tuple(f.name for f in rest))]
    note = f"{len(names)} factors differ, more than {MAX_FACTORS}: " + "; ".join(notes) if notes else None
    return Factors([*levers, *others], note)


# -- the scenario with some factors taken from the other -------------------------------------------


def _levers_of(policy: Policy) -> tuple:
    return tuple(getattr(policy, lever) for lever in LEVERS)


def _mixed_name(reference: Scenario, scenario: Scenario, chosen: frozenset[str]) -> str:
    """A readable slug: `focus-with-door-staffing-of-broad`, or a short hash where that is too long."""
    order = [*LEVERS, *SECTIONS.values()]
    taken = "-".join(slugify(n) for n in sorted(chosen, key=order.index)) or "nothing"
    name = slugify(f"{reference.name}-with-{taken}-of-{scenario.name}")
    if is_slug(name) and len(name) == len(f"{reference.name}-with-{taken}-of-{scenario.name}"):
        return name
    digest = hashlib.sha1(f"{reference.name}|{scenario.name}|{taken}".encode()).hexdigest()[:10]
    return slugify(f"{reference.name[:60]}-mix-{digest}")


def mixed_scenario(reference: Scenario, scenario: Scenario, chosen: frozenset[str]) -> Scenario:
    """The reference with the `chosen` factors (names as `factors` gives them) taken from `scenario`.

    Other parts of the scenario are taken whole. Chosen levers are taken period by period: over
    the union of both schedules' starts, each period's policy is the reference's policy in force
    with the chosen levers replaced by those of the scenario's policy in force. A period whose
    levers are those of the period before continues it (its team and guidance go on), as in a
    schedule written by hand, unless the schedule the mix follows starts a new period there:
    the scenario's when the mix takes every lever that differs from it, else the reference's.
    So nothing chosen runs exactly as the reference and everything as the scenario (the tests
    check both, bit for bit), and the split adds up to the comparison's own difference.
    """
    known = {*LEVERS, *SECTIONS.values()}
    unknown = sorted(chosen - known)
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not a factor; give levers ({', '.join(LEVERS)}) or {', '.join(SECTIONS.values())}"
        )
    differing = set(differing_levers(reference, scenario))
    levers = {lever for lever in chosen if lever in LEVERS}
    everything = set(factors(reference, scenario)) <= chosen
    # the mix runs the scenario's own policies when it takes every lever that differs from it
    # (and, if none differs, everything else too), the reference's when it takes none of them
    follows_scenario = differing <= levers and (bool(differing) or everything)
    follows_reference = not follows_scenario and not (levers & differing)
    timeline = scenario if follows_scenario else reference

    policies: dict[str, Policy] = {}
    periods: list[tuple[dt.date, str]] = []
    # where the schedule the mix follows starts a new period with the same levers (its first
    # start is no restart: the first period covers the days before it)
    restarts = {p.start for p in timeline.policy_schedule[1:]}
    for start, a, b in _union_periods(reference, scenario):
        if follows_scenario:
            label, policy = b, scenario.policies[b]
        elif follows_reference:
            label, policy = a, reference.policies[a]
        else:
            policy = reference.policies[a].model_copy(
                update={lever: getattr(scenario.policies[b], lever) for lever in levers}
            )
            label = _label(policy, reference.policies[a], scenario.policies[b], a, b, levers)
            policy = policy.model_copy(update={"description": label})
            while label in policies and _levers_of(policies[label]) != _levers_of(policy):
                label += "'"  # the reference and the scenario name different policies alike
        if periods and _levers_of(policies[periods[-1][1]]) == _levers_of(policy) and start not in restarts:
            continue
        policies.setdefault(label, policy)
        periods.append((start, label))
    # the first period covers the days before it; its date counts only as the start of its
    # guidance, so it is that of the schedule the mix follows where the periods allow
    first = timeline.policy_schedule[0].start
    if len(periods) == 1 or periods[1][0] > first:
        periods[0] = (first, periods[0][1])
    schedule = [PolicyPeriod(start=start, policy=label) for start, label in periods]
    parts = {section: getattr(scenario, section) for section, name in SECTIONS.items() if name in chosen}
    return Scenario.model_validate(
        {
            **dict(reference),
            **parts,
            "name": _mixed_name(reference, scenario, chosen),
            "description": f"{reference.name} with {', '.join(sorted(chosen)) or 'nothing'} of {scenario.name}",
            "policies": policies,
            "policy_schedule": schedule,
        }
    )


def _label(policy: Policy, a_policy: Policy, b_policy: Policy, a: str, b: str, levers: set[str]) -> str:
    """A mixed policy's name: the reference's or the scenario's where it is one of theirs."""
    if _levers_of(policy) == _levers_of(a_policy):
        return a
    if _levers_of(policy) == _levers_of(b_policy):
        return b
    taken = [lever for lever in LEVERS if lever in levers and getattr(a_policy, lever) != getattr(b_policy, lever)]
    return f"{a} with {', '.join(taken)} of {b}"


# -- the split ----------------------------------------------------------------------------------------


def combinations(k: int) -> list[tuple[int, ...]]:
    """Every combination of k factors, as indices, from none to all."""
    return [c for size in range(k + 1) for c in itertools.combinations(range(k), size)]


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
    against the reference's total spending (as `compare` makes it)."""
    frame = own[[m for m in ATTRIBUTED if m != "net_saving_eur"]].copy()
    frame["net_saving_eur"] = reference_total - own["total_spending_eur"].to_numpy()
    return frame


def replication_shares(
    yearlies: dict[tuple[int, ...], pd.DataFrame],
    scenarios: dict[tuple[int, ...], Scenario],
    fs: Factors,
    years: tuple[int, int],
) -> pd.DataFrame:
    """Each factor's share of each attributed metric in every replication, per year and for the
    horizon (`year` "total", the totals made as comparison.csv makes them), from the yearly
    tables of every combination (keyed as `combinations` gives them) on their common
    (year, replication) rows. Columns: factor, year, replication, then the metrics."""
    k = len(fs.factors)
    own = {c: scenario_metrics(yearlies[c], scenarios[c], years) for c in yearlies}
    common = sorted(set.intersection(*(set(f.index) for f in own.values())))
    index = pd.MultiIndex.from_tuples(common, names=["year", "replication"])
    reference_total = own[()].loc[index, "total_spending_eur"].to_numpy()
    values = {c: _values(f.loc[index], reference_total) for c, f in own.items()}
    totals = {c: _totals(v) for c, v in values.items()}
    parts = []
    for factor, yearly, total in zip(fs.factors, shapley_shares(values, k), shapley_shares(totals, k), strict=True):
        total = total.assign(year="total").set_index("year", append=True).swaplevel()
        for frame in (yearly, total):
            frame = frame.reset_index()
            frame["year"] = frame["year"].astype(str)
            parts.append(frame.assign(factor=factor.name))
    frame = pd.concat(parts, ignore_index=True)
    return frame[["factor", "year", "replication", *ATTRIBUTED]]


def attribute(
    yearlies: dict[tuple[int, ...], pd.DataFrame],
    scenarios: dict[tuple[int, ...], Scenario],
    fs: Factors,
    names: tuple[str, str],
    years: tuple[int, int],
) -> pd.DataFrame:
    """attribution.csv's rows for one comparison (`names`: scenario, reference): the mean of each
    factor's share over replications and its paired-t interval (`replication_shares`)."""
    shares = replication_shares(yearlies, scenarios, fs, years)
    rows = []
    order = {f.name: i for i, f in enumerate(fs.factors)}
    for (year, factor), part in shares.groupby(["year", "factor"], sort=False):
        for metric in ATTRIBUTED:
            mean, low, high = paired_interval(part[metric].to_numpy())
            rows.append([year, metric, names[0], names[1], factor, mean, low, high, order[factor]])
    table = pd.DataFrame(rows, columns=[*COLUMNS, "order"])
    # years in order with the horizon last, then metric, then the factors as `factors` lists them
    table["_total"] = table["year"] == "total"
    table["_metric"] = table["metric"].map(ATTRIBUTED.index)
    table = table.sort_values(["_total", "year", "_metric", "order"], kind="stable")
    return table[COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class Plan:
    """One comparison's split: its factors, and the extra runs it needs (every combination but
    none and all, which are the comparison's own reference and scenario)."""

    scenario: str
    reference: str
    factors: Factors
    runs: dict[tuple[int, ...], Scenario]  # the proper combinations, by factor indices

    def key(self, combination: tuple[int, ...]) -> str:
        """The name a combination's run goes by among the comparison's runs (and in the list of
        failed replications): `broad~door+served`; no scenario's name holds a `~`."""
        return f"{self.scenario}~{'+'.join(self.factors.factors[i].name for i in combination)}"

    @property
    def combinations(self) -> int:
        return 2 ** len(self.factors.factors) if self.factors.factors else 0


def plan(scenarios: dict[str, Scenario]) -> list[Plan]:
    """One Plan per scenario against the reference (the first); one that differs in nothing, or
    cannot be split, has no factors and says why."""
    names = list(scenarios)
    reference = scenarios[names[0]]
    plans = []
    for name in names[1:]:
        scenario = scenarios[name]
        try:
            fs = grouped(factors(reference, scenario))
        except AttributionError as exc:
            fs = Factors([], f"not split: {exc}")
        if not fs.factors:
            plans.append(Plan(name, names[0], Factors([], fs.note or "differs in no lever or other part"), {}))
            continue
        k = len(fs.factors)
        runs = {
            c: mixed_scenario(reference, scenario, frozenset(m for i in c for m in fs.factors[i].members))
            for c in combinations(k)
            if 0 < len(c) < k
        }
        plans.append(Plan(name, names[0], fs, runs))
    return plans


def extra_runs(plans: list[Plan]) -> dict[str, Scenario]:
    """The runs the plans need besides the comparison's own, by the name they go by."""
    return {p.key(c): mixed for p in plans for c, mixed in p.runs.items()}


def attribute_plans(
    plans: list[Plan], scenarios: dict[str, Scenario], yearlies: dict[str, pd.DataFrame], years: tuple[int, int]
) -> pd.DataFrame:
    """attribution.csv for every plan with factors, from the yearly tables of the comparison's
    runs (its own scenarios by name, the combinations by Plan.key)."""
    parts = []
    for p in plans:
        if not p.factors.factors:
            continue
        everything = tuple(range(len(p.factors.factors)))
        tables = {(): yearlies[p.reference], everything: yearlies[p.scenario]}
        runs = {(): scenarios[p.reference], everything: scenarios[p.scenario], **p.runs}
        tables.update({c: yearlies[p.key(c)] for c in p.runs})
        parts.append(attribute(tables, runs, p.factors, (p.scenario, p.reference), years))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def total_shares(
    plans: list[Plan], scenarios: dict[str, Scenario], drawn: dict[str, pd.DataFrame], years: tuple[int, int]
) -> pd.DataFrame:
    """The total interval of each share (parameters and simulation): its 2.5th and 97.5th percentiles
    over the draws x replications of every combination (`drawn`: the runs' drawn yearly tables,
    keyed as `attribute_plans` keys the yearly ones). Columns: year, metric, scenario, reference,
    lever, total_low, total_high."""
    from sim.analysis.draws import total_interval

    rows = []
    for p in plans:
        if not p.factors.factors:
            continue
        everything = tuple(range(len(p.factors.factors)))
        tables = {(): drawn[p.reference], everything: drawn[p.scenario], **{c: drawn[p.key(c)] for c in p.runs}}
        runs = {(): scenarios[p.reference], everything: scenarios[p.scenario], **p.runs}
        shares = replication_shares(tables, runs, p.factors, years)
        for (year, factor), part in shares.groupby(["year", "factor"], sort=False):
            for metric in ATTRIBUTED:
                low, high = total_interval(part[metric].to_numpy())
                rows.append([year, metric, p.scenario, p.reference, factor, low, high])
    return pd.DataFrame(rows, columns=["year", "metric", "scenario", "reference", "lever", "total_low", "total_high"])


# -- in plain words -----------------------------------------------------------------------------------


def _number(value: float, unit: str, signed: bool = True) -> str:
    """Euros in millions with one decimal, clients whole (tenths below 10)."""
    if unit == "EUR":
        return millions(value, signed, unit=False)
    if value != value:  # NaN: one replication gives no interval
        return "n/a"
    return count(value, 1 if abs(value) < 10 and round(value, 1) != round(value) else 0, signed)


def sentences(table: pd.DataFrame, years: tuple[int, int], plans: list[Plan] | None = None) -> list[str]:
    """The split in plain words, for each scenario against the reference: the last year's
    December caseload and the horizon's net saving, each share with its 95% interval; then any
    grouping of factors, or why a scenario was not split."""
    lines = []
    for (scenario, reference), part in table.groupby(["scenario", "reference"], sort=False):
        for metric, year in (("caseload_december", str(years[1])), ("net_saving_eur", "total")):
            rows = part[(part["metric"] == metric) & (part["year"] == year)]
            if rows.empty:
                continue
            unit = "EUR" if metric.endswith("_eur") else "clients"
            total = rows["share_mean"].sum()
            drawn = "total_low" in rows
            pieces = ", ".join(
                f"{LEVER_WORDS.get(r.lever, r.lever)} {_number(r.share_mean, unit)} "
                + (
                    f"(noise {_number(r.share_low, unit)} to {_number(r.share_high, unit)}; "
                    f"total {_number(r.total_low, unit)} to {_number(r.total_high, unit)})"
                    if drawn
                    else f"({_number(r.share_low, unit)} to {_number(r.share_high, unit)})"
                )
                for r in rows.itertuples()
            )
            if metric == "caseload_december":
                size = _number(abs(total), unit, signed=False)
                what = (
                    f"{size} {'fewer' if total < 0 else 'more'} clients in December {years[1]} under {scenario} "
                    f"than under {reference} ({difference_of(scenario, reference)})"
                )
            else:
                what = (
                    f"a net saving of EUR {_number(total, unit, signed=False)} M over {years[0]}-{years[1]} under "
                    f"{scenario} against {reference} ({difference_of(reference, scenario)} spending, EUR M"
                    + ("; below 0: it spends more)" if total < 0 else ")")
                )
            over = (
                "95% intervals: simulation noise; parameters and simulation (draws x replications)"
                if drawn
                else "95% intervals over paired replications"
            )
            lines.append(f"Of {what}: {pieces}; {over}.")
    for p in plans or []:
        if p.factors.note:
            lines.append(f"{p.scenario} against {p.reference}: {p.factors.note}.")
    return lines
