"""Scenario files: shipped ones load, bad ones give one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load, shipped_names

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
        (BASE + "[chain]\ninformation_meeting_place = 10\n", "chain.information_meeting_place", "Did you mean 'information_meeting_places'"),
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
    path = write(tmp_path, b"name = \"\xff\xfe\"\n")
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
