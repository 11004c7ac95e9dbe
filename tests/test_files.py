"""Input files and names (sim/files.py): only regular UTF-8 files of bounded size are read, at
once and without hanging; names that become files or folders are safe slugs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.files import MAX_INPUT_BYTES, FileProblem, is_slug, read_text, slugify

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["baseline", "focus-corona", "a", "v1.2_final", "A" * 80, "2030"])
def test_safe_names_are_slugs(name):
    assert is_slug(name)


@pytest.mark.parametrize(
    "name", ["", ".hidden", "-x", "_x", "a/b", "a\\b", "..", "a..b", "x" * 81, "with space", "é", "a:b", None, 5]
)
def test_names_that_could_point_elsewhere_are_not_slugs(name):
    assert not is_slug(name)


def test_slugify_makes_a_safe_name_of_free_text():
    assert slugify("mijn scenario (v2)") == "mijn-scenario-v2"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("a..b...c") == "a.b.c"
    assert slugify("...") == "scenario" and slugify("") == "scenario"
    assert len(slugify("x" * 200)) == 80


@given(st.text(max_size=120))
def test_slugify_always_gives_a_slug(text):
    assert is_slug(slugify(text))


def test_a_regular_utf8_file_is_read_as_text(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes('name = "café"\n'.encode())
    assert read_text(path) == 'name = "café"\n'
    exact = tmp_path / "exact.toml"
    exact.write_bytes(b"#" * 100)
    assert read_text(exact, max_bytes=100) == "#" * 100


def test_a_file_that_is_not_utf8_says_where(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(FileProblem, match=r"not UTF-8 text \(invalid continuation byte at byte 11\)"):
        read_text(path)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * 101)
    with pytest.raises(FileProblem, match="file of 101 bytes; at most 100 are read"):
        read_text(path, max_bytes=100)
    assert MAX_INPUT_BYTES == 1_000_000


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(FileProblem, match="not a regular file"):
        read_text(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_instead_of_read_without_end():
    with pytest.raises(FileProblem, match="not a regular file"):
        read_text(Path("/dev/zero"))


def test_a_folder_or_a_missing_file_is_refused(tmp_path):
    # some systems refuse to open a folder, others open it and find no regular file: both say folder
    with pytest.raises(FileProblem, match="folder"):
        read_text(tmp_path)
    with pytest.raises(FileProblem, match="cannot read: No such file or directory"):
        read_text(tmp_path / "nothere.toml")
