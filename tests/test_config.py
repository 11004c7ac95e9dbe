"""Configuration files read one way (sim.config): TOML, the wording of a schema problem, dotted paths, the merge."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config import (
    NotANumber,
    PathError,
    field_name,
    first_problem,
    get_path,
    locate,
    merge,
    nested,
    number_at,
    read_toml,
    set_path,
)
from sim.files import FileProblem
from sim.parameters import Scenario
from sim.scenario import load

pytestmark = pytest.mark.unit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Item(_Strict):
    size: int = Field(ge=0)
    colour: str = "red"


class Shelf(_Strict):
    name: str
    items: list[Item] = Field(default_factory=list)
    labels: dict[str, Item] = Field(default_factory=dict)
    kind: str = "wood"

    @model_validator(mode="after")
    def _first_item_small(self) -> Shelf:
        if self.items and self.items[0].size > 10:
            raise ValueError(f"items[0].size: the first item holds at most 10 (is {self.items[0].size})")
        if self.kind == "glass":
            raise ValueError("glass shelves hold nothing")
        return self


def problem(model: type[BaseModel], data: dict):
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return first_problem(info.value, model)


# -- reading --------------------------------------------------------------------------------------


def test_read_toml_reads_a_table_and_names_malformed_text(tmp_path: Path):
    good = tmp_path / "good.toml"
    good.write_text('a = 1\n[b]\nc = "x"\n')
    assert read_toml(good) == {"a": 1, "b": {"c": "x"}}
    bad = tmp_path / "bad.toml"
    bad.write_text("[b\n")
    with pytest.raises(FileProblem, match="^malformed TOML: "):
        read_toml(bad)
    twice = tmp_path / "twice.toml"
    twice.write_text("a = 1\na = 2\n")
    with pytest.raises(FileProblem, match="malformed TOML"):
        read_toml(twice)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'a = "\xff"\n')
    with pytest.raises(FileProblem, match="not UTF-8"):
        read_toml(binary)


# -- the formatter ----------------------------------------------------------------------------------


def test_an_unknown_field_names_the_closest_and_the_allowed_ones():
    found = problem(Shelf, {"name": "a", "itmes": []})
    assert found.loc == ("itmes",)
    assert found.message == "unknown field. Did you mean 'items'? Allowed here: items, kind, labels, name"


def test_an_unknown_field_in_a_list_and_in_a_named_table_names_its_place():
    found = problem(Shelf, {"name": "a", "items": [{"size": 1}, {"size": 2, "color": "b"}]})
    assert found.field == "items[1].color"
    assert "Did you mean 'colour'?" in found.message and "Allowed here: colour, size" in found.message
    named = problem(Shelf, {"name": "a", "labels": {"top": {"size": 1, "sise": 2}}})
    assert named.field == "labels.top.sise" and "Did you mean 'size'?" in named.message


def test_a_misspelt_key_comes_before_what_it_leaves_missing_and_the_rest_are_counted():
    found = problem(Shelf, {"nmae": "a", "items": [{"size": -1}]})
    assert found.field == "nmae"
    assert found.message.endswith(" (2 more problems after this one)")
    one_more = problem(Shelf, {"items": [{"size": -1}]})
    assert one_more.field == "items[0].size" and one_more.message.endswith(" (1 more problem after this one)")


def test_a_missing_field_a_bound_and_a_wrong_type():
    assert problem(Shelf, {}).message == "required field is missing"
    assert problem(Shelf, {"name": "a", "items": [{"size": -1}]}).message == (
        "input should be greater than or equal to 0 (got -1)"
    )
    wrong = problem(Shelf, {"name": "a", "items": [{"size": "many"}]})
    assert wrong.field == "items[0].size"
    assert wrong.message.startswith("input should be a valid integer") and wrong.message.endswith("(got 'many')")


def test_a_long_value_is_shown_cut_short():
    found = problem(Shelf, {"name": "a", "items": [{"size": "x" * 500}]})
    shown = found.message.split("(got ", 1)[1]
    assert len(shown) <= 81 and shown.endswith("...)")


def test_a_whole_block_check_names_the_field_it_is_about():
    found = problem(Shelf, {"name": "a", "items": [{"size": 11}]})
    assert found.loc == ("items", 0, "size") and found.field == "items[0].size"
    assert found.message == "the first item holds at most 10 (is 11)"  # no '(got {...})' of the whole table
    whole = problem(Shelf, {"name": "a", "kind": "glass"})
    assert whole.field == "(top level)" and whole.message == "glass shelves hold nothing"


def test_scenario_keys_and_values_outside_a_literal_are_told_apart():
    data = load("baseline").scenario.model_dump()
    data["region"]["stock_category_shares"] = {"4a": 1.0}
    key = problem(Scenario, data)
    assert key.field == "region.stock_category_shares.4a"
    assert key.message.startswith("unknown key '4a'; allowed: '1a', '1b'")


def test_field_names_read_as_users_write_them():
    assert field_name(("policy_schedule", 0, "policy")) == "policy_schedule[0].policy"
    assert field_name(("drivers", "years", 2, 1)) == "drivers.years[2][1]"
    assert field_name(()) == ""


# -- dotted paths ------------------------------------------------------------------------------------

DATA = {
    "work": {"elasticity_work": 0.5, "base_work_per_month": {"close": 0.1}, "flag": True, "label": "x"},
    "drivers": {"years": [2013, 2014]},
}


def test_get_and_set_a_dotted_path():
    assert get_path(DATA, "work.base_work_per_month.close") == 0.1
    assert get_path(DATA, "drivers.years.1") == 2014
    data = copy.deepcopy(DATA)
    set_path(data, "work.elasticity_work", 0.7)
    set_path(data, "contact.contact_effect_max", 1.0)  # tables on the way are made
    assert data["work"]["elasticity_work"] == 0.7 and data["contact"] == {"contact_effect_max": 1.0}
    assert data["work"]["base_work_per_month"] == {"close": 0.1}
    assert nested("work.base_work_per_month.close", 0.2) == {"work": {"base_work_per_month": {"close": 0.2}}}
    container, key = locate(data, "drivers.years.0")
    assert container is data["drivers"]["years"] and key == 0


def test_an_unknown_part_names_the_closest_and_the_allowed_keys():
    with pytest.raises(PathError) as info:
        get_path(DATA, "work.elastcity_work")
    assert str(info.value) == (
        "unknown 'elastcity_work' under work. Did you mean 'elasticity_work' (work.elasticity_work)? "
        "Allowed: base_work_per_month, elasticity_work, flag, label"
    )
    with pytest.raises(
        PathError, match=r"^unknown 'wrk' under \(top level\)\. Did you mean 'work'\? Allowed: drivers, work$"
    ):
        get_path(DATA, "wrk.elasticity_work")


@pytest.mark.parametrize(
    ("path", "lists", "message"),
    [
        ("work.elasticity_work.x", True, "work.elasticity_work is a value, not a table"),
        ("drivers.years.7", True, "drivers.years is a list; give an index 0-1"),
        ("drivers.years.first", True, "drivers.years is a list; give an index 0-1"),
        ("drivers.years.0", False, "drivers.years is a list, not a table"),
    ],
)
def test_a_path_past_a_value_or_into_a_list_says_what_is_there(path, lists, message):
    with pytest.raises(PathError) as info:
        get_path(DATA, path, lists=lists)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("work", "is dict, not a number"),
        ("work.flag", "is bool (True), not a number"),
        ("work.label", "is str ('x'), not a number"),
        ("drivers.years", "is list, not a number"),
    ],
)
def test_only_numbers_are_numbers(path, message):
    assert number_at(DATA, "work.elasticity_work") == 0.5
    with pytest.raises(NotANumber) as info:
        number_at(DATA, path)
    assert str(info.value) == message


# -- the merge --------------------------------------------------------------------------------------

# keys starting with 't' hold tables and the others scalars, in every mapping drawn: the shape
# scenario files have (a table never replaces a value of the same name, nor the reverse)
_SCALAR_KEYS = st.sampled_from(["a", "b", "c", "d"])
_TABLE_KEYS = st.sampled_from(["t1", "t2", "t3"])
_SCALARS = st.one_of(st.integers(-3, 3), st.floats(allow_nan=False), st.sampled_from(["x", True, [1, 2]]))
TABLES = st.recursive(
    st.dictionaries(_SCALAR_KEYS, _SCALARS, max_size=3),
    lambda inner: st.builds(
        lambda values, tables: {**values, **tables},
        st.dictionaries(_SCALAR_KEYS, _SCALARS, max_size=3),
        st.dictionaries(_TABLE_KEYS, inner, max_size=2),
    ),
    max_leaves=10,
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_merged(merged: dict, a: dict, b: dict) -> None:
    assert set(merged) == set(a) | set(b)
    for key, value in merged.items():
        if isinstance(b.get(key), dict) and isinstance(a.get(key), dict):
            _check_merged(value, a[key], b[key])
        elif key in b:
            assert value == b[key]  # b's value wins
        else:
            assert value == a[key]


@FUZZ
@given(TABLES, TABLES)
def test_merge_keeps_every_key_and_the_later_value_wins(a, b):
    before = copy.deepcopy((a, b))
    merged = merge(a, b)
    _check_merged(merged, a, b)
    assert (a, b) == before  # neither input is changed
    assert merge(a, {}) == a and merge({}, b) == b and merge(a, a) == a


@FUZZ
@given(TABLES, TABLES, TABLES)
def test_merge_is_associative_for_tables_of_one_shape(a, b, c):
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


def test_a_list_or_value_replaces_and_a_table_merges():
    assert merge({"t": {"a": 1, "b": 2}, "l": [1, 2]}, {"t": {"b": 3}, "l": [3]}) == {"t": {"a": 1, "b": 3}, "l": [3]}
    assert merge({"t": {"a": 1}}, {"t": 5}) == {"t": 5}
