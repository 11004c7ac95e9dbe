"""Paired comparison: zero for identical scenarios, sign flips on swapping, common random numbers pay off."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from cli import app
from sim.analysis.comparison import COLUMNS, METRIC_NAMES, compare, paired_interval, run_paired
from sim.replications import make_executor
from sim.scenario import load, with_overrides

REPS = 8
YEARS = (2019, 2020)
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def paired():
    """focus and broad to 2020 (the policies differ from 2019), REPS paired replications."""
    scenarios = {n: with_overrides(load(n).scenario, {"simulation": {"until_year": 2020}}) for n in ("focus", "broad")}
    executor = make_executor(2)
    try:
        yearlies, failures = run_paired(scenarios, 5, REPS, executor)
    finally:
        executor.close()
    assert not failures
    return scenarios, yearlies


def test_table_has_the_documented_columns_and_a_total_per_metric(paired):
    scenarios, yearlies = paired
    table = compare(yearlies, scenarios, YEARS).table
    assert list(table.columns) == COLUMNS
    assert set(table["year"]) == {"2019", "2020", "total"}
    assert (table.groupby(["year", "scenario"]).size() == len(set(table["metric"]))).all()
    assert set(table["metric"]) == set(METRIC_NAMES) - {"buig_balance_eur"}  # no grant given
    reference = table[table["scenario"] == "focus"]
    assert (reference["diff_mean"] == 0).all() and (reference["mean"] == reference["reference_mean"]).all()


def test_swapping_the_scenarios_flips_the_sign(paired):
    scenarios, yearlies = paired
    ab = compare(yearlies, scenarios, YEARS).table
    ba = compare({"broad": yearlies["broad"], "focus": yearlies["focus"]}, scenarios, YEARS).table
    one = ab[ab["scenario"] == "broad"].set_index(["year", "metric"])
    two = ba[ba["scenario"] == "focus"].set_index(["year", "metric"]).loc[one.index]
    assert np.allclose(one["diff_mean"], -two["diff_mean"], equal_nan=True)
    assert np.allclose(one["diff_low"], -two["diff_high"], equal_nan=True)
    assert np.allclose(one["diff_high"], -two["diff_low"], equal_nan=True)
    assert (one.loc[("total", "caseload_december"), "diff_mean"]) != 0


def test_net_saving_is_the_reference_spending_minus_the_scenarios(paired):
    scenarios, yearlies = paired
    t = compare(yearlies, scenarios, YEARS).table.set_index(["year", "metric", "scenario"])
    for year in ("2019", "2020", "total"):
        spend = t.loc[(year, "total_spending_eur", "broad")]
        assert t.loc[(year, "net_saving_eur", "broad"), "mean"] == pytest.approx(
            spend["reference_mean"] - spend["mean"]
        )
    cumulative = t.loc[("2020", "cumulative_net_saving_eur", "broad"), "mean"]
    assert cumulative == pytest.approx(t.loc[("total", "net_saving_eur", "broad"), "mean"])
    discounted = compare(yearlies, scenarios, YEARS, discount_rate=0.1).table.set_index(["year", "metric", "scenario"])
    first, second = (t.loc[(y, "net_saving_eur", "broad"), "mean"] for y in ("2019", "2020"))
    assert discounted.loc[("total", "cumulative_net_saving_eur", "broad"), "mean"] == pytest.approx(
        first + second / 1.1
    )


def test_paired_difference_has_a_much_smaller_spread_than_unpaired(paired):
    """Common random numbers: Var(B_i - A_i) far below Var(A) + Var(B) (what independent runs give).

    Two checks per year and metric: pairing reduces the variance significantly (the upper 95%
    bound of the variance ratio, F with n-1 and 2(n-1) degrees of freedom, is below 1), and by a
    lot (the paired standard deviation is less than half the unpaired one).
    """
    scenarios, yearlies = paired
    for metric in ("caseload_december", "stock_duration_4plus", "benefit_client_months"):
        a = yearlies["focus"].set_index(["year", "replication"])[metric].astype(float)
        b = yearlies["broad"].set_index(["year", "replication"])[metric].astype(float)
        for year in YEARS:
            var_paired = (b.loc[year] - a.loc[year]).var(ddof=1)
            var_unpaired = a.loc[year].var(ddof=1) + b.loc[year].var(ddof=1)
            ratio = var_paired / var_unpaired
            upper = ratio / stats.f.ppf(0.05, REPS - 1, 2 * (REPS - 1))
            assert upper < 1.0, (metric, year, ratio, upper)
            assert np.sqrt(ratio) < 0.5, (metric, year, ratio)


def test_paired_interval():
    assert paired_interval(np.zeros(5)) == (0.0, 0.0, 0.0)
    mean, low, high = paired_interval(np.array([1.0, 2.0, 3.0, 4.0]))
    half = stats.t.ppf(0.975, 3) * np.std([1, 2, 3, 4], ddof=1) / 2
    assert (mean, low, high) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    assert np.isnan(paired_interval(np.array([3.0]))[1])


def test_identical_scenarios_give_exactly_zero_in_every_replication(tmp_path):
    copy = tmp_path / "focus-copy.toml"
    copy.write_text('description = "focus again"\ninclude = "focus"\n')
    out = tmp_path / "c"
    result = invoke("compare", "focus", copy, "--reps", 3, "--until", 2020, "--seed", 11, "--out", out, "--workers", 2)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv", dtype={"year": str})
    assert list(table.columns) == COLUMNS
    assert (table[["diff_mean", "diff_low", "diff_high"]] == 0).all().all()
    a = pd.read_csv(out / "scenarios" / "focus" / "yearly.csv")
    b = pd.read_csv(out / "scenarios" / "focus-copy" / "yearly.csv")
    assert a["replication"].nunique() == 3
    pd.testing.assert_frame_equal(a, b)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenarios"] == ["focus", "focus-copy"] and manifest["seed"] == 11
    assert manifest["replications_used"] == 3 and manifest["from_year"] == 2019
    assert pd.read_csv(out / "parameters.csv").empty
    assert pd.read_csv(out / "break_even.csv")["break_even_year"].isna().all()  # a zero saving never pays off


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["compare", "focus", "brod"], ["unknown scenario 'brod'", "Did you mean 'broad'"]),
        (["compare", "focus"], ["at least two scenarios"]),
        (["compare", "focus", "focus"], ["named twice"]),
        (["compare", "focus", "broad", "--reps", 0], ["--reps"]),
        (["compare", "focus", "broad", "--workers", 0], ["--workers"]),
        (["compare", "focus", "broad", "--discount-rate", 1.5], ["--discount-rate"]),
        (["compare", "focus", "broad", "--until", 2010], ["--until"]),
        (["compare", "focus", "broad", "--until", 2018], ["--from-year", "2019"]),
        (["compare", "focus", "broad", "--seed", -1], ["--seed"]),
        (
            ["sensitivity", "focus", "broad", "--params", "work.elastcity_work"],
            ["unknown 'elastcity_work'", "work.elasticity_work"],
        ),
        (["sensitivity", "focus", "broad", "--params", "work.work_multiplier_by_group"], ["not a number"]),
        (
            ["sensitivity", "focus", "broad", "--params", "work.fulltime_share", "--spread", 0.99],
            ["fulltime_share", "--spread"],
        ),
        (["sensitivity", "focus", "brod", "--params", "work.elasticity_work"], ["unknown scenario 'brod'"]),
        (
            ["sensitivity", "focus", "broad", "--params", "work.elasticity_work", "--sobol", 6],
            ["--sobol", "power of 2"],
        ),
        (["report", "nowhere"], ["not a comparison folder"]),
    ],
)
def test_bad_names_and_flags_exit_2_with_a_message_and_write_nothing(tmp_path, args, fragments):
    out = tmp_path / "out"
    extra = [] if args[0] == "report" else ["--out", out]
    result = invoke(*args, *extra)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_sensitivity_writes_the_table_and_a_tornado(tmp_path):
    out = tmp_path / "s"
    result = invoke(
        "sensitivity",
        "focus",
        "broad",
        "--params",
        "work.elasticity_work,trajectories.basket.0.price_eur",
        "--reps",
        2,
        "--until",
        2020,
        "--seed",
        3,
        "--out",
        out,
        "--workers",
        2,
        "--samples",
        4,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert sorted(set(table["setting"])) == ["base", "high", "low"]
    assert set(table["metric"]) == {"cumulative_net_saving_eur"}  # 2025 and 2030 are after --until
    price = table[(table["parameter"] == "trajectories.basket.0.price_eur")].set_index("setting")
    base_price = load("focus").scenario.trajectories.basket[0].price_eur
    assert price.loc["low", "value_a"] == pytest.approx(0.75 * base_price)
    assert price.loc["low", "diff_mean"] != price.loc["high", "diff_mean"]
    assert (out / "tornado.png").stat().st_size > 10_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"] == ["work.elasticity_work", "trajectories.basket.0.price_eur"]
    # all parameters together over a Latin hypercube: one regression per headline metric
    points = pd.read_csv(out / "global_samples.csv")
    assert len(points) == 4 and points[manifest["params"]].apply(lambda c: c.between(0, 1)).all().all()
    for column in manifest["params"]:  # Latin hypercube: one point in each quarter of every range
        assert sorted((points[column] * 4).astype(int)) == [0, 1, 2, 3]
    indices = pd.read_csv(out / "global.csv")
    assert list(indices["parameter"]) == manifest["params"]
    assert indices["r_squared"].between(0, 1).all() and (indices["variance_share"] >= 0).all()


def test_sobol_indices_are_zero_for_a_parameter_without_effect(tmp_path):
    """A trajectory's price moves the saving but never the caseload: with common random numbers
    its Sobol' indices on the caseload difference are exactly zero; the labour market's are not."""
    out = tmp_path / "s"
    result = invoke(
        "sensitivity",
        "focus",
        "broad",
        "--params",
        "work.elasticity_work,trajectories.basket.0.price_eur",
        "--reps",
        1,
        "--until",
        2025,
        "--seed",
        3,
        "--out",
        out,
        "--workers",
        2,
        "--sobol",
        4,
    )
    assert result.exit_code == 0, result.output
    indices = pd.read_csv(out / "sobol.csv").set_index(["metric", "parameter"])
    assert set(indices.index.get_level_values("metric")) == {"cumulative_net_saving_eur", "caseload_diff_2025"}
    assert (indices["points"] == 4 * (2 + 2)).all()
    price = indices.loc[("caseload_diff_2025", "trajectories.basket.0.price_eur")]
    assert price["first_order"] == 0.0 and price["total_order"] == 0.0
    assert indices.loc[("caseload_diff_2025", "work.elasticity_work"), "total_order"] > 0
    assert indices.loc[("cumulative_net_saving_eur", "trajectories.basket.0.price_eur"), "total_order"] > 0
    points = pd.read_csv(out / "sobol_samples.csv")
    assert len(points) == 16 and points["sample"].tolist() == list(range(16))
    assert (out / "sobol.png").stat().st_size > 10_000
    assert json.loads((out / "manifest.json").read_text())["sobol"] == 4


def test_sobol_design_and_indices_are_scipys_and_reproducible(monkeypatch):
    """With the model replaced by the Ishigami function, run_sobol gives what scipy's own
    sobol_indices gives for it, and the same intervals for the same seed."""
    from scipy.stats import sobol_indices, uniform

    import sim.analysis.sensitivity as sensitivity

    def ishigami(u):  # u in [0, 1]^3 -> x in [-pi, pi]^3
        x = -np.pi + 2 * np.pi * np.asarray(u)
        return np.sin(x[0]) + 7 * np.sin(x[1]) ** 2 + 0.1 * x[2] ** 4 * np.sin(x[0])

    def fake_headlines(a, b, ranges, u, seed, reps, executor, on_done, first_year):
        return pd.DataFrame(
            {"sample": range(len(u)), **{p: u[:, j] for j, p in enumerate(ranges["parameter"])}, "y": ishigami(u.T)}
        )

    monkeypatch.setattr(sensitivity, "headlines_at", fake_headlines)
    ranges = pd.DataFrame({"parameter": ["x1", "x2", "x3"]})
    indices, points = sensitivity.run_sobol(None, None, ranges, 256, seed=9, reps=1, executor=None)
    expected = sobol_indices(func=ishigami, n=256, dists=[uniform(0, 1)] * 3, rng=np.random.default_rng(9))
    assert indices["first_order"].to_numpy() == pytest.approx(expected.first_order, abs=1e-12)
    assert indices["total_order"].to_numpy() == pytest.approx(expected.total_order, abs=1e-12)
    assert len(points) == 256 * 5
    assert ((indices["first_low"] <= indices["first_order"]) & (indices["first_order"] <= indices["first_high"])).all()
    again, _ = sensitivity.run_sobol(None, None, ranges, 256, seed=9, reps=1, executor=None)
    pd.testing.assert_frame_equal(indices, again)


def test_the_sensitivity_headline_is_what_compare_gives(paired):
    from sim.analysis.sensitivity import headline

    scenarios, yearlies = paired
    found = headline(yearlies["focus"], yearlies["broad"], scenarios["focus"], scenarios["broad"], YEARS[0])
    t = compare(yearlies, scenarios, YEARS).table.set_index(["year", "metric", "scenario"])
    expected = t.loc[("total", "cumulative_net_saving_eur", "broad"), ["diff_mean", "diff_low", "diff_high"]]
    assert found["cumulative_net_saving_eur"] == pytest.approx(tuple(expected), rel=1e-12)
    # dropping a replication of one scenario drops the pair, as in compare
    fewer = yearlies["broad"][yearlies["broad"]["replication"] != 0]
    found = headline(yearlies["focus"], fewer, scenarios["focus"], scenarios["broad"], YEARS[0])
    t = compare({"focus": yearlies["focus"], "broad": fewer}, scenarios, YEARS).table.set_index(
        ["year", "metric", "scenario"]
    )
    expected = t.loc[("total", "cumulative_net_saving_eur", "broad"), ["diff_mean", "diff_low", "diff_high"]]
    assert found["cumulative_net_saving_eur"] == pytest.approx(tuple(expected), rel=1e-12)


def test_buig_balance_appears_with_a_state_grant(paired):
    scenarios, yearlies = paired
    grant = {"2019": 25_000_000.0, "2020": 24_000_000.0}
    with_grant = {n: with_overrides(s, {"money": {"state_grant_eur_per_year": grant}}) for n, s in scenarios.items()}
    t = compare(yearlies, with_grant, YEARS).table.set_index(["year", "metric", "scenario"])
    for year in YEARS:
        benefit = t.loc[(str(year), "benefit_spending_eur", "broad")]
        balance = t.loc[(str(year), "buig_balance_eur", "broad")]
        assert balance["mean"] == pytest.approx(grant[str(year)] - benefit["mean"])
        assert balance["diff_mean"] == pytest.approx(
            -benefit["diff_mean"]
        )  # same grant: the balance moves with spending


def test_a_failed_replication_drops_its_pair_from_every_scenario(paired):
    scenarios, yearlies = paired
    missing = {"focus": yearlies["focus"], "broad": yearlies["broad"][yearlies["broad"]["replication"] != 0]}
    result = compare(missing, scenarios, YEARS)
    assert result.replications == list(range(1, REPS))
    full = compare({n: y[y["replication"] != 0] for n, y in yearlies.items()}, scenarios, YEARS)
    pd.testing.assert_frame_equal(result.table, full.table)
