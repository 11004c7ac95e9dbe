"""What drives a difference (sim/analysis/attribution.py): factors, mixed scenarios and the Shapley
split, which adds up to the comparison's own difference in every replication."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from sim.analysis.attribution import (
    ATTRIBUTED,
    COLUMNS,
    MAX_FACTORS,
    attribute_plans,
    factors,
    mix,
    mixed_scenario,
    plan,
    sentences,
    shapley_shares,
)
from sim.analysis.comparison import compare, run_paired
from sim.model import run
from sim.replications import SerialExecutor
from sim.scenario import load, with_overrides

YEARS = (2019, 2020)
SHORT = {"simulation": {"until_year": 2020}}


def short(name: str, **overrides):
    return with_overrides(load(name).scenario, {**SHORT, **overrides})


@pytest.fixture(scope="module")
def focus():
    return short("focus")


def _attribution(scenarios: dict, reps: int = 3):
    """The comparison and the attribution of `scenarios` (first = reference), as compare_to_folder makes them."""
    plans = plan(scenarios)
    runs = {**scenarios, **{p.key(c): s for p in plans for c, s in p.runs.items()}}
    yearlies, failures = run_paired(runs, seed=5, reps=reps, executor=SerialExecutor())
    assert not failures
    names = list(scenarios)
    comparison = compare({n: yearlies[n] for n in names}, scenarios, YEARS)
    return comparison, attribute_plans(plans, runs, yearlies, YEARS), plans, yearlies


@pytest.mark.unit
def test_a_scenario_against_itself_differs_in_nothing(focus):
    same = focus.model_copy(update={"name": "focus-again"})
    assert factors(focus, same).factors == []
    assert plan({"focus": focus, "focus-again": same}) == []


@pytest.mark.unit
def test_factors_are_the_levers_in_force_that_differ_and_the_other_parts(focus):
    broad = short("broad")
    assert [f.name for f in factors(focus, broad).factors] == ["door", "served", "staffing", "trajectories"]
    corona = short("focus-corona")
    assert [f.name for f in factors(focus, corona).factors] == ["shocks"]
    # a policy defined but never in force does not count
    unused = focus.model_copy(
        update={
            "policies": {**focus.policies, "spare": focus.policies["broad"].model_copy(update={"description": "x"})}
        }
    )
    assert factors(focus, unused).factors == []


@pytest.mark.unit
def test_more_than_six_factors_are_grouped_and_it_is_said(focus):
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
        focus.model_copy(update={"policies": {**focus.policies, "focus": changed}}),
        {"work": {"elasticity_work": 0.9}, "distance": {"max_months": 100.0}},
    )
    fs = factors(focus, other)
    assert len(fs.factors) <= MAX_FACTORS
    assert "other parameters" in [f.name for f in fs.factors]
    assert "more than 6 factors differ" in fs.note and "work parameters" in fs.note
    held = sorted(x for f in fs.factors for x in (*f.levers, *f.sections))
    assert held == sorted(["door", "served", "staffing", "contact", "trajectories", "aftercare", "work", "distance"])


@pytest.mark.invariants
def test_mixing_every_lever_in_gives_the_scenario_and_none_the_reference(focus):
    broad = short("broad")
    fs = factors(focus, broad)
    assert mixed_scenario(focus, broad, [], fs) is focus
    assert mixed_scenario(focus, broad, fs.factors, fs) is broad
    # built by hand, the full mix runs exactly as the scenario
    built = mix(focus, broad, {lever for f in fs.factors for lever in f.levers}, set(), "built")
    a, b = run(built, 2).yearly, run(broad, 2).yearly
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.invariants
def test_with_one_differing_lever_its_share_is_the_whole_difference(focus):
    comparison, shares, plans, _ = _attribution({"focus": focus, "focus-gatekeeper": short("focus-gatekeeper")})
    assert [f.name for f in plans[0].factors.factors] == ["door"]
    assert list(shares.columns) == COLUMNS
    table = comparison.table[comparison.table["scenario"] == "focus-gatekeeper"].set_index(["year", "metric"])
    for row in shares.itertuples():
        expected = table.loc[(row.year, row.metric)]
        assert row.share_mean == pytest.approx(expected.diff_mean, rel=1e-12, abs=1e-9)
        assert row.share_low == pytest.approx(expected.diff_low, rel=1e-9, abs=1e-6)


@pytest.mark.invariants
def test_shares_add_up_to_the_difference_in_every_year_and_metric(focus):
    comparison, shares, _, _ = _attribution({"focus": focus, "broad": short("broad")})
    total = shares.groupby(["year", "metric"])["share_mean"].sum()
    table = comparison.table[comparison.table["scenario"] == "broad"].set_index(["year", "metric"])["diff_mean"]
    for (year, metric), value in total.items():
        assert value == pytest.approx(table.loc[(year, metric)], rel=1e-9, abs=1e-6), (year, metric)
    assert set(shares["metric"]) == set(ATTRIBUTED)
    assert set(shares["year"]) == {"2019", "2020", "total"}


@pytest.mark.invariants
def test_two_levers_split_by_the_shapley_formula_by_hand(focus):
    policy = focus.policies["focus"]
    both = policy.model_copy(
        update={
            "door": policy.door.model_copy(update={"gatekeeper_share": 0.3}),
            "staffing": policy.staffing.model_copy(update={"caseload_norm": 50.0}),
        }
    )
    other = focus.model_copy(update={"name": "other", "policies": {**focus.policies, "focus": both}})
    _, shares, plans, yearlies = _attribution({"focus": focus, "other": other}, reps=2)
    p = plans[0]
    assert [f.name for f in p.factors.factors] == ["door", "staffing"]
    v = {
        (): yearlies["focus"],
        (0,): yearlies[p.key((0,))],
        (1,): yearlies[p.key((1,))],
        (0, 1): yearlies["other"],
    }
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
    assert math.isclose(sum(shares), sum(items) + 1 * 2 + 1 * 5 + 2 * 5)


@pytest.mark.unit
def test_the_split_in_plain_words():
    table = pd.DataFrame(
        [
            ["2030", "caseload_december", "broad", "focus", "door", -200.0, -220.0, -180.0],
            ["2030", "caseload_december", "broad", "focus", "served", -100.0, -130.0, -70.0],
            ["total", "net_saving_eur", "broad", "focus", "door", 2.5e7, 2.0e7, 3.0e7],
        ],
        columns=COLUMNS,
    )
    lines = sentences(table, 2030)
    assert lines[0] == (
        "Of 300 fewer clients in December 2030 (broad against focus): door -200 (-220 to -180), "
        "who is served -100 (-130 to -70)."
    )
    assert lines[1].startswith("Of a net saving of EUR 25,000,000 over the horizon")
    assert "door +25.00 M (+20.00 M to +30.00 M)" in lines[1]
    assert np.isfinite(table["share_mean"]).all()
