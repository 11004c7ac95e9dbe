"""The evaluation log and the state folder: a damaged log never breaks or bends a fit, and a state
folder that cannot be written is refused up front with one line, or with one line mid-run.

Each test runs a one-parameter fit of a few evaluations (well under a second); the corruption
test replays a clean fit's log with generated damage.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_calibration import _tiny
from typer.testing import CliRunner

from calibration.fit import calibrate
from calibration.objective import Evaluator
from calibration.store import EvaluationLog, StateError, check_state, point_key, record_line
from sim.replications import SerialExecutor

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A clean fit, its log's name and bytes."""
    calibration = _tiny(budget=20)
    folder = tmp_path_factory.mktemp("clean")
    fit = calibrate(calibration, folder, SerialExecutor())
    (log,) = folder.glob("*.jsonl")
    return calibration, fit, log.name, log.read_bytes()


def _refit(clean, data: bytes):
    """The fit again on a log holding `data`; the fit, its log and the notes it gave."""
    calibration, _, name, _ = clean
    folder = Path(tempfile.mkdtemp())
    (folder / name).write_bytes(data)
    notes: list[str] = []
    fit = calibrate(calibration, folder, SerialExecutor(), on_note=notes.append)
    return fit, folder / name, notes


def _same_fit(fit, whole) -> None:
    np.testing.assert_array_equal(fit.theta, whole.theta)
    assert fit.best.objective == whole.best.objective
    np.testing.assert_array_equal(fit.jacobian, whole.jacobian)
    assert fit.evaluations == whole.evaluations


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line]


def _first(clean) -> dict:
    return json.loads(_lines(clean[3])[0])


def _bad_lines(clean) -> dict[str, bytes]:
    """One damaged or wrongly shaped line of each kind."""
    first = _first(clean)
    key, u, moments = first["key"], first["u"], first["moments"]
    good = _lines(clean[3])[0]
    digit = next(i for i in range(good.index(b'"moments"'), len(good)) if good[i : i + 1].isdigit())
    changed = good[:digit] + (b"1" if good[digit : digit + 1] != b"1" else b"2") + good[digit + 1 :]
    return {
        "empty object": b"{}",
        "null": b"null",
        "not an object": b"[1, 2, 3]",
        "not UTF-8": b'{"key": "\xff\xfe"}',
        "torn": good[: len(good) // 2],
        "missing moments": json.dumps({"key": key, "u": u, "check": first["check"]}).encode(),
        "wrong types": json.dumps({"key": 1, "u": "x", "moments": 2, "check": None}).encode(),
        "a number altered": changed,
        "key not its point": json.dumps({**first, "key": point_key(np.array(u) / 2)}).encode(),
        # intact records of another shape: only the evaluator knows the shape it needs
        "moments of another shape": record_line(key, np.array(u), np.array(moments * 2)).rstrip(),
        "moments of another width": record_line(key, np.array(u), np.array(moments)[:, :1]).rstrip(),
        "u of another length": record_line(point_key(np.array(u + u)), np.array(u + u), np.array(moments)).rstrip(),
    }


KINDS = [
    "empty object",
    "null",
    "not an object",
    "not UTF-8",
    "torn",
    "missing moments",
    "wrong types",
    "a number altered",
    "key not its point",
    "moments of another shape",
    "moments of another width",
    "u of another length",
]


@pytest.mark.unit
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["before", "after", "end"])
def test_a_bad_line_is_skipped_counted_and_the_fit_is_unchanged(clean, kind, where):
    _, whole, name, data = clean
    bad = _bad_lines(clean)[kind]
    lines = _lines(data)
    if where == "before":
        damaged = b"\n".join([bad, *lines]) + b"\n"
    elif where == "after":  # after the good record of the same point, which it would replace
        damaged = b"\n".join([lines[0], bad, *lines[1:]]) + b"\n"
    else:  # a torn last line, no newline after it
        damaged = data + bad
    fit, log, notes = _refit(clean, damaged)
    _same_fit(fit, whole)
    assert fit.log_skipped == 1
    assert notes == [f"{log}: 1 unreadable line ignored; those evaluations are run again"]
    # every evaluation of the fit is in the log afterwards: nothing appended was swallowed
    assert set(EvaluationLog(log).records) >= {json.loads(line)["key"] for line in lines}


@pytest.mark.unit
def test_a_record_appended_after_a_torn_line_is_kept(tmp_path):
    path = tmp_path / "log.jsonl"
    u, moments = np.array([0.25]), np.array([[1.0, 2.0]])
    path.write_bytes(record_line(point_key(u), u, moments) + b'{"key": "0x1.0p-1", "u": [0.')
    log = EvaluationLog(path)
    assert len(log) == 1 and log.skipped == 1
    v = np.array([0.5])
    log.append(point_key(v), v, moments)
    again = EvaluationLog(path)
    assert set(again.records) == {point_key(u), point_key(v)} and again.skipped == 1
    assert path.read_bytes().endswith(b"\n")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["key", "u", "moments", "check"]) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=8,
)
_payload = st.one_of(
    st.binary(min_size=1, max_size=24),
    _json.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"{}", b"null", b"\n", b"\xff", b"[[[[", b'{"key": "', b"1" * 5000]),
)
_damage = st.lists(
    st.tuples(st.sampled_from(["insert", "line", "append", "tear"]), st.integers(0, 10**6), _payload),
    min_size=1,
    max_size=4,
)


def _apply(data: bytes, damage) -> bytes:
    for kind, at, payload in damage:
        if kind == "insert":  # anywhere, even inside a record
            i = at % (len(data) + 1)
            data = data[:i] + payload + data[i:]
        elif kind == "line":  # a whole line of its own between records
            starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
            i = starts[at % len(starts)]
            data = data[:i] + payload + b"\n" + data[i:]
        elif kind == "append":
            data = data + payload
        else:  # a kill mid-write: the end of the file is lost
            data = data[: len(data) - at % (min(len(data), 60) + 1)]
    return data


@pytest.mark.unit
@FUZZ
@given(damage=_damage)
def test_generated_damage_never_raises_and_never_changes_the_fit(clean, damage):
    _, whole, _, data = clean
    fit, log, notes = _refit(clean, _apply(data, damage))
    _same_fit(fit, whole)
    assert len(notes) <= 1
    assert set(EvaluationLog(log).records) >= {json.loads(line)["key"] for line in _lines(data)}


@pytest.mark.unit
def test_the_evaluator_drops_records_of_another_shape(clean):
    calibration, whole, name, data = clean
    folder = Path(tempfile.mkdtemp())
    first = _first(clean)
    bad = record_line(first["key"], np.array(first["u"]), np.array(first["moments"] * 3))
    (folder / name).write_bytes(bad + data[data.index(b"\n") + 1 :])
    log = EvaluationLog(folder / name)
    assert first["key"] in log.records  # intact as a record: only its shape is wrong
    from calibration.fit import make_problem

    Evaluator(make_problem(calibration), log)
    assert first["key"] not in log.records and log.skipped == 1


# -- the state folder ---------------------------------------------------------------------------


@pytest.mark.unit
def test_a_state_path_that_is_a_file_or_under_one_is_refused(tmp_path):
    file = tmp_path / "state"
    file.write_text("x")
    with pytest.raises(StateError, match="not a folder"):
        check_state(file)
    with pytest.raises(StateError, match="cannot make the folder"):
        check_state(file / "below")


def _failing(monkeypatch, name: str, code: int, after: int = 0, inside: Path | None = None):
    """Make os.NAME fail with `code` after `after` calls (for paths under `inside`, if given)."""
    real = getattr(os, name)
    calls = {"n": 0}

    def fake(*args, **kwargs):
        if inside is not None and not str(args[0]).startswith(str(inside)):
            return real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, fake)
    return calls


@pytest.mark.unit
@pytest.mark.parametrize(("name", "code"), [("open", errno.EACCES), ("write", errno.ENOSPC), ("fsync", errno.ENOSPC)])
def test_a_folder_that_cannot_be_written_is_refused_up_front(tmp_path, monkeypatch, name, code):
    state = tmp_path / "state"
    state.mkdir()
    # tests run as root, where a read-only folder is writable: the failure is simulated
    _failing(monkeypatch, name, code, inside=state if name == "open" else None)
    with pytest.raises(StateError) as info:
        check_state(state)
    assert str(info.value).startswith(f"{state}: cannot write") and os.strerror(code) in str(info.value)
    monkeypatch.undo()
    assert list(state.iterdir()) == []  # the probe is gone


@pytest.mark.unit
def test_a_log_path_that_is_not_a_file_is_refused(clean, tmp_path):
    calibration, _, name, _ = clean
    (tmp_path / name).mkdir()
    with pytest.raises(StateError, match="evaluation log"):
        calibrate(calibration, tmp_path, SerialExecutor())
    fifo = tmp_path / "fifo"
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(StateError, match="not a regular file"):
        EvaluationLog(fifo)  # and does not hang


@pytest.mark.unit
def test_a_full_disk_mid_run_is_one_error_and_keeps_what_was_written(clean, tmp_path, monkeypatch):
    calibration = clean[0]
    _failing(monkeypatch, "fsync", errno.ENOSPC, after=4)  # the probe, then three evaluations
    with pytest.raises(StateError) as info:
        calibrate(calibration, tmp_path, SerialExecutor())
    monkeypatch.undo()
    message = str(info.value)
    assert "No space left on device" in message and "\n" not in message and "run the same command" in message
    (log,) = tmp_path.glob("*.jsonl")
    assert log.name in message
    kept = EvaluationLog(log)
    assert len(kept) >= 3  # the failed append may have reached the file before fsync failed


CLI_FILE = """
region = "leidschendam-voorburg"
fit_years = "2013-2015"
budget = 12
reps = 1
seed = 5
bootstrap = 10
band_draws = 0
fitted_file = "fitted-cli-test.toml"
[[parameters]]
path = "inflow.base_notifications_per_year"
lower = 500.0
upper = 1500.0
start = 800.0
prior_mean = 900.0
prior_sd = 500.0
source = "test"
"""


def _cli(tmp_path, *args):
    from cli import app

    path = tmp_path / "cal.toml"
    path.write_text(CLI_FILE, encoding="utf-8")
    return CliRunner().invoke(app, ["calibrate", "--region", str(path), "--workers", "1", *args])


def _no_evaluation(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a model evaluation ran")

    monkeypatch.setattr(Evaluator, "_run", refuse)


def _one_error_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return errors[0]


@pytest.mark.cli
def test_cli_refuses_a_state_file_before_any_evaluation(tmp_path, monkeypatch):
    _no_evaluation(monkeypatch)
    state = tmp_path / "state"
    state.write_text("not a folder")
    result = _cli(tmp_path, "--out", str(tmp_path / "out"), "--state", str(state))
    assert (
        _one_error_line(result, 2)
        == f"error: {state}: not a folder (a file is in the way); give a folder for the evaluation log"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.cli
@pytest.mark.parametrize("inside", ["", "state"])
def test_cli_refuses_a_state_inside_the_output_folder(tmp_path, monkeypatch, inside):
    # --force replaces the output folder whole: a log inside it would be lost
    _no_evaluation(monkeypatch)
    out = tmp_path / "out"
    state = out / inside if inside else out
    result = _cli(tmp_path, "--out", str(out), "--state", str(state), "--force")
    assert f"error: {state}: inside the output folder {out}" in _one_error_line(result, 2)
    assert not out.exists()


@pytest.mark.cli
def test_cli_refuses_an_unwritable_state_before_any_evaluation(tmp_path, monkeypatch):
    _no_evaluation(monkeypatch)
    state = tmp_path / "state"
    state.mkdir()
    _failing(monkeypatch, "open", errno.EACCES, inside=state)
    result = _cli(tmp_path, "--out", str(tmp_path / "out"), "--state", str(state))
    assert f"error: {state}: cannot write the evaluation log here (Permission denied)" in _one_error_line(result, 2)


@pytest.mark.cli
def test_cli_gives_one_line_when_the_disk_fills_mid_run(tmp_path, monkeypatch):
    _failing(monkeypatch, "fsync", errno.ENOSPC, after=3)
    result = _cli(tmp_path, "--out", str(tmp_path / "out"))
    line = _one_error_line(result, 2)
    assert "No space left on device" in line and str(tmp_path / "out.state") in line
    assert not (tmp_path / "out").exists()


@pytest.mark.cli
def test_cli_notes_unreadable_log_lines_once(tmp_path):
    from calibration.fit import load_checked
    from sim.analysis.summary import significant

    (tmp_path / "cal.toml").write_text(CLI_FILE, encoding="utf-8")
    calibration, _ = load_checked(tmp_path / "cal.toml")
    fit = calibrate(calibration, tmp_path / "out.state", SerialExecutor())
    (log,) = (tmp_path / "out.state").glob("*.jsonl")
    with log.open("ab") as fh:
        fh.write(b"{}\nnull\n\xff\n")
    result = _cli(tmp_path, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes == [f"note: {log}: 3 unreadable lines ignored; those evaluations are run again"]
    (estimate,) = [line for line in result.stdout.splitlines() if line.startswith("inflow.")]
    assert estimate.split()[1] == significant(fit.theta[0], 4)  # the resumed fit ends where the first did


@pytest.mark.cli
@pytest.mark.parametrize("problem", ["workers", "existing output"])
def test_a_refused_calibration_leaves_no_state_folder(tmp_path, monkeypatch, problem):
    """The output folder, workers and scheduler are checked before the state folder is made."""
    _no_evaluation(monkeypatch)
    out = tmp_path / "out"
    args = ["--out", str(out)]
    if problem == "workers":
        args += ["--workers", "0"]
    else:
        out.mkdir()
        (out / "mine.txt").write_text("mine")
    _one_error_line(_cli(tmp_path, *args), 2)
    assert not (tmp_path / "out.state").exists()
