"""What drives a difference (sim/analysis/attribution.py): factors, mixed scenarios and the Shapley
split, which adds up to the comparison's own difference in every replication."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from sim.analysis.attribution import (
    ATTRIBUTED,
    COLUMNS,
    MAX_FACTORS,
    AttributionError,
    Factor,
    Factors,
    Plan,
    attribute_plans,
    extra_runs,
    factors,
    grouped,
    mixed_scenario,
    plan,
    replication_shares,
    sentences,
    shapley_shares,
)
from sim.analysis.comparison import compare, run_paired, scenario_metrics
from sim.files import is_slug
from sim.model import run
from sim.parameters import PolicyPeriod
from sim.replications import SerialExecutor
from sim.scenario import load, with_overrides

YEARS = (2019, 2020)
SHORT = {"simulation": {"until_year": 2020}}


def short(name: str):
    return with_overrides(load(name).scenario, SHORT)


@pytest.fixture(scope="module")
def focus():
    return short("focus")


@pytest.fixture(scope="module")
def broad():
    return short("broad")


def _two_levers(focus):
    """focus with another door and caseload norm from 2019: two levers apart."""
    policy = focus.policies["focus"]
    both = policy.model_copy(
        update={
            "door": policy.door.model_copy(update={"gatekeeper_share": 0.3}),
            "staffing": policy.staffing.model_copy(update={"caseload_norm": 50.0}),
        }
    )
    return focus.model_copy(update={"name": "other", "policies": {**focus.policies, "focus": both}})


def _attribution(scenarios: dict, reps: int = 3):
    """The comparison and the attribution of `scenarios` (first = reference), as compare_to_folder makes them."""
    plans = plan(scenarios)
    runs = {**scenarios, **extra_runs(plans)}
    yearlies, failures = run_paired(runs, seed=5, reps=reps, executor=SerialExecutor())
    assert not failures
    names = list(scenarios)
    comparison = compare({n: yearlies[n] for n in names}, scenarios, YEARS)
    return comparison, attribute_plans(plans, runs, yearlies, YEARS), plans, yearlies


def _combinations(p, scenarios, yearlies):
    """The yearly tables and scenarios of every combination of a plan, keyed by factor indices."""
    everything = tuple(range(len(p.factors.factors)))
    tables = {(): yearlies[p.reference], everything: yearlies[p.scenario], **{c: yearlies[p.key(c)] for c in p.runs}}
    runs = {(): scenarios[p.reference], everything: scenarios[p.scenario], **p.runs}
    return tables, runs


# -- factors -------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_scenario_against_itself_differs_in_nothing_and_says_so(focus):
    same = focus.model_copy(update={"name": "focus-again"})
    assert factors(focus, same) == []
    (p,) = plan({"focus": focus, "focus-again": same})
    assert p.factors.factors == [] and p.runs == {} and p.combinations == 0
    assert "differs in no lever" in p.factors.note
    table = attribute_plans([p], {}, {}, YEARS)
    assert list(table.columns) == COLUMNS and table.empty
    assert sentences(table, YEARS, [p]) == [f"focus-again against focus: {p.factors.note}."]
    # taking any lever from an equal scenario changes nothing
    assert mixed_scenario(focus, same, frozenset({"door", "staffing"})).policy_schedule == focus.policy_schedule


@pytest.mark.unit
def test_factors_are_the_levers_in_force_that_differ_and_the_other_parts(focus, broad):
    assert factors(focus, broad) == ["door", "served", "staffing", "trajectories"]
    assert factors(focus, short("broad-open-door")) == ["served", "staffing", "trajectories"]
    assert factors(focus, short("focus-gatekeeper")) == ["door"]
    assert factors(focus, short("focus-participation")) == ["contact"]
    assert factors(focus, short("focus-corona")) == ["shocks"]
    assert factors(focus, short("broad-corona")) == ["door", "served", "staffing", "trajectories", "shocks"]
    # a policy defined but never in force does not count
    spare = focus.policies["broad"].model_copy(update={"description": "x"})
    unused = focus.model_copy(update={"policies": {**focus.policies, "spare": spare}})
    assert factors(focus, unused) == []
    # a part outside the policies named apart from the lever of the same name
    contact = with_overrides(focus, {"contact": {"contact_effect_max": 0.1}})
    assert factors(focus, contact) == ["contact parameters"]


@pytest.mark.unit
def test_scenarios_that_simulate_other_years_cannot_be_split(focus):
    longer = with_overrides(focus, {"simulation": {"burn_in_years": 2}})
    with pytest.raises(AttributionError, match="simulation.burn_in_years"):
        factors(focus, longer)
    (p,) = plan({"focus": focus, "longer": longer})
    assert p.factors.factors == [] and p.factors.note.startswith("not split: simulation.burn_in_years")


@pytest.mark.unit
def test_more_than_six_factors_are_grouped_and_it_is_said():
    levers = ["door", "served", "staffing", "contact", "trajectories", "aftercare"]
    assert grouped(levers).note is None and [f.name for f in grouped(levers).factors] == levers
    # the other parts first, then the levers listed last: six factors, none dropped
    fs = grouped([*levers, "work parameters", "distance parameters"])
    names = [f.name for f in fs.factors]
    assert names == ["door", "served", "staffing", "contact", "other levers", "other parameters"]
    assert fs.factors[4].members == ("trajectories", "aftercare")
    assert fs.factors[5].members == ("work parameters", "distance parameters")
    assert fs.factors[5].sections == ("work", "distance") and fs.factors[4].levers == ("trajectories", "aftercare")
    assert sorted(m for f in fs.factors for m in f.members) == sorted(
        [*levers, "work parameters", "distance parameters"]
    )
    assert fs.note == (
        "8 factors differ, more than 6: work parameters, distance parameters grouped as 'other parameters'; "
        "levers trajectories, aftercare grouped as 'other levers'"
    )
    # one other part is not grouped with itself
    fs = grouped([*levers[:5], "shocks", "money parameters"])
    assert [f.name for f in fs.factors] == [*levers[:5], "other parameters"] and "'other levers'" not in fs.note


@pytest.mark.unit
def test_grouping_is_said_in_the_plan_and_the_sentences(focus):
    policy = focus.policies["focus"]
    changed = policy.model_copy(
        update={
            "door": policy.door.model_copy(update={"gatekeeper_share": 0.2}),
            "served": policy.served.model_copy(update={"max_distance_months": 30.0}),
            "staffing": policy.staffing.model_copy(update={"caseload_norm": 60.0}),
            "contact": policy.contact.model_copy(update={"unserved_contacts_per_year": 2.0}),
            "trajectories": policy.trajectories.model_copy(update={"routes": ["development"]}),
            "aftercare": policy.aftercare.model_copy(update={"retention_share": 0.5}),
        }
    )
    other = with_overrides(
        focus.model_copy(update={"name": "other", "policies": {**focus.policies, "focus": changed}}),
        {"work": {"elasticity_work": 0.9}, "distance": {"max_months": 100.0}},
    )
    (p,) = plan({"focus": focus, "other": other})
    assert len(p.factors.factors) == MAX_FACTORS and len(p.runs) == 2**MAX_FACTORS - 2
    assert "other parameters" in [f.name for f in p.factors.factors]
    assert any("more than 6" in line for line in sentences(pd.DataFrame(columns=COLUMNS), YEARS, [p]))


# -- mixed scenarios -----------------------------------------------------------------------------------


def _same_run(a, b, seed: int = 2) -> None:
    pd.testing.assert_frame_equal(run(a, seed).yearly, run(b, seed).yearly)


@pytest.mark.invariants
@pytest.mark.parametrize("name", ["broad", "focus-participation", "focus-corona"])
def test_mixing_nothing_runs_as_the_reference_and_everything_as_the_scenario(focus, name):
    scenario = short(name)
    everything = frozenset(factors(focus, scenario))
    none, every = mixed_scenario(focus, scenario, frozenset()), mixed_scenario(focus, scenario, everything)
    assert none is not focus and every is not scenario  # synthesised, not handed back
    _same_run(none, focus)
    _same_run(every, scenario)
    assert is_slug(none.name) and is_slug(every.name)


@pytest.mark.invariants
def test_a_restart_of_an_unchanged_policy_stays_where_the_mix_follows_that_schedule(focus, broad):
    # the reference starts focus again in February 2020 under another name: its team is set anew
    # then, out of step with the quarterly reviews it had, which moves the caseload
    again = focus.policies["focus"].model_copy(update={"description": "focus again"})
    restarted = focus.model_copy(
        update={
            "name": "restarted",
            "policies": {**focus.policies, "focus-again": again},
            "policy_schedule": [*focus.policy_schedule, PolicyPeriod(start=dt.date(2020, 2, 1), policy="focus-again")],
        }
    )
    plain, once_more = run(focus, 2).yearly, run(restarted, 2).yearly
    assert (plain["work_consultants"] != once_more["work_consultants"]).any()
    _same_run(mixed_scenario(restarted, broad, frozenset()), restarted)
    _same_run(mixed_scenario(restarted, broad, frozenset(factors(restarted, broad))), broad)
    _same_run(mixed_scenario(broad, restarted, frozenset(factors(broad, restarted))), restarted)
    door = mixed_scenario(restarted, broad, frozenset({"door"}))
    assert [p.start.year for p in door.policy_schedule] == [2014, 2019, 2020]
    assert door.name == "restarted-with-door-of-broad"
    assert door.policies["focus with door of broad"].door == broad.policies["broad"].door


@pytest.mark.unit
def test_a_mix_names_only_factors(focus, broad):
    with pytest.raises(ValueError, match="dor: not a factor"):
        mixed_scenario(focus, broad, frozenset({"dor"}))


# -- the split ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broad_split(focus, broad):
    scenarios = {"focus": focus, "broad": broad}
    comparison, shares, plans, yearlies = _attribution(scenarios)
    return scenarios, comparison, shares, plans, yearlies


@pytest.mark.invariants
def test_shares_add_up_to_the_difference_in_every_replication_year_and_metric(broad_split):
    scenarios, comparison, shares, (p,), yearlies = broad_split
    assert len(p.runs) == 2**4 - 2
    tables, runs = _combinations(p, scenarios, yearlies)
    per = replication_shares(tables, runs, p.factors, YEARS)
    summed = per.groupby(["year", "replication"])[ATTRIBUTED].sum()
    own = {n: scenario_metrics(yearlies[n], scenarios[n], YEARS) for n in ("focus", "broad")}
    difference = own["broad"][ATTRIBUTED[:-1]] - own["focus"][ATTRIBUTED[:-1]]
    difference["net_saving_eur"] = own["focus"]["total_spending_eur"] - own["broad"]["total_spending_eur"]
    for (year, replication), row in summed.iterrows():
        if year == "total":
            continue
        expected = difference.loc[(int(year), replication)]
        assert row.to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9, abs=1e-6), (year, replication)
    # and the means add up to comparison.csv's differences, horizon totals included
    total = shares.groupby(["year", "metric"])["share_mean"].sum()
    table = comparison.table[comparison.table["scenario"] == "broad"].set_index(["year", "metric"])["diff_mean"]
    for (year, metric), value in total.items():
        assert value == pytest.approx(table.loc[(year, metric)], rel=1e-9, abs=1e-6), (year, metric)
    assert list(shares.columns) == COLUMNS
    assert set(shares["metric"]) == set(ATTRIBUTED) and set(shares["year"]) == {"2019", "2020", "total"}
    assert set(shares["lever"]) == {"door", "served", "staffing", "trajectories"}


@pytest.mark.invariants
def test_with_one_differing_lever_its_share_is_the_whole_difference_in_each_replication(focus):
    gate = short("focus-gatekeeper")
    scenarios = {"focus": focus, "focus-gatekeeper": gate}
    comparison, shares, (p,), yearlies = _attribution(scenarios)
    assert [f.name for f in p.factors.factors] == ["door"] and p.runs == {}
    tables, runs = _combinations(p, scenarios, yearlies)
    per = replication_shares(tables, runs, p.factors, YEARS).set_index(["year", "replication"])
    own = {n: scenario_metrics(yearlies[n], scenarios[n], YEARS) for n in scenarios}
    for metric in ATTRIBUTED[:-1]:
        for (year, replication), value in own["focus-gatekeeper"][metric].items():
            assert per.loc[(str(year), replication), metric] == value - own["focus"].loc[(year, replication), metric]
    table = comparison.table[comparison.table["scenario"] == "focus-gatekeeper"].set_index(["year", "metric"])
    for row in shares.itertuples():
        expected = table.loc[(row.year, row.metric)]
        assert row.share_mean == pytest.approx(expected.diff_mean, rel=1e-12, abs=1e-9)
        assert row.share_low == pytest.approx(expected.diff_low, rel=1e-9, abs=1e-6)
        assert row.share_high == pytest.approx(expected.diff_high, rel=1e-9, abs=1e-6)


@pytest.mark.invariants
def test_two_levers_split_by_the_shapley_formula_by_hand(focus):
    _, shares, (p,), yearlies = _attribution({"focus": focus, "other": _two_levers(focus)}, reps=2)
    assert [f.name for f in p.factors.factors] == ["door", "staffing"]
    v = {(): yearlies["focus"], (0,): yearlies[p.key((0,))], (1,): yearlies[p.key((1,))], (0, 1): yearlies["other"]}
    caseload = {
        c: y[y["year"] == 2020].set_index("replication")["caseload_december"].astype(float) for c, y in v.items()
    }
    door = 0.5 * (caseload[(0,)] - caseload[()]) + 0.5 * (caseload[(0, 1)] - caseload[(1,)])
    staffing = 0.5 * (caseload[(1,)] - caseload[()]) + 0.5 * (caseload[(0, 1)] - caseload[(0,)])
    got = shares[(shares["year"] == "2020") & (shares["metric"] == "caseload_december")].set_index("lever")
    assert got.loc["door", "share_mean"] == pytest.approx(door.mean(), abs=1e-9)
    assert got.loc["staffing", "share_mean"] == pytest.approx(staffing.mean(), abs=1e-9)


@pytest.mark.unit
def test_shapley_weights_give_each_order_the_same_say():
    # v(S) = sum of S's items plus their pairwise products: a share is its own item plus half of each product
    items = [1.0, 2.0, 5.0]
    k = len(items)

    def value(c):
        return sum(items[i] for i in c) + sum(items[i] * items[j] for i, j in itertools.combinations(c, 2))

    frames = {
        c: pd.DataFrame({"x": [value(c)]}) for size in range(k + 1) for c in itertools.combinations(range(k), size)
    }
    shares = [s["x"].iloc[0] for s in shapley_shares(frames, k)]
    expected = [items[i] + 0.5 * sum(items[i] * items[j] for j in range(k) if j != i) for i in range(k)]
    assert shares == pytest.approx(expected, rel=1e-14)
    assert sum(shares) == pytest.approx(value(tuple(range(k))) - value(()), rel=1e-14)


# -- in words and on the command line -------------------------------------------------------------------


@pytest.mark.unit
def test_the_split_in_plain_words():
    table = pd.DataFrame(
        [
            ["2030", "caseload_december", "broad", "focus", "door", -285.2, -310.4, -260.1],
            ["2030", "caseload_december", "broad", "focus", "served", -150.0, -170.0, -130.0],
            ["2030", "caseload_december", "broad", "focus", "staffing", -82.0, -95.0, -69.0],
            ["total", "net_saving_eur", "broad", "focus", "door", 25_123_456.0, 20_049_999.0, 30_250_001.0],
            ["total", "net_saving_eur", "broad", "focus", "served", -1_234_567.0, -2_000_000.0, -468_000.0],
        ],
        columns=COLUMNS,
    )
    note = Factors([Factor("door", ("door",))], "7 factors differ, more than 6: shocks, money grouped")
    p = Plan("broad", "focus", note, {})
    lines = sentences(table, (2019, 2030), [p])
    assert lines[0] == (
        "Of 517 fewer clients in December 2030 under broad than under focus (broad - focus): "
        "door -285 (-310 to -260), who is served -150 (-170 to -130), staffing -82 (-95 to -69); "
        "95% intervals over paired replications."
    )
    assert lines[1].startswith(
        "Of a net saving of EUR 23.9 M over 2019-2030 under broad against focus (focus - broad spending, EUR M): "
    )
    assert "door +25.1 (+20.0 to +30.3), who is served -1.2 (-2.0 to -0.5)" in lines[1]
    assert lines[2] == "broad against focus: 7 factors differ, more than 6: shocks, money grouped."


runner = CliRunner()


@pytest.mark.cli
def test_compare_writes_the_split_says_it_and_skips_it_when_asked(tmp_path):
    out = tmp_path / "gate"
    args = [
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        "broad-open-door",
        "--reps",
        "2",
        "--until",
        "2020",
        "--workers",
        "2",
        "--seed",
        "3",
    ]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    shares = pd.read_csv(out / "attribution.csv", dtype={"year": str})
    assert list(shares.columns) == COLUMNS
    assert set(shares["lever"]) == {"served", "staffing", "trajectories"}
    assert (
        "clients in December 2020 under broad-open-door than under focus (broad-open-door - focus): who is served"
        in (result.output)
    )
    assert "Of a net saving of EUR" in result.output
    recorded = json.loads((out / "manifest.json").read_text())["attribution"]
    (comparison,) = recorded["comparisons"]
    assert recorded["done"] and comparison["combinations"] == 8 and comparison["extra_runs_per_replication"] == 6
    assert [f["name"] for f in comparison["factors"]] == ["served", "staffing", "trajectories"]
    assert comparison["note"] is None
    skipped = tmp_path / "skipped"
    result = runner.invoke(app, [*args, "--no-attribution", "--out", str(skipped)])
    assert result.exit_code == 0, result.output
    assert not (skipped / "attribution.csv").exists() and "Of " not in result.output
    assert json.loads((skipped / "manifest.json").read_text())["attribution"]["done"] is False


@pytest.mark.cli
def test_compare_against_an_equal_scenario_has_nothing_to_split_and_says_so(tmp_path):
    again = tmp_path / "focus-again.toml"
    again.write_text('include = "focus"\n')
    out = tmp_path / "same"
    args = [
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        str(again),
        "--reps",
        "2",
        "--until",
        "2019",
        "--out",
        str(out),
        "--report",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "focus-again against focus: differs in no lever or other part." in result.output
    assert "Of " not in result.output
    shares = pd.read_csv(out / "attribution.csv")
    assert list(shares.columns) == COLUMNS and shares.empty
    comparison = pd.read_csv(out / "comparison.csv")
    assert (comparison["diff_mean"] == 0).all()  # zero everywhere
    (recorded,) = json.loads((out / "manifest.json").read_text())["attribution"]["comparisons"]
    assert recorded["factors"] == [] and recorded["combinations"] == 0 and recorded["extra_runs_per_replication"] == 0
    assert "differs in no lever or other part" in (out / "report.html").read_text(encoding="utf-8")
