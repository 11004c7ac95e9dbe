"""Compiled code (sim/compiled.py): the numba cache folder is keyed on all the model's sources, so
an edit of any one of them recompiles, and caches of sources that are gone are cleared.

The sources are stood in for by a folder of our own (the module's `__file__` pointed there), so
nothing in sim/ is touched and the real cache stays as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

import numba
import pytest

import sim.compiled
from sim.compiled import cache_dir, compiled

pytestmark = pytest.mark.unit


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A stand-in for sim/: two model modules, with the cache folder computed from them."""
    folder = tmp_path / "sim"
    folder.mkdir()
    (folder / "compiled.py").write_text("# the decorator\n")
    (folder / "month_step.py").write_text("def step():\n    return 1\n")
    monkeypatch.setattr(sim.compiled, "__file__", str(folder / "compiled.py"))
    return folder


def test_the_cache_folder_is_the_same_while_the_sources_are(sources):
    first = cache_dir()
    assert first == cache_dir()
    assert Path(first).parent == sources / "__pycache__" and re.fullmatch(r"numba-[0-9a-f]{16}", Path(first).name)
    (sources / "notes.txt").write_text("not a model source")
    (sources / "__pycache__").mkdir()
    (sources / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert cache_dir() == first


def test_the_cache_folder_changes_when_any_model_source_changes(sources):
    first = cache_dir()
    step = sources / "month_step.py"
    step.write_text("def step():\n    return 2\n")
    edited = cache_dir()
    assert edited != first
    step.write_text("def step():\n    return 1\n")
    assert cache_dir() == first  # the same sources again: the same cache
    (sources / "randomness.py").write_text("def draw():\n    return 0.5\n")
    assert cache_dir() not in (first, edited)  # a new module counts too


def test_the_first_compiled_function_sets_the_folder_and_clears_stale_ones(sources, monkeypatch):
    monkeypatch.setattr(sim.compiled, "_configured", False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    current = Path(cache_dir())
    stale = current.parent / "numba-0123456789abcdef"
    for folder in (current, stale):
        folder.mkdir(parents=True)
    (current.parent / "other.pyc").write_bytes(b"\0")

    def double(x):
        return 2 * x

    function = compiled(double)
    assert str(current) == numba.config.CACHE_DIR
    assert sorted(p.name for p in current.parent.iterdir()) == sorted([current.name, "other.pyc"])
    assert function.py_func is double and function(21) == 42


def test_the_model_runs_from_the_folder_of_its_current_sources():
    import sim.model  # noqa: F401  (defines the compiled functions, which fixes the folder)

    assert cache_dir() == numba.config.CACHE_DIR
    assert Path(cache_dir()).parent == Path(sim.compiled.__file__).parent / "__pycache__"
