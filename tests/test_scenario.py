"""Scenario files (sim/scenario.py): shipped ones load, includes merge, scale_to_stock scales the
counts, and a bad file gives one clear error naming the file and field that set the bad value.

The same errors through the command, and generated bad files, are tests/test_scenario_files.py's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from verification_scenarios import baseline

from sim.scenario import ScenarioError, load, shipped_names, validate

pytestmark = pytest.mark.unit

BASE = 'include = "baseline"\n'


def write(tmp_path: Path, text: str | bytes, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name", ["baseline", "focus", "broad", "focus-corona", "broad-corona"])
def test_required_shipped_scenarios_load(name):
    assert name in shipped_names()
    scenario = load(name).scenario
    assert scenario.region.initial_stock == 1660


def test_broad_keeps_the_broad_policy_and_baseline_switches():
    assert [p.policy for p in load("broad").scenario.policy_schedule] == ["broad"]
    assert [p.policy for p in load("baseline").scenario.policy_schedule] == ["broad", "focus"]


def test_override_in_an_including_file(tmp_path):
    path = write(tmp_path, BASE + "[chain]\ninformation_meeting_places = 10\n")
    scenario = load(str(path)).scenario
    assert scenario.chain.information_meeting_places == 10
    assert scenario.region.initial_stock == 1660


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        (
            BASE + "[chain]\ninformation_meeting_place = 10\n",
            "chain.information_meeting_place",
            "Did you mean 'information_meeting_places'",
        ),
        (BASE + "[chain]\ninformation_meeting_places = 'many'\n", "chain.information_meeting_places", "valid integer"),
        (BASE + "[chain]\ndream_job_work_share = 1.5\n", "chain.dream_job_work_share", "less than or equal to 1"),
        (BASE + "[work]\nother_exit_per_month = -0.1\n", "work.other_exit_per_month", "greater than or equal to 0"),
        (BASE + "[chian]\nx = 1\n", "chian", "Did you mean 'chain'"),
        (BASE + "[[policy_schedule]]\nstart = 2014-01-01\npolicy = 'wide'\n", "policy_schedule[0].policy", "'wide'"),
    ],
)
def test_bad_fields_name_the_file_and_field(tmp_path, text, field, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    message = str(info.value)
    assert str(path) in message
    assert field in message
    assert fragment in message


def test_a_typo_is_reported_before_the_blocks_a_standalone_file_misses(tmp_path):
    path = write(tmp_path, 'name = "mine"\n[chain]\ninformation_meeting_place = 10\n')
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    message = str(info.value)
    assert "chain.information_meeting_place" in message
    assert "Did you mean 'information_meeting_places'" in message
    assert "more problems after this one" in message


def test_malformed_toml(tmp_path):
    path = write(tmp_path, "[chain\n")
    with pytest.raises(ScenarioError, match="malformed TOML"):
        load(str(path))


def test_not_utf8(tmp_path):
    path = write(tmp_path, b'name = "\xff\xfe"\n')
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load(str(path))


def test_unknown_scenario_suggests_the_closest():
    with pytest.raises(ScenarioError, match="Did you mean 'baseline'"):
        load("baselin")


def test_include_cycle(tmp_path):
    write(tmp_path, 'include = "b.toml"\n', "a.toml")
    write(tmp_path, 'include = "a.toml"\n', "b.toml")
    with pytest.raises(ScenarioError, match="include cycle"):
        load(str(tmp_path / "a.toml"))


def test_missing_include(tmp_path):
    path = write(tmp_path, 'include = "nothere.toml"\n')
    with pytest.raises(ScenarioError, match="does not exist"):
        load(str(path))


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ScenarioError, match="empty"):
        load(str(path))


def test_shares_must_add_up(tmp_path):
    path = write(tmp_path, BASE + "[region.stock_age_shares]\nunder27 = 0.5\n")
    with pytest.raises(ScenarioError, match="s.toml: region.stock_age_shares: must add up to 1"):
        load(str(path))


# -- scale_to_stock: the included region at another size ---------------------------------------------


def test_scale_to_stock_multiplies_every_count_and_keeps_every_rate(tmp_path):
    baseline = load("baseline").scenario
    scaled = load(str(write(tmp_path, BASE + "scale_to_stock = 3320\n"))).scenario
    assert scaled.region.initial_stock == 3320
    assert scaled.inflow.base_notifications_per_year == baseline.inflow.base_notifications_per_year * 2.0
    grants = baseline.money.state_grant_eur_per_year
    assert scaled.money.state_grant_eur_per_year == {year: grant * 2.0 for year, grant in grants.items()}
    assert scaled.policies == baseline.policies  # teams that follow their norm: no count to scale
    # a count no file sets is scaled from its default; whole numbers stay whole
    assert scaled.chain.extra_meeting_queue_threshold == 24 and scaled.chain.intakes_per_weekday == 8
    assert scaled.work == baseline.work and scaled.inflow.elasticity_inflow == baseline.inflow.elasticity_inflow
    small = load(str(write(tmp_path, BASE + "scale_to_stock = 1\n", "small.toml"))).scenario
    assert small.chain.intakes_per_weekday == 1  # at least one intake a day, or the chain would stop


def test_scale_to_stock_scales_a_policys_staff_and_budgets_where_set(tmp_path):
    levers = (
        "[policies.focus]\n"
        'staffing = { rule = "fixed", work_consultants = 9.0, max_work_consultants = 12.0, budget_eur_per_year = 5e5 }\n'
        "trajectories = { yearly_budget_eur = 250000.0 }\n"
    )
    write(tmp_path, BASE + levers, "teams.toml")
    scaled = load(str(write(tmp_path, 'include = "teams.toml"\nscale_to_stock = 3320\n'))).scenario
    focus = scaled.policies["focus"]
    assert (focus.staffing.work_consultants, focus.staffing.max_work_consultants) == (18.0, 24.0)
    assert focus.staffing.budget_eur_per_year == 1e6 and focus.trajectories.yearly_budget_eur == 500_000.0
    # ratios stay, and a count left unset (none: no ceiling) stays unset
    assert focus.staffing.caseload_norm == 80.0
    assert scaled.policies["broad"].trajectories.yearly_budget_eur is None
    assert scaled.policies["broad"].staffing.work_consultants is None


def test_a_count_the_scaling_file_sets_is_taken_as_given(tmp_path):
    scaled = load(str(write(tmp_path, BASE + "scale_to_stock = 3320\n[chain]\nintakes_per_weekday = 3\n"))).scenario
    assert scaled.chain.intakes_per_weekday == 3 and scaled.chain.diagnosis_talks_per_weekday == 10


def test_a_file_including_a_scaled_one_gets_it_scaled(tmp_path):
    write(tmp_path, BASE + "scale_to_stock = 3320\n", "big.toml")
    top = load(str(write(tmp_path, 'include = "big.toml"\n[inflow]\nelasticity_inflow = 0.2\n'))).scenario
    assert top.region.initial_stock == 3320 and top.chain.intakes_per_weekday == 8
    assert top.inflow.elasticity_inflow == 0.2


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        (BASE + "scale_to_stock = 0\n", "scale_to_stock", "a whole number of clients from 1 to 5,000,000"),
        (BASE + "scale_to_stock = 1.5\n", "scale_to_stock", "(got 1.5)"),
        (BASE + "scale_to_stock = true\n", "scale_to_stock", "(got True)"),
        (BASE + "scale_to_stock = 'many'\n", "scale_to_stock", "(got 'many')"),
        (BASE + "scale_to_stock = 6000000\n", "scale_to_stock", "from 1 to 5,000,000"),
        ('name = "x"\nscale_to_stock = 100\n', "scale_to_stock", "add an include"),
        (BASE + "scale_to_stock = 100\n[region]\ninitial_stock = 5\n", "region.initial_stock", "give one of the two"),
    ],
)
def test_a_bad_scale_to_stock_names_the_file_and_what_is_allowed(tmp_path, text, field, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    assert (info.value.file, info.value.field) == (str(path), field)
    assert fragment in info.value.message and "\n" not in str(info.value)


def test_a_count_scaled_out_of_bounds_is_blamed_on_the_scaling_file(tmp_path):
    write(tmp_path, BASE + "[chain]\ninformation_meeting_places = 10000\n", "mid.toml")
    path = write(tmp_path, 'include = "mid.toml"\nscale_to_stock = 33200\n')
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    assert str(info.value) == (
        f"{path}: chain.information_meeting_places: input should be less than or equal to 100000 (got 200000); "
        "scale_to_stock = 33200 in this file made it this size"
    )


# -- includes, odd files and names -----------------------------------------------------------------


def test_deep_include_chain_is_an_error(tmp_path):
    depth = 40
    for i in range(depth):
        write(tmp_path, f'include = "d{i + 1}.toml"\n' if i < depth - 1 else 'include = "baseline"\n', f"d{i}.toml")
    with pytest.raises(ScenarioError, match="nested more than"):
        load(str(tmp_path / "d0.toml"))


def test_error_names_the_file_that_set_the_bad_value(tmp_path):
    """A bad value in an included file is reported in that file, not in the file including it."""
    write(tmp_path, 'include = "baseline"\n[chain]\ndream_job_work_share = 2.0\n', "middle.toml")
    top = write(tmp_path, 'include = "middle.toml"\n[chain]\nintakes_per_weekday = 3\n', "top.toml")
    with pytest.raises(ScenarioError) as info:
        load(str(top))
    assert str(info.value).startswith(f"{tmp_path / 'middle.toml'}: chain.dream_job_work_share")


def test_a_file_name_that_is_no_slug_gives_a_safe_default_name(tmp_path):
    path = tmp_path / "mijn scenario (v2).toml"
    path.write_text('include = "baseline"\n')
    assert load(str(path)).scenario.name == "mijn-scenario-v2"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_an_include_that_is_a_fifo_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")
    path = write(tmp_path, 'include = "pipe.toml"\n')
    with pytest.raises(ScenarioError, match=r"s.toml: include: .*pipe.toml: not a regular file"):
        load(str(path))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_include_that_is_a_device_is_refused_at_once(tmp_path):
    path = write(tmp_path, 'include = "/dev/zero"\n')
    with pytest.raises(ScenarioError, match="s.toml: include: /dev/zero: not a regular file"):
        load(str(path))


def test_an_oversized_scenario_file_is_refused(tmp_path):
    path = write(tmp_path, 'include = "baseline"\n' + "# padding\n" * 120_000)
    with pytest.raises(ScenarioError, match="at most 1,000,000 are read"):
        load(str(path))


# -- whole scenarios the schema refuses ------------------------------------------------------------


def test_a_scenario_missing_a_group_is_an_error_not_a_crash():
    """A whole scenario (no include) whose job-finding table lacks groups: it used to crash the run."""
    data = baseline().model_dump(mode="json")
    bad = {**data, "work": {**data["work"], "base_work_per_month": {"close": 0.1}}}
    with pytest.raises(
        ScenarioError, match="work.base_work_per_month: needs a value for every group; missing: near, far, very_far"
    ):
        validate(bad, Path("standalone.toml"))


def test_all_zero_trajectory_weights_for_a_group_are_an_error():
    data = baseline().model_dump(mode="json")
    basket = [{**t, "weights": {**t["weights"], "refugee": 0.0}} for t in data["trajectories"]["basket"]]
    bad = {**data, "trajectories": {**data["trajectories"], "basket": basket}}
    with pytest.raises(ScenarioError, match="trajectories.basket: the weights for refugee are zero"):
        validate(bad, Path("standalone.toml"))
