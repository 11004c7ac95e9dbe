"""`caseload explore`'s bad input: one line, exit 2, nothing started or written."""

from __future__ import annotations

import importlib.util
import socket

import pytest
from typer.testing import CliRunner

from cli import app

pytestmark = pytest.mark.cli


def _explore(*args: str, tmp_path=None):
    out = ["--out", str(tmp_path / "results")] if tmp_path else []
    return CliRunner().invoke(app, ["explore", *args, *out])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--reps", "1"], "--reps: give 2 to 200"),
        (["--until", "2013"], "--until: give a year from 2020 to 2040"),
        (["--parameter-draws", "-1"], "--parameter-draws: give 0 to 400"),
        (["--port", "0"], "--port: give a port from 1 to 65535"),
        (["--scenario", "nope"], "unknown scenario 'nope'"),
    ],
)
def test_bad_options_say_what_is_allowed(args, words, tmp_path):
    result = _explore(*args, tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.output
    assert not (tmp_path / "results").exists()


def test_a_port_in_use_is_said_before_anything_starts(tmp_path):
    pytest.importorskip("shiny", reason="the explorer's extra is not installed")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = _explore("--port", str(port), tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert f"--port: cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_without_the_extra_it_says_how_to_install_it(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "shiny" else real(name, *a))
    result = _explore(tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert 'pip install -e ".[explore]"' in result.output and "missing: shiny" in result.output
