"""Paired comparison (sim/analysis/comparison.py): zero for identical scenarios, sign flips on
swapping, net savings and the BUIG balance add up, and common random numbers pay off."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
from folders import assert_same_results
from paired_runs import REPS, YEARS
from scipy import stats
from typer.testing import CliRunner

from cli import app
from sim.analysis.comparison import (
    COLUMNS,
    METRIC_NAMES,
    compare,
    compare_to_folder,
    paired_interval,
    summary_lines,
)
from sim.money import STAFF_COLUMNS
from sim.scenario import load, with_overrides

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.unit
def test_table_has_the_documented_columns_and_a_total_per_metric(paired):
    scenarios, yearlies = paired
    table = compare(yearlies, scenarios, YEARS).table
    assert list(table.columns) == COLUMNS
    assert set(table["year"]) == {"2019", "2020", "total"}
    assert (table.groupby(["year", "scenario"]).size() == len(set(table["metric"]))).all()
    # the default region has a BUIG grant (2017-2018, indexed after); the safety net is off but shown as 0
    assert set(table["metric"]) == set(METRIC_NAMES)
    reference = table[table["scenario"] == "focus"]
    assert (reference["diff_mean"] == 0).all() and (reference["mean"] == reference["reference_mean"]).all()


@pytest.mark.unit
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


@pytest.mark.unit
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


@pytest.mark.theory
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


@pytest.mark.unit
def test_paired_interval():
    assert paired_interval(np.zeros(5)) == (0.0, 0.0, 0.0)
    mean, low, high = paired_interval(np.array([1.0, 2.0, 3.0, 4.0]))
    half = stats.t.ppf(0.975, 3) * np.std([1, 2, 3, 4], ddof=1) / 2
    assert (mean, low, high) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    assert np.isnan(paired_interval(np.array([3.0]))[1])


@pytest.mark.unit
def test_buig_balance_appears_with_a_state_grant(paired):
    scenarios, yearlies = paired
    grant = {"2019": 25_000_000.0, "2020": 24_000_000.0}
    with_grant = {
        n: s.model_copy(update={"money": s.money.model_copy(update={"state_grant_eur_per_year": grant})})
        for n, s in scenarios.items()
    }
    t = compare(yearlies, with_grant, YEARS).table.set_index(["year", "metric", "scenario"])
    for year in YEARS:
        benefit = t.loc[(str(year), "benefit_spending_eur", "broad")]
        balance = t.loc[(str(year), "buig_balance_eur", "broad")]
        assert balance["mean"] == pytest.approx(grant[str(year)] - benefit["mean"])
        assert balance["diff_mean"] == pytest.approx(
            -benefit["diff_mean"]
        )  # same grant: the balance moves with spending


@pytest.mark.unit
def test_a_failed_replication_drops_its_pair_from_every_scenario(paired):
    scenarios, yearlies = paired
    missing = {"focus": yearlies["focus"], "broad": yearlies["broad"][yearlies["broad"]["replication"] != 0]}
    result = compare(missing, scenarios, YEARS)
    assert result.replications == list(range(1, REPS))
    full = compare({n: y[y["replication"] != 0] for n, y in yearlies.items()}, scenarios, YEARS)
    pd.testing.assert_frame_equal(result.table, full.table)


# -- the command and the API write the same folder -------------------------------------------------


@pytest.mark.cli
def test_identical_scenarios_give_exactly_zero_in_every_replication(tmp_path):
    copy = tmp_path / "focus-copy.toml"
    copy.write_text('description = "focus again"\ninclude = "focus"\n')
    out = tmp_path / "c"
    result = invoke(
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        copy,
        "--reps",
        3,
        "--until",
        2020,
        "--seed",
        11,
        "--out",
        out,
        "--workers",
        2,
    )
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


@pytest.mark.cli
def test_compare_to_folder_writes_what_caseload_compare_writes(tmp_path):
    scenarios = {n: with_overrides(load(n).scenario, {"simulation": {"until_year": 2020}}) for n in ("focus", "broad")}
    compare_to_folder(scenarios, tmp_path / "api", (2019, 2020), seed=3, reps=2)
    result = runner.invoke(
        app,
        [
            "compare",
            "--parameter-draws",
            "0",
            "focus",
            "broad",
            "--until",
            "2020",
            "--seed",
            "3",
            "--reps",
            "2",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "cli"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert_same_results(tmp_path / "api", tmp_path / "cli")


@pytest.mark.unit
def test_savings_are_on_total_spending_discounted_and_undiscounted_side_by_side(paired):
    scenarios, yearlies = paired
    plain = compare(yearlies, scenarios, YEARS).break_even.iloc[0]
    assert plain["cumulative_saving_undiscounted_mean"] == pytest.approx(plain["cumulative_saving_mean"], rel=1e-12)
    assert str(plain["break_even_year_undiscounted"]) == str(plain["break_even_year"])  # both may be <NA>
    result = compare(yearlies, scenarios, YEARS, discount_rate=0.05)
    row = result.break_even.iloc[0]
    t = result.table.set_index(["year", "metric", "scenario"])
    # undiscounted: the horizon's net saving; discounted: each year's at 1.05^-(year - first)
    assert row["cumulative_saving_undiscounted_mean"] == pytest.approx(
        t.loc[("total", "net_saving_eur", "broad"), "diff_mean"], rel=1e-9
    )
    years = range(YEARS[0], YEARS[1] + 1)
    discounted = sum(t.loc[(str(y), "net_saving_eur", "broad"), "diff_mean"] / 1.05 ** (y - YEARS[0]) for y in years)
    assert row["cumulative_saving_mean"] == pytest.approx(discounted, rel=1e-9)
    # the cost of an extra exit to work: extra total spending over extra exits
    extra_exits = t.loc[("total", "exits_work", "broad"), "diff_mean"]
    assert row["extra_exits_work"] == pytest.approx(extra_exits, rel=1e-9)
    if extra_exits > 0:
        assert row["cost_per_extra_exit_eur"] == pytest.approx(
            -row["cumulative_saving_undiscounted_mean"] / extra_exits, rel=1e-9
        )


@pytest.mark.unit
def test_counting_staff_moves_the_saving_by_exactly_the_staff_difference(paired):
    scenarios, yearlies = paired
    free = {n: y.assign(**dict.fromkeys(STAFF_COLUMNS, 0.0)) for n, y in yearlies.items()}
    with_staff = compare(yearlies, scenarios, YEARS)
    without = compare(free, scenarios, YEARS)
    t = with_staff.table.set_index(["year", "metric", "scenario"])
    staff = t.loc[("total", "staff_spending_eur", "broad"), "diff_mean"]
    assert staff != 0  # broad and focus employ different teams
    moved = (
        with_staff.break_even.iloc[0]["cumulative_saving_undiscounted_mean"]
        - without.break_even.iloc[0]["cumulative_saving_undiscounted_mean"]
    )
    assert moved == pytest.approx(-staff, rel=1e-9)


@pytest.mark.unit
def test_the_terminal_summary_says_the_direction_both_savings_and_the_cost_per_exit(paired):
    scenarios, yearlies = paired
    lines = summary_lines(compare(yearlies, scenarios, YEARS, discount_rate=0.03))
    assert lines[0] == f"broad - focus, {YEARS[0]}-{YEARS[1]} (mean, 95% interval):"
    staff = next(line for line in lines if line.startswith("  staff: "))
    assert re.fullmatch(r"  staff: EUR [+-]?\d+\.\d M \([+-]?\d+\.\d to [+-]?\d+\.\d\)", staff), staff
    saving = next(line for line in lines if "net saving on total spending" in line)
    assert "(focus - broad; positive: broad spends less)" in saving
    assert "undiscounted" in saving and "discounted at 3.0%" in saving and "break-even" in saving
    assert re.search(r"EUR -?[\d,]+\.\d M undiscounted", saving), saving


@pytest.mark.unit
def test_with_draws_the_saving_s_noise_and_total_intervals_read_alike(paired):
    scenarios, yearlies = paired
    result = compare(yearlies, scenarios, YEARS, discount_rate=0.03)
    table = result.table.assign(total_low=result.table["diff_low"] * 2, total_high=result.table["diff_high"] * 2)
    # savings of both signs, so a signed bound would show its '+'
    be = result.break_even.assign(
        cumulative_saving_undiscounted_low=-3.2e6,
        cumulative_saving_undiscounted_high=12.5e6,
        cumulative_saving_undiscounted_total_low=-11.0e6,
        cumulative_saving_undiscounted_total_high=77.0e6,
        cumulative_saving_total_low=-9.0e6,
        cumulative_saving_total_high=60.0e6,
    )
    shares = pd.DataFrame({"scenario": "broad", "year": list(range(YEARS[0], YEARS[1] + 1))}).assign(
        broken_even_share=1.0, broken_even_share_undiscounted=1.0
    )
    drawn = dataclasses.replace(result, table=table, break_even=be, break_even_draws=shares)
    saving = next(line for line in summary_lines(drawn) if "net saving on total spending" in line)
    # a saving is shown unsigned, and so are its intervals, noise and total alike, the unit once after the mean
    assert re.search(r"EUR -?[\d,]+\.\d M undiscounted \(noise -3\.2 to 12\.5; total -11\.0 to 77\.0\)", saving), saving
    assert re.search(r"EUR -?[\d,]+\.\d M discounted at 3\.0% \(total -9\.0 to 60\.0\)", saving), saving
