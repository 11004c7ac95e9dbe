"""Output folders (sim/output.py) appear whole or not at all: an interrupted or failed write, a
full disk or a race with another run leaves nothing behind or the old folder as it was; an
existing folder is replaced only with force, and never one this tool did not write.

The same through `caseload run` (disk full, unwritable places) is tests/test_cli.py's.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import output
from sim.output import OutputError, write_folder

ROOT = Path(__file__).resolve().parents[1]


def _tables():
    return {"yearly.csv": pd.DataFrame({"a": [1, 2]}), "monthly.csv": pd.DataFrame({"b": [3]})}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.unit
def test_write_folder_interrupted_mid_write_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    original = pd.DataFrame.to_csv

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_folder(tmp_path / "out", _tables(), {"x": 1})
    assert _leftovers(tmp_path) == []


def _old_results(out: Path) -> Path:
    """A results folder an earlier run of this tool wrote."""
    out.mkdir()
    (out / "yearly.csv").write_text("old results\n")
    (out / "manifest.json").write_text('{"written_by": "caseload"}\n')
    return out


@pytest.mark.unit
def test_failed_forced_replace_keeps_the_old_folder(tmp_path, monkeypatch):
    out = _old_results(tmp_path / "out")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OutputError, match="No space left on device"):
        write_folder(out, _tables(), {"x": 1}, force=True)
    assert _leftovers(tmp_path) == ["out"]
    assert (out / "yearly.csv").read_text() == "old results\n"


@pytest.mark.unit
def test_existing_folder_is_never_replaced_without_force(tmp_path):
    out = _old_results(tmp_path / "out")
    with pytest.raises(OutputError, match="--force"):
        write_folder(out, _tables(), {"x": 1})
    assert (out / "yearly.csv").read_text() == "old results\n"
    write_folder(out, _tables(), {"x": 1}, force=True)
    assert _leftovers(out) == ["manifest.json", "monthly.csv", "yearly.csv"]
    assert _leftovers(tmp_path) == ["out"]


@pytest.mark.unit
@pytest.mark.parametrize("manifest", [None, "not json", "[1, 2]", '{"version": "1"}', '{"written_by": "someone"}'])
def test_force_never_replaces_a_folder_this_tool_did_not_write(tmp_path, manifest):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    if manifest is not None:
        (out / "manifest.json").write_text(manifest)
    for force in (False, True):
        with pytest.raises(OutputError, match="not a results folder of caseload"):
            write_folder(out, _tables(), {"x": 1}, force=force)
    assert (out / "thesis.docx").read_text() == "years of work"
    assert _leftovers(tmp_path) == ["mine"]


@pytest.mark.unit
def test_force_never_replaces_the_working_folder_or_its_parents(tmp_path, monkeypatch):
    work = _old_results(tmp_path / "project")
    (work / "sub").mkdir()
    for cwd in (work, work / "sub"):
        monkeypatch.chdir(cwd)
        for target in (work, Path("."), Path("..") if cwd != work else work):
            with pytest.raises(OutputError, match="working folder"):
                write_folder(target, _tables(), {"x": 1}, force=True)
    assert (work / "yearly.csv").read_text() == "old results\n" and (work / "sub").is_dir()


@pytest.mark.unit
def test_a_run_that_finds_its_place_taken_at_the_end_fails_and_leaves_the_other(tmp_path, monkeypatch):
    """Two runs to one --out: the second to finish must not replace the first (no --force)."""
    out = tmp_path / "out"

    def other_run_finishes_first(folder: Path) -> None:
        _old_results(out)  # another process moved its results into place while this one wrote

    with pytest.raises(OutputError, match="another run wrote this folder"):
        write_folder(out, _tables(), {"x": 1}, extra=other_run_finishes_first)
    assert (out / "yearly.csv").read_text() == "old results\n"
    assert _leftovers(tmp_path) == ["out"]


@pytest.mark.unit
def test_table_names_cannot_leave_the_folder(tmp_path):
    for name in ("../x.csv", "/tmp/x.csv", "a/../../x.csv", ""):
        with pytest.raises(ValueError, match="inside the output folder"):
            write_folder(tmp_path / "out", {name: pd.DataFrame({"a": [1]})}, {})
    assert _leftovers(tmp_path) == []


@pytest.mark.unit
def test_text_a_spreadsheet_would_run_is_quoted_in_csv(tmp_path):
    frame = pd.DataFrame({"text": ["=1+1", "+A1", "-2+3", "@SUM(A1)", "\tx", "plain"], "number": [-1.5, 2, 3, 4, 5, 6]})
    write_folder(tmp_path / "out", {"t.csv": frame}, {})
    back = pd.read_csv(tmp_path / "out" / "t.csv")
    assert back["text"].tolist()[:4] == ["'=1+1", "'+A1", "'-2+3", "'@SUM(A1)"]
    assert back["text"].iloc[-1] == "plain" and back["number"].iloc[0] == -1.5


@pytest.mark.unit
def test_interrupted_between_the_two_renames_puts_the_old_folder_back(tmp_path, monkeypatch):
    out = _old_results(tmp_path / "out")

    def interrupted(source, target):  # the old folder is moved aside; the new one is not in place yet
        assert not out.exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "_rename_exclusive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_folder(out, _tables(), {"x": 1}, force=True)
    assert _leftovers(tmp_path) == ["out"]
    assert (out / "yearly.csv").read_text() == "old results\n"


@pytest.mark.unit
def test_failed_write_removes_the_parent_folders_it_created(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OutputError):
        write_folder(tmp_path / "a" / "b" / "out", _tables(), {"x": 1})
    assert _leftovers(tmp_path) == []


@pytest.mark.unit
def test_folders_left_by_a_killed_run_are_removed_by_the_next_write(tmp_path):
    """SIGKILL cannot be caught: the hidden partial folder it leaves names its process, and goes."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".out.partial-{dead_pid}-abc123"
    stale.mkdir()
    (stale / "yearly.csv").write_text("half")
    busy = tmp_path / f".out.partial-{os.getpid()}-def456"  # a live process still writing it
    busy.mkdir()
    other = tmp_path / f".other.partial-{dead_pid}-ghi789"  # another target: not ours to clean
    other.mkdir()
    write_folder(tmp_path / "out", _tables(), {"x": 1})
    assert _leftovers(tmp_path) == sorted([busy.name, other.name, "out"])


# -- real processes --------------------------------------------------------------------------------


@pytest.mark.cli
def test_concurrent_runs_to_one_folder_leave_exactly_one_result(tmp_path):
    """Real processes racing to the same --out: exactly one succeeds, the other says why."""
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import sys, pandas as pd
        from sim.output import OutputError, write_folder
        barrier = {str(tmp_path / "go")!r}
        import os, time
        def wait(folder):
            open(os.path.join({str(tmp_path)!r}, "ready-" + sys.argv[1]), "w").close()
            while not os.path.exists(barrier):
                time.sleep(0.01)
        try:
            write_folder(__import__("pathlib").Path({str(out)!r}), {{"t.csv": pd.DataFrame({{"who": [sys.argv[1]]}})}}, {{}}, extra=wait)
            print("wrote")
        except OutputError as exc:
            print("refused", exc)
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)  # both have checked the target and written their files: the race is set
    (tmp_path / "go").touch()
    outputs = sorted(p.communicate(timeout=60)[0].split()[0] for p in procs)
    assert outputs == ["refused", "wrote"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "t.csv"]


# -- which folders are ours, and what a spreadsheet sees -------------------------------------------


@pytest.mark.unit
def test_a_folder_is_ours_only_with_a_manifest_this_tool_wrote(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    assert not output.written_by_us(folder)
    for text, ours in [
        ('{"written_by": "caseload"}', True),
        ('{"version": "0.1.0", "created": "2024-01-01T00:00:00+00:00"}', True),  # before the marker existed
        ('{"written_by": "someone"}', False),
        ("[1, 2]", False),
        ("not json", False),
    ]:
        (folder / "manifest.json").write_text(text)
        assert output.written_by_us(folder) is ours, text


@pytest.mark.unit
def test_a_written_manifest_says_who_wrote_it_and_what_ran(tmp_path):
    write_folder(tmp_path / "out", _tables(), output.manifest("run", seed=5))
    written = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert written["written_by"] == "caseload" and written["command"] == "run" and written["seed"] == 5
    assert {"version", "created"} <= written.keys() and output.written_by_us(tmp_path / "out")


@pytest.mark.unit
def test_only_text_that_a_spreadsheet_would_run_is_quoted():
    frame = pd.DataFrame({"text": ["=1+1", "-x", "\rx", "a=b", ""], "number": [-1.0, 2.0, 3.0, 4.0, 5.0]})
    safe = output.spreadsheet_safe(frame)
    assert safe["text"].tolist() == ["'=1+1", "'-x", "'\rx", "a=b", ""]
    assert safe["number"].tolist() == frame["number"].tolist() and frame["text"].iloc[0] == "=1+1"  # a copy
    numbers = pd.DataFrame({"n": [-1, 2]})
    assert output.spreadsheet_safe(numbers) is numbers


@pytest.mark.unit
def test_a_manifest_records_the_software_the_numbers_came_from():
    from importlib.metadata import version

    from sim.output import RECORDED_PACKAGES, manifest

    fields = manifest("run", seed=1)
    software = fields["software"]
    assert set(software["packages"]) == set(RECORDED_PACKAGES)
    assert software["packages"]["numpy"] == version("numpy") and software["python"]
    commit = software["git_commit"]  # in a checkout: the commit, marked dirty if the tree has changes
    assert commit is None or len(commit.removesuffix("-dirty")) == 40
    assert fields["seed"] == 1 and fields["command"] == "run"


@pytest.mark.unit
def test_parquet_tables_round_trip_typed_and_without_formula_quotes(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {
            "year": pd.array([2013, 2014], dtype="Int64"),
            "inflow": pd.array([None, 648], dtype="Int64"),
            "spending": pd.array([1.5, None], dtype="Float64"),
            "policy": ["=focus", None],
        }
    )
    out = write_folder(tmp_path / "out", {"yearly.csv": frame}, {"command": "run"}, table_format="parquet")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "yearly.parquet"]
    back = pd.read_parquet(out / "yearly.parquet")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert list(back.dtypes.astype(str)[:3]) == ["Int64", "Int64", "Float64"]  # no spreadsheet opens it: no quote


@pytest.mark.unit
def test_a_table_format_that_cannot_be_written_is_one_error_before_anything_is_written(tmp_path, monkeypatch):
    from sim.output import check_table_format

    with pytest.raises(OutputError, match="--format: 'xlsx' is not a table format; give csv or parquet"):
        write_folder(tmp_path / "out", {"yearly.csv": pd.DataFrame({"a": [1]})}, {}, table_format="xlsx")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    with pytest.raises(OutputError, match=r"parquet needs pyarrow.*\[parquet\]"):
        check_table_format("parquet")
    assert not (tmp_path / "out").exists()
