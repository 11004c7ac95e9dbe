"""Robustness: bad scenario files fail loudly and cleanly; no run loses or half-writes results.

- Hypothesis writes bad scenario files (wrong types, out-of-range values, unknown keys, huge
  numbers, missing includes, include cycles, empty files, non-UTF-8 bytes, random text): each
  gives one line `error: FILE: FIELD: ...`, exit 2 from the CLI, no traceback, no output folder.
- Output folders appear whole or not at all: interrupted runs (SIGINT, SIGTERM, in the run or
  while writing), a full disk or an output path that cannot be a folder leave nothing behind,
  and an existing folder is never replaced without --force.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner
from verification_scenarios import baseline

from cli import app
from sim import output
from sim.files import is_slug
from sim.output import OutputError, write_folder
from sim.parameters import Policy, Scenario
from sim.replications import ExecutorError, SerialExecutor, check_dask_scheduler, make_executor, worker_count
from sim.scenario import ScenarioError, load, validate

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the fields a file can set, with their bounds -------------------------------------------------


def _bounds(field) -> dict[str, float]:
    out = {}
    for meta in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(meta, name, None) is not None:
                out[name] = getattr(meta, name)
    return out


def _scalar_fields() -> list[tuple[tuple[str, ...], type, dict]]:
    """(path, python type, bounds) of every scalar field in the single-table sections and a policy."""
    data = baseline().model_dump(mode="json")
    sections: list[tuple[tuple[str, ...], type[BaseModel]]] = []
    for name, field in Scenario.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            sections.append(((name,), model))
    sections.append((("policies", "focus"), Policy))
    fields = []
    for prefix, model in sections:
        values = data
        for part in prefix:
            values = values[part]
        for name, field in model.model_fields.items():
            value = values.get(name)
            if isinstance(value, bool | int | float | str):
                fields.append(((*prefix, name), type(value), _bounds(field)))
    return fields


SCALAR_FIELDS = _scalar_fields()
NUMERIC_FIELDS = [f for f in SCALAR_FIELDS if f[1] in (int, float)]
BOUNDED_FIELDS = [f for f in NUMERIC_FIELDS if f[2]]
SECTIONS = sorted({f[0][:-1] for f in SCALAR_FIELDS})


def _toml_key(path: tuple[str, ...]) -> str:
    return ".".join(f'"{p}"' if not p.replace("_", "").isalnum() else p for p in path)


def _file(path: tuple[str, ...], literal: str) -> str:
    """A scenario file that includes the baseline and sets one field to a TOML literal."""
    return f'include = "baseline"\n[{_toml_key(path[:-1])}]\n{path[-1]} = {literal}\n'


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else str(value)
    return str(value)


# -- what every bad file must give -----------------------------------------------------------------


def assert_clean_failure(
    text: str | bytes, *fragments: str, name: str = "bad.toml", others: dict | None = None
) -> None:
    """`load` raises ScenarioError naming the file; the CLI exits 2 with one line and writes nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / name
        for other, content in (others or {}).items():
            (folder / other).write_text(content)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        with pytest.raises(ScenarioError) as info:
            load(str(path))
        message = str(info.value)
        for fragment in fragments:
            assert fragment in message, (fragment, message)
        out = folder / "results"
        result = runner.invoke(app, ["run", str(path), "--until", "2014", "--out", str(out)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)
        assert not out.exists()
        assert sorted(p.name for p in folder.iterdir()) == sorted([name, *(others or {})])
        shown = runner.invoke(app, ["scenarios", "show", str(path)])
        assert shown.exit_code == 2 and shown.output.strip() == lines[0], shown.output


# -- Hypothesis: bad scenario files ------------------------------------------------------------------


@FUZZ
@given(st.sampled_from(SCALAR_FIELDS), st.data())
def test_wrong_types_name_the_field(field, data):
    path, kind, _ = field
    if kind in (int, float):
        choices = ['"lots"', "[1, 2]", "{ a = 1 }", "2020-01-01", '""']
    elif kind is bool:
        choices = ['"maybe"', "5", "[true]", "{ a = 1 }", "1.5"]
    else:
        choices = ["5", "[1]", "{ a = 1 }", "true", "2.5"]
    literal = data.draw(st.sampled_from(choices))
    assert_clean_failure(_file(path, literal), ".".join(path))


@FUZZ
@given(st.sampled_from(BOUNDED_FIELDS), st.data())
def test_out_of_range_values_name_the_field(field, data):
    path, kind, bounds = field
    side = data.draw(st.sampled_from(sorted(bounds)))
    margin = (
        data.draw(st.one_of(st.just(1), st.integers(1, 10**6)))
        if kind is int
        else data.draw(st.floats(1e-3, 1e6) | st.just(1e300))
    )
    limit = bounds[side]
    value = limit - margin if side in ("ge", "gt") else limit + margin
    if side == "gt" and kind is float:
        value = limit - margin  # strictly below a strict lower bound
    value = kind(value)
    assert_clean_failure(_file(path, _literal(value)), ".".join(path), "(got ")


@FUZZ
@given(st.sampled_from(SECTIONS), st.from_regex(r"\A[a-z][a-z_]{2,20}\Z"))
def test_unknown_keys_name_the_key_and_the_allowed_ones(section, key):
    if section == ("policies", "focus"):
        allowed = set(Policy.model_fields)
    else:
        allowed = set(Scenario.model_fields[section[0]].annotation.model_fields)
    if key in allowed:
        return
    assert_clean_failure(_file((*section, key), "1"), ".".join((*section, key)), "unknown field", "Allowed here")


@FUZZ
@given(
    st.sampled_from(NUMERIC_FIELDS),
    st.sampled_from(["1e308", "-1e308", "1e30", "100000000000000000000000000", "inf", "-inf", "nan"]),
)
def test_huge_numbers_are_an_error_naming_the_field_or_run_cleanly(field, literal):
    """A huge value is refused naming the field (or the inflow it would cause), or the run completes."""
    path, _, _ = field
    text = _file(path, literal)
    load_error = None
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "huge.toml"
        file.write_text(text)
        try:
            load(str(file))
        except ScenarioError as exc:
            load_error = str(exc)
    if load_error is not None:
        # the field itself, or the table whose check it breaks (inflow size, simulation years)
        assert any(name in load_error for name in (".".join(path), "inflow", "simulation")), load_error
        assert_clean_failure(text)
        return
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "huge.toml"
        file.write_text(text)
        out = Path(tmp) / "out"
        result = runner.invoke(app, ["run", str(file), "--until", "2014", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert {p.name for p in out.iterdir()} == {"yearly.csv", "monthly.csv", "manifest.json"}


@FUZZ
@given(
    st.one_of(
        st.just(""),
        st.text(alphabet=" \t\n", max_size=20),
        st.builds(
            lambda c: "# " + c + "\n", st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
        ),
    )
)
def test_empty_files(text):
    assert_clean_failure(text, "empty scenario file")


@FUZZ
@given(st.binary(min_size=1, max_size=200), st.booleans())
def test_non_utf8_bytes(raw, with_header):
    data = (b'include = "baseline"\n' if with_header else b"") + raw + b"\xff"
    assert_clean_failure(data, "not UTF-8", "bad.toml")


@FUZZ
@given(st.text(max_size=200))
def test_random_text_never_crashes(text):
    # anything but a full scenario: malformed TOML, unknown keys, or missing required fields
    assert_clean_failure(text, "bad.toml")


@FUZZ
@given(st.from_regex(r"\A[a-z][a-z0-9_-]{0,20}\Z"), st.booleans())
def test_missing_includes(name, as_path):
    ref = f"{name}.toml" if as_path else f"zz-{name}"
    assert_clean_failure(f'include = "{ref}"\n', "include", "does not exist" if as_path else "unknown scenario")


@FUZZ
@given(st.integers(1, 5))
def test_include_cycles(length):
    names = [f"c{i}.toml" for i in range(length)]
    files = {names[i]: f'include = "{names[(i + 1) % length]}"\n' for i in range(1, length)}
    assert_clean_failure(f'include = "{names[1 % length]}"\n', "include cycle", name=names[0], others=files)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("include = 5\n", ["include", "scenario name or path"]),
        ('include = ["baseline", 3]\n', ["include"]),
        ('include = "baseline"\nregion = 5\n', ["region", "valid dictionary"]),
        ('include = "baseline"\n[[chain]]\nx = 1\n', ["chain"]),
        (
            'include = "baseline"\n[work]\nbase_work_per_month = { close = 0.1, nearby = 0.2 }\n',
            ["work.base_work_per_month.nearby"],
        ),
        ('include = "baseline"\n[region]\nstock_category_shares = { 1a = 1.0 }\n', ["bad.toml: region", "add up to 1"]),
        (
            'include = "baseline"\n[inflow]\nnewcomer_age_shares = { under27 = 0.0 }\n',
            ["bad.toml: inflow", "add up to 1"],
        ),
        ('include = "baseline"\n[drivers]\nyears = [2013]\n', ["bad.toml: drivers.years", "has 1 values but"]),
        (
            'include = "baseline"\n[[shocks]]\nname = "x"\nstart = 2020-01-01\nend = 2021-01-01\ninflow_multiplier = 1e300\n',
            ["inflow", "30,000,000"],
        ),
        ('include = "baseline"\n[inflow]\nreference_unemployment_pct = 1e-70\n', ["inflow.reference_unemployment_pct"]),
        ('include = "baseline"\n[[shocks]]\nname = "x"\nstart = "soon"\nend = 2021-01-01\n', ["shocks[0].start"]),
    ],
)
def test_specific_bad_files(text, fragments):
    assert_clean_failure(text, "bad.toml", *fragments)


def test_a_scenario_missing_a_group_is_an_error_not_a_crash():
    """A whole scenario (no include) whose job-finding table lacks groups: it used to crash the run."""
    data = baseline().model_dump(mode="json")
    bad = {**data, "work": {**data["work"], "base_work_per_month": {"close": 0.1}}}
    with pytest.raises(
        ScenarioError, match="work.base_work_per_month: needs a value for every group; missing: near, far, very_far"
    ):
        validate(bad, Path("standalone.toml"))


def _write(folder: Path, text: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_deep_include_chain_is_an_error(tmp_path):
    depth = 40
    for i in range(depth):
        _write(tmp_path, f'include = "d{i + 1}.toml"\n' if i < depth - 1 else 'include = "baseline"\n', f"d{i}.toml")
    with pytest.raises(ScenarioError, match="nested more than"):
        load(str(tmp_path / "d0.toml"))


def test_error_names_the_file_that_set_the_bad_value(tmp_path):
    """A bad value in an included file is reported in that file, not in the file including it."""
    _write(tmp_path, 'include = "baseline"\n[chain]\ndream_job_work_share = 2.0\n', "middle.toml")
    top = _write(tmp_path, 'include = "middle.toml"\n[chain]\nintakes_per_weekday = 3\n', "top.toml")
    with pytest.raises(ScenarioError) as info:
        load(str(top))
    assert str(info.value).startswith(f"{tmp_path / 'middle.toml'}: chain.dream_job_work_share")


# -- output folders: whole or nothing ----------------------------------------------------------------


def _tables():
    return {"yearly.csv": pd.DataFrame({"a": [1, 2]}), "monthly.csv": pd.DataFrame({"b": [3]})}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


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


def test_failed_forced_replace_keeps_the_old_folder(tmp_path, monkeypatch):
    out = _old_results(tmp_path / "out")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OutputError, match="No space left on device"):
        write_folder(out, _tables(), {"x": 1}, force=True)
    assert _leftovers(tmp_path) == ["out"]
    assert (out / "yearly.csv").read_text() == "old results\n"


def test_existing_folder_is_never_replaced_without_force(tmp_path):
    out = _old_results(tmp_path / "out")
    with pytest.raises(OutputError, match="--force"):
        write_folder(out, _tables(), {"x": 1})
    assert (out / "yearly.csv").read_text() == "old results\n"
    write_folder(out, _tables(), {"x": 1}, force=True)
    assert _leftovers(out) == ["manifest.json", "monthly.csv", "yearly.csv"]
    assert _leftovers(tmp_path) == ["out"]


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


def test_force_never_replaces_the_working_folder_or_its_parents(tmp_path, monkeypatch):
    work = _old_results(tmp_path / "project")
    (work / "sub").mkdir()
    for cwd in (work, work / "sub"):
        monkeypatch.chdir(cwd)
        for target in (work, Path("."), Path("..") if cwd != work else work):
            with pytest.raises(OutputError, match="working folder"):
                write_folder(target, _tables(), {"x": 1}, force=True)
    assert (work / "yearly.csv").read_text() == "old results\n" and (work / "sub").is_dir()


def test_a_run_that_finds_its_place_taken_at_the_end_fails_and_leaves_the_other(tmp_path, monkeypatch):
    """Two runs to one --out: the second to finish must not replace the first (no --force)."""
    out = tmp_path / "out"

    def other_run_finishes_first(folder: Path) -> None:
        _old_results(out)  # another process moved its results into place while this one wrote

    with pytest.raises(OutputError, match="another run wrote this folder"):
        write_folder(out, _tables(), {"x": 1}, extra=other_run_finishes_first)
    assert (out / "yearly.csv").read_text() == "old results\n"
    assert _leftovers(tmp_path) == ["out"]


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


def test_table_names_cannot_leave_the_folder(tmp_path):
    for name in ("../x.csv", "/tmp/x.csv", "a/../../x.csv", ""):
        with pytest.raises(ValueError, match="inside the output folder"):
            write_folder(tmp_path / "out", {name: pd.DataFrame({"a": [1]})}, {})
    assert _leftovers(tmp_path) == []


def test_text_a_spreadsheet_would_run_is_quoted_in_csv(tmp_path):
    frame = pd.DataFrame({"text": ["=1+1", "+A1", "-2+3", "@SUM(A1)", "\tx", "plain"], "number": [-1.5, 2, 3, 4, 5, 6]})
    write_folder(tmp_path / "out", {"t.csv": frame}, {})
    back = pd.read_csv(tmp_path / "out" / "t.csv")
    assert back["text"].tolist()[:4] == ["'=1+1", "'+A1", "'-2+3", "'@SUM(A1)"]
    assert back["text"].iloc[-1] == "plain" and back["number"].iloc[0] == -1.5


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


def test_failed_write_removes_the_parent_folders_it_created(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(OutputError):
        write_folder(tmp_path / "a" / "b" / "out", _tables(), {"x": 1})
    assert _leftovers(tmp_path) == []


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


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_disk_full_is_a_clear_error_and_nothing_is_written(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    result = invoke("run", "baseline", "--until", 2014, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "No space left on device" in result.output
    assert "Traceback" not in result.output
    assert _leftovers(tmp_path) == []


def test_unwritable_output_folder_is_a_clear_error(tmp_path, monkeypatch):
    """A read-only parent (simulated: tests run as root, where chmod does not stop writes)."""

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    result = invoke("run", "baseline", "--until", 2014, "--out", tmp_path / "sub" / "out")
    assert result.exit_code == 2
    assert (
        result.output.startswith("error: ") and "cannot create the output folder (Permission denied)" in result.output
    )
    assert "Traceback" not in result.output
    assert _leftovers(tmp_path) == []  # the parent folder it made for --out is gone again


def test_output_path_under_a_regular_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    result = invoke("run", "baseline", "--until", 2014, "--out", blocker / "out")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "cannot create the output folder" in result.output
    assert "Traceback" not in result.output
    assert _leftovers(tmp_path) == ["file.txt"] and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("force", [False, True])
def test_output_path_that_is_a_file_is_never_replaced(tmp_path, force):
    blocker = tmp_path / "out"
    blocker.write_text("precious")
    result = invoke("run", "baseline", "--until", 2014, "--out", blocker, *(["--force"] if force else []))
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert blocker.read_text() == "precious"
    assert _leftovers(tmp_path) == ["out"]


# -- interrupted runs: a real `caseload run` process and a real signal ------------------------------

DRIVER = textwrap.dedent("""
    import os, sys, time
    import pandas as pd
    import sim.replications as replications

    mode = sys.argv[1]
    if mode in ("run", "compiled"):
        original_task = replications.run_task

        def task(t):
            # the handshake: the test signals once it reads this (one write, so two workers' lines never mix)
            os.write(1, f"running {os.getpid()}\\n".encode())
            if mode == "run":
                return original_task(t)  # the signal lands wherever the replication is
            try:
                time.sleep(60)
            except KeyboardInterrupt as exc:
                # what compiled code makes of an interrupt that lands inside it
                raise SystemError("CPUDispatcher(<function f>) returned a result with an exception set") from exc

        replications.run_task = task
    else:
        original_csv = pd.DataFrame.to_csv

        def slow(self, *args, **kwargs):
            original_csv(self, *args, **kwargs)
            print("writing", flush=True)
            time.sleep(60)

        pd.DataFrame.to_csv = slow
    sys.argv = ["caseload", *sys.argv[2:]]
    from cli import main

    main()
""")


def _reset_sigint() -> None:
    # a shell starts background jobs with SIGINT ignored; a user at a terminal has the default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(("moment", "workers"), [("run", 1), ("compiled", 1), ("run", 2), ("write", 1)])
def test_interrupted_run_leaves_no_folder(tmp_path, signum, moment, workers):
    """A signal during a replication (in any code, compiled included) or while writing: exit 130, one line, no folder."""
    out = tmp_path / "out"
    args = ["run", "baseline", "--seed", "5", "--out", str(out), "--workers", str(workers)]
    args += ["--until", "2060", "--reps", "4"] if moment != "write" else ["--until", "2014"]
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "write" if moment == "write" else moment, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_reset_sigint,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = proc.stdout.readline().split()
        assert first[:1] == (["writing"] if moment == "write" else ["running"]), str(first) + proc.stderr.read()
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines() == ["error: interrupted; no output folder was written"], stderr
    assert _leftovers(tmp_path) == [], "an interrupted run left a folder behind"


def test_an_interrupt_disguised_by_compiled_code_stops_the_serial_executor():
    """Compiled code turns a KeyboardInterrupt into a SystemError: that is an interrupt, not a failed replication."""

    def disguised(item):
        if item == 1:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise SystemError("returned a result with an exception set") from exc
        return item

    done = []
    with pytest.raises(KeyboardInterrupt):
        for i, result in SerialExecutor().map_unordered(disguised, [0, 1, 2]):
            done.append((i, result))
    assert done == [(0, 0)]  # replication 2 never ran


def test_a_failed_replication_is_reported_and_the_others_go_on():
    def failing(item):
        if item == 1:
            raise ValueError("bad")
        return item

    results = list(SerialExecutor().map_unordered(failing, [0, 1, 2]))
    assert [i for i, _ in results] == [0, 1, 2] and isinstance(results[1][1], ValueError)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_pool_workers_end_with_their_parent(tmp_path):
    """A parent killed outright (SIGKILL, no clean-up) takes its worker processes with it."""
    args = ["run", "baseline", "--until", "2060", "--reps", "4", "--workers", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "running", first
        worker = int(first[1])
        assert worker != proc.pid
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(worker), "a worker outlived its killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- names that become paths, input files that are not files, limits, surprises ----------------------


@FUZZ
@given(st.text(alphabet=st.sampled_from("ab/\\.-_ é\u202e:~$"), min_size=0, max_size=12))
def test_a_scenario_name_never_points_outside_its_folder(name):
    """A generated name is a safe slug (and then one folder name), or refused naming the field."""
    text = f'include = "baseline"\nname = "{name.replace(chr(92), chr(92) * 2)}"\n'
    if is_slug(name):
        scenario = validate_file(text)
        folder = Path("results") / f"{scenario.name}-seed42"
        assert folder.parent == Path("results") and len(folder.parts) == 2 and ".." not in folder.parts
    else:
        assert_clean_failure(text, "bad.toml: name", "becomes a file or folder name")


def validate_file(text: str) -> Scenario:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(text)
        return load(str(path)).scenario


@pytest.mark.parametrize("name", ["../x", "/etc/x", "broad/../broad", ".hidden", "", "a..b", "a/b"])
def test_names_that_are_paths_are_refused(name):
    assert_clean_failure(f'include = "baseline"\nname = "{name}"\n', "bad.toml: name")


def test_a_file_name_that_is_no_slug_gives_a_safe_default_name(tmp_path):
    path = tmp_path / "mijn scenario (v2).toml"
    path.write_text('include = "baseline"\n')
    assert load(str(path)).scenario.name == "mijn-scenario-v2"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_an_include_that_is_a_fifo_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")
    path = _write(tmp_path, 'include = "pipe.toml"\n')
    with pytest.raises(ScenarioError, match=r"s.toml: include: .*pipe.toml: not a regular file"):
        load(str(path))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_include_that_is_a_device_is_refused_at_once(tmp_path):
    path = _write(tmp_path, 'include = "/dev/zero"\n')
    with pytest.raises(ScenarioError, match="s.toml: include: /dev/zero: not a regular file"):
        load(str(path))


def test_an_oversized_scenario_file_is_refused(tmp_path):
    path = _write(tmp_path, 'include = "baseline"\n' + "# padding\n" * 120_000)
    with pytest.raises(ScenarioError, match="at most 1,000,000 are read"):
        load(str(path))


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            'include = "focus"\n[[policy_schedule]]\nstart = 2013-01-01\npolicy = "focus"\n'
            '[[policy_schedule]]\nstart = 2013-01-01\npolicy = "broad"\n',
            ["policy_schedule[1].start", "the same date"],
        ),
        (
            'include = "baseline"\n[[policy_schedule]]\nstart = 0\npolicy = "focus"\n',
            ["policy_schedule[0].start", "a number is not a date"],
        ),
        (
            'include = "baseline"\n[money]\nstate_grant_eur_per_year = { total = 5.0 }\n',
            ["money.state_grant_eur_per_year", "years from 1990 to 2100", "'total'"],
        ),
        (
            'include = "baseline"\n[[shocks]]\nname = "x"\nstart = 2020-03-01\nend = 2020-01-01\n',
            ["shocks[0].end", "must be after start"],
        ),
        ('include = "baseline"\n[simulation]\nuntil_year = 2000\n', ["simulation.until_year", "after start_year"]),
    ],
)
def test_silent_surprises_are_errors_naming_the_field(text, fragments):
    assert_clean_failure(text, "bad.toml", *fragments)


def test_all_zero_trajectory_weights_for_a_group_are_an_error():
    data = baseline().model_dump(mode="json")
    basket = [{**t, "weights": {**t["weights"], "refugee": 0.0}} for t in data["trajectories"]["basket"]]
    bad = {**data, "trajectories": {**data["trajectories"], "basket": basket}}
    with pytest.raises(ScenarioError, match="trajectories.basket: the weights for refugee are zero"):
        validate(bad, Path("standalone.toml"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--seed", str(2**32)], "--seed: give a whole number from 0 to 4,294,967,295"),
        (["--seed", "-1"], "--seed"),
        (["--reps", str(10**20)], "--reps: give 1 to 1,000,000"),
        (["--reps", "0"], "--reps"),
        (["--workers", "100000"], "--workers: give 1 to"),
        (["--scheduler", "not-an-address"], "--scheduler: 'not-an-address' is not an address"),
    ],
)
def test_out_of_range_options_are_one_line(tmp_path, args, fragment):
    result = invoke("run", "baseline", "--until", 2014, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()] and result.output.startswith("error: ")
    assert fragment in result.output
    assert _leftovers(tmp_path) == []


def test_a_run_too_large_for_memory_is_refused_before_it_starts(tmp_path):
    result = invoke("run", "national", "--reps", 1_000_000, "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output.startswith("error: --reps: 1,000,000 replications")
    assert "GiB of memory" in result.output and _leftovers(tmp_path) == []


def test_a_long_run_says_what_it_will_cost_first(tmp_path, monkeypatch):
    import sim.replications

    monkeypatch.setattr(sim.replications, "LARGE_RUN_SECONDS", 0.0)
    result = invoke("run", "baseline", "--until", 2014, "--out", tmp_path / "out")
    assert result.exit_code == 0
    assert "note: 1 replications on 1 worker(s): about" in result.output
    assert "GiB of memory for the results (rough estimate)" in result.output


def test_no_more_workers_than_replications():
    assert isinstance(make_executor(None, tasks=1), SerialExecutor)
    assert worker_count(16, tasks=3) == 3 and worker_count(None, tasks=10**6) == (os.cpu_count() or 1)
    with pytest.raises(ExecutorError, match="--workers"):
        worker_count(10**6)


def test_the_out_folder_that_is_a_file_does_not_suggest_force(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("precious")
    result = invoke("run", "baseline", "--until", 2014, "--out", blocker)
    assert "is not a folder" in result.output and "--force" not in result.output


def test_compare_across_start_years_says_why_no_option_helps(tmp_path):
    later = _write(
        tmp_path, 'include = "broad"\nname = "later"\n[simulation]\nstart_year = 2014\n[region]\ninitial_stock = 1700\n'
    )
    result = invoke("compare", "focus", later, "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "simulation.start_year: the scenarios start in different years" in result.output
    assert "--until" not in result.output
    shorter = _write(tmp_path, 'include = "broad"\nname = "shorter"\n[simulation]\nuntil_year = 2025\n', "b.toml")
    result = invoke("compare", "focus", shorter, "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "give --until 2025" in result.output


# -- a Dask scheduler that is not one ------------------------------------------------------------------


class _FakeServer:
    """A TCP service on loopback that sends `greeting` (or nothing) to each client."""

    def __init__(self, greeting: bytes | None) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.greeting, self.clients = greeting, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)
            if self.greeting is not None:
                conn.sendall(self.greeting)
                if not self.greeting:
                    conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.clients:
            conn.close()


@pytest.mark.parametrize(
    "greeting", [b"SSH-2.0-OpenSSH_9.2\r\n", b"\xff" * 64, b""], ids=["ssh", "huge-length", "closes"]
)
def test_a_service_that_is_not_dask_is_one_error_line(tmp_path, greeting):
    server = _FakeServer(greeting)
    try:
        result = invoke(
            "run", "baseline", "--until", 2014, "--reps", 2, "--scheduler", server.address, "--out", tmp_path / "out"
        )
    finally:
        server.close()
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --scheduler:") and len(result.output.strip().splitlines()) == 1
    assert "not as a Dask scheduler" in result.output and _leftovers(tmp_path) == []


def test_a_service_that_never_answers_is_given_up_on_in_bounded_time():
    server = _FakeServer(None)
    started = time.monotonic()
    try:
        with pytest.raises(ExecutorError, match="did not answer as a Dask scheduler within 0.5 s"):
            check_dask_scheduler(server.address, timeout=0.5)
    finally:
        server.close()
    assert time.monotonic() - started < 10


def test_a_real_dask_scheduler_passes_the_check():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        check_dask_scheduler(cluster.scheduler_address, timeout=5)
