"""A bad comparison folder gives one error line naming the file and field, exit 2, and is left as it was;
text in the workbook is never a formula."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim.analysis.report as report
from cli import app

pytestmark = pytest.mark.cli

runner = CliRunner()
FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A small comparison folder (two scenarios, 2014-2016, two replications), without report or workbook."""
    out = tmp_path_factory.mktemp("made") / "cmp"
    args = [
        "compare",
        "--parameter-draws",
        "0",
        "focus",
        "broad",
        "--reps",
        "2",
        "--until",
        "2016",
        "--from-year",
        "2014",
        "--seed",
        "4",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def folder(made, tmp_path):
    copy = tmp_path / "cmp"
    shutil.copytree(made, copy)
    return copy


def snapshot(folder: Path) -> dict:
    """Every file and folder under `folder` (hidden ones too) with its bytes and mode; pipes are not read."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
    }


def assert_one_error_line(result, folder: Path, before: dict, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert snapshot(folder) == before, "the folder changed"


def report_cli(folder: Path, xlsx: bool = True):
    return runner.invoke(app, ["report", str(folder), *(["--xlsx"] if xlsx else [])])


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_a_good_folder_gets_its_report_and_workbook(folder):
    result = report_cli(folder)
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").stat().st_size > 10_000 and (folder / "comparison.xlsx").is_file()
    assert not list(folder.glob(".*"))  # no temporary left behind


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"", ["manifest.json: not JSON"]),
        (b"{not json", ["manifest.json: not JSON", "line 1 column 2"]),
        (b"[1, 2]", ["manifest.json: JSON but not an object"]),
        (b'{"scenarios": "caf\xe9"}', ["manifest.json: not UTF-8"]),
        (b"[" * 100_000, ["manifest.json: not JSON"]),
    ],
)
def test_a_manifest_that_is_not_a_json_object_is_one_error(folder, content, fragments):
    (folder / "manifest.json").write_bytes(content)
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"{folder}/", *fragments)


REQUIRED = ["scenarios", "reference", "from_year", "until_year", "seed", "replications_used", "parameters"]


@pytest.mark.parametrize("key", REQUIRED)
def test_a_manifest_without_a_field_the_report_reads_names_it(folder, key):
    edit_manifest(folder, lambda m: m.pop(key))
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"{folder / 'manifest.json'}: {key}")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("scenarios", ["focus"], "two or more"),
        ("scenarios", ["focus", "../../etc"], "scenario names"),
        ("scenarios", ["focus", "focus"], "distinct"),
        ("reference", "broad", "'focus'"),
        ("from_year", "2014", "whole year"),
        ("until_year", 2000, "from from_year"),
        ("from_year", True, "whole year"),
        ("discount_rate", "3%", "yearly rate"),
        ("discount_rate", float("nan"), "yearly rate"),
        ("replications_failed", 3, "list"),
    ],
)
def test_a_manifest_field_of_the_wrong_kind_names_it_and_what_is_allowed(folder, key, value, fragment):
    edit_manifest(folder, lambda m: m.update({key: value}))
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"manifest.json: {key}: ", fragment)


def test_a_manifest_without_the_reference_region_names_the_path(folder):
    edit_manifest(folder, lambda m: m["parameters"]["focus"].pop("region"))
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, "manifest.json: parameters.focus.region: missing")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3000, 3000) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@FUZZ
@given(
    key=st.sampled_from([*REQUIRED, "discount_rate", "replications_failed", "version"]),
    value=st.none() | JSON,
    drop=st.booleans(),
)
def test_any_manifest_change_gives_a_report_or_one_error_line(made, key, value, drop):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cmp"
        shutil.copytree(made, folder)
        edit_manifest(folder, lambda m: m.pop(key) if drop else m.update({key: value}))
        before = snapshot(folder)
        result = report_cli(folder, xlsx=False)
        if result.exit_code == 0:
            assert (folder / "report.html").is_file()
        else:
            assert_one_error_line(result, folder, before, "manifest.json: ")


def _rewrite(folder: Path, name: str, change) -> None:
    path = folder / name
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("name", "change", "fragments"),
    [
        ("comparison.csv", lambda f: f.drop(columns="diff_mean"), ["comparison.csv: diff_mean: column missing"]),
        ("comparison.csv", lambda f: f.iloc[:0], ["comparison.csv: a header but no rows"]),
        ("comparison.csv", lambda f: f.assign(mean="lots"), ["comparison.csv: mean: row 1 holds 'lots'", "number"]),
        ("comparison.csv", lambda f: f.assign(year="20x9"), ["comparison.csv: year: row 1", "'total'"]),
        ("comparison.csv", lambda f: f.assign(scenario=""), ["comparison.csv: scenario: row 1 holds ''"]),
        (
            "break_even.csv",
            lambda f: f.assign(break_even_year="2019.5"),
            ["break_even.csv: break_even_year: row 1", "whole year"],
        ),
        ("break_even.csv", lambda f: f.assign(break_even_low="inf"), ["break_even.csv: break_even_low: row 1"]),
        ("break_even.csv", lambda f: f.iloc[:0], ["break_even.csv: a header but no rows"]),
        ("parameters.csv", lambda f: f.drop(columns="broad"), ["parameters.csv: broad: column missing"]),
        (
            "scenarios/broad/yearly.csv",
            lambda f: f.drop(columns=["stock_1a", "year"]),
            ["yearly.csv: year, stock_1a: column missing"],
        ),
        ("scenarios/focus/yearly.csv", lambda f: f.assign(year=""), ["focus/yearly.csv: year: row 1"]),
    ],
)
def test_a_table_without_what_the_report_needs_names_file_and_column(folder, name, change, fragments):
    _rewrite(folder, name, change)
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"{folder}/", *fragments)


@pytest.mark.parametrize("name", ["comparison.csv", "parameters.csv", "scenarios/focus/yearly.csv"])
def test_an_empty_or_unreadable_table_is_one_error(folder, name):
    (folder / name).write_bytes(b"")
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"{folder / name}: empty file")
    (folder / name).write_bytes(b'a,b\n"1,2\n')
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"{folder / name}: not a CSV table")
    (folder / name).write_bytes(b"year,\xff\n")
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, f"{folder / name}: not UTF-8")


def test_a_pipe_or_folder_in_place_of_a_table_is_one_error_and_never_hangs(folder):
    (folder / "scenarios" / "broad" / "yearly.csv").unlink()
    os.mkfifo(folder / "scenarios" / "broad" / "yearly.csv")
    before = snapshot(folder)
    result = report_cli(folder)
    assert result.exit_code == 2 and "broad/yearly.csv: missing or not a regular file" in result.output
    assert snapshot(folder) == before
    (folder / "comparison.csv").unlink()
    (folder / "comparison.csv").mkdir()
    result = report_cli(folder)
    assert result.exit_code == 2 and "comparison.csv: missing or not a regular file" in result.output


def test_a_folder_that_is_not_a_comparison_is_one_error(tmp_path):
    result = report_cli(tmp_path / "nowhere")
    assert result.exit_code == 2 and "not a comparison folder (no such folder)" in result.output
    (tmp_path / "file").write_text("x")
    result = report_cli(tmp_path / "file")
    assert result.exit_code == 2 and "not a comparison folder (a file, not a folder)" in result.output
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "manifest.json").write_text("{}")
    before = snapshot(tmp_path)
    assert_one_error_line(
        report_cli(tmp_path / "some"),
        tmp_path,
        before,
        "not a comparison folder (missing comparison.csv, break_even.csv, parameters.csv)",
    )


TABLES = {
    "comparison.csv": list(report.COMPARISON_COLUMNS),
    "break_even.csv": list(report.BREAK_EVEN_COLUMNS),
    "parameters.csv": ["parameter", "focus", "broad"],
    "scenarios/focus/yearly.csv": list(report.YEARLY_COLUMNS),
}


@FUZZ
@given(data=st.data())
def test_any_table_change_gives_a_report_or_one_error_line(made, data):
    name = data.draw(st.sampled_from(sorted(TABLES)))
    column = data.draw(st.sampled_from(TABLES[name]))
    kind = data.draw(st.sampled_from(["drop", "cell", "column"]))
    text = data.draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cmp"
        shutil.copytree(made, folder)

        def change(frame):
            if kind == "drop":
                return frame.drop(columns=column)
            if kind == "column":
                return frame.assign(**{column: text})
            if len(frame):
                frame.loc[frame.index[len(frame) // 2], column] = text
            return frame

        _rewrite(folder, name, change)
        before = snapshot(folder)
        result = report_cli(folder, xlsx=False)
        if result.exit_code != 0:
            assert_one_error_line(result, folder, before, f"{folder}/")


@pytest.mark.parametrize("xlsx", [False, True])
def test_a_folder_that_cannot_be_written_is_left_as_it_was(folder, monkeypatch, xlsx):
    """Tests run as root, who may write anywhere: the refusal is simulated where the report creates its file."""
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).endswith(".partial"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(report.os, "open", refuse)
    before = snapshot(folder)
    assert_one_error_line(
        report_cli(folder, xlsx),
        folder,
        before,
        f"{folder / 'report.html'}: cannot write (Permission denied)",
        "the folder is as it was",
    )


def test_a_failed_rename_removes_the_temporary_files_and_keeps_the_old_report(folder, monkeypatch):
    assert report_cli(folder).exit_code == 0
    (folder / "report.html").write_text("old page", encoding="utf-8")

    def full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", full)
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, "report.html: cannot write (No space left on device)")
    assert (folder / "report.html").read_text(encoding="utf-8") == "old page"


def test_a_folder_in_the_way_of_the_report_is_one_error(folder):
    (folder / "comparison.xlsx").mkdir()
    before = snapshot(folder)
    assert_one_error_line(report_cli(folder), folder, before, "comparison.xlsx: exists and is not a file")


def test_compare_with_a_report_it_cannot_write_is_one_error_and_leaves_no_folder(tmp_path, monkeypatch):
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).endswith(".partial"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(report.os, "open", refuse)
    out = tmp_path / "cmp"
    result = runner.invoke(
        app,
        [
            "compare",
            "--parameter-draws",
            "0",
            "focus",
            "broad",
            "--reps",
            "1",
            "--until",
            "2015",
            "--from-year",
            "2014",
            "--workers",
            "1",
            "--out",
            str(out),
            "--report",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "report.html: cannot write (Permission denied)" in result.output.strip().splitlines()[-1]
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# -- text in the workbook is text ---------------------------------------------------------------

DANGEROUS = "=+-@\t\r"
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def expected_cell(text: str):
    """What a parameters.csv value becomes in the workbook: (value, data_type, quote prefix)."""
    if PLAIN_NUMBER.fullmatch(text):
        number = float(text)
        whole = re.fullmatch(r"[+-]?\d+", text)
        written = float(f"{number:.16g}")  # what openpyxl writes
        if abs(written) != float("inf") and not (whole and abs(int(text)) >= 2**53):
            return number, "n", False
    shown = re.sub(
        "[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]",
        "\ufffd",
        text.replace("\r\n", "\n").replace("\r", "\n"),
    )
    if not shown:
        return None, "n", False
    return shown, "s", shown[0] in "=+-@\t\n"


VALUES = st.one_of(
    st.text(max_size=12),
    st.builds(lambda first, rest: first + rest, st.sampled_from(DANGEROUS), st.text(max_size=12)),
    st.sampled_from(["=1+1", '=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1:A9)", "-0.5e3", "=", "\r\n=2"]),
    st.floats(allow_nan=False).map(repr),
    st.integers(-(2**60), 2**60).map(str),
)


def _workbook_with_value(made, tmp: str, value: str):
    folder = Path(tmp) / "cmp"
    shutil.copytree(made, folder)
    _rewrite(
        folder,
        "parameters.csv",
        lambda f: pd.DataFrame({"parameter": ["description"], "focus": ["same"], "broad": [value]}),
    )
    stored = pd.read_csv(folder / "parameters.csv", dtype=str, keep_default_na=False).loc[0, "broad"]
    report.write_workbook(folder)
    return stored, openpyxl.load_workbook(io.BytesIO((folder / "comparison.xlsx").read_bytes()))


@FUZZ
@given(value=VALUES)
@example(value="1.7976931348623155e+308")  # finite, but rounds up to infinity at the 16 digits written
def test_parameter_text_is_written_as_text_and_numbers_as_numbers(made, value):
    with tempfile.TemporaryDirectory() as tmp:
        stored, book = _workbook_with_value(made, tmp, value)
        cell = book["parameters"]["C2"]
        expected, data_type, quoted = expected_cell(stored)
        assert (cell.data_type, bool(cell.quotePrefix)) == (data_type, quoted), repr(stored)
        if data_type == "n" and expected is not None:
            assert cell.value == pytest.approx(expected, rel=1e-15, abs=0), repr(stored)  # openpyxl writes 16 digits
        else:
            assert cell.value == expected, repr(stored)
        assert all(c.data_type != "f" for sheet in book for row in sheet.iter_rows() for c in row)


def test_formula_like_text_in_any_table_stays_text(folder):
    _rewrite(folder, "comparison.csv", lambda f: f.assign(reference="=1+2"))
    _rewrite(folder, "break_even.csv", lambda f: f.assign(reference="@cmd"))
    report.write_workbook(folder)
    book = openpyxl.load_workbook(folder / "comparison.xlsx")
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value in ("=1+2", "@cmd")]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)
    numbers = [c for c in book["differences"]["E"][1:] if c.value is not None]  # the mean column
    assert numbers and all(c.data_type == "n" for c in numbers)
