"""The shipped scenarios listed without the schema (sim/catalogue.py): the same names and first
lines as loading each one gives, and a broken file named in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sim.catalogue as catalogue
from sim.catalogue import CatalogueError, describe_shipped, shipped_names
from sim.scenario import load

pytestmark = pytest.mark.unit


def test_the_listing_is_what_loading_each_scenario_says():
    rows = describe_shipped()
    assert [name for name, _ in rows] == shipped_names() and "baseline" in shipped_names()
    for name, text in rows:
        assert text == load(name).scenario.description.strip().splitlines()[0], name


def test_a_description_is_inherited_from_the_last_include_that_has_one(tmp_path, monkeypatch):
    (tmp_path / "_a.toml").write_text('description = "from a"\n')
    (tmp_path / "_b.toml").write_text('description = "from b\\nsecond line"\n')
    (tmp_path / "mine.toml").write_text('include = ["_a.toml", "_b.toml"]\n')
    (tmp_path / "own.toml").write_text('include = "mine"\ndescription = "its own"\n')
    (tmp_path / "bare.toml").write_text("[work]\n")
    monkeypatch.setattr(catalogue, "shipped_dir", lambda: tmp_path)
    assert describe_shipped() == [("bare", ""), ("mine", "from b"), ("own", "its own")]


def test_a_broken_file_is_one_message_naming_it(tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text("description = [\n")
    monkeypatch.setattr(catalogue, "shipped_dir", lambda: tmp_path)
    with pytest.raises(CatalogueError, match=r"broken\.toml: malformed TOML"):
        describe_shipped()


def test_listing_loads_neither_the_schema_nor_the_model():
    code = (
        "import sys, sim.catalogue as c; c.describe_shipped(); print(sorted({'pydantic', 'numpy'} & set(sys.modules)))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
