"""The documentation holds what the code generates, documents what the model writes, and stays
inside the repository: the README's two commands are CI's, links resolve, nothing cites files a
clone does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.analysis.docs import SCENARIOS_DOC, block, main, markers, reference
from sim.results import YEARLY_COLUMNS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MODEL = ROOT / "docs" / "model.md"
DOCUMENTS = [
    README,
    ROOT / "CHANGELOG.md",
    ROOT / "calibration" / "data" / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_scenarios_doc_holds_the_generated_scenario_reference():
    assert block(_text(SCENARIOS_DOC), "reference") == reference(), (
        "docs/scenarios.md's scenario-file reference differs from the schema: run `python -m sim.analysis.docs --write`"
    )


def test_sim_docs_write_rewrites_the_blocks_in_place(tmp_path):
    stale = "\n\n".join(f"{start}\nstale\n{end}" for start, end in map(markers, ("reference", "shipped-parameters")))
    path = tmp_path / "scenarios.md"
    path.write_text(f"# Before\n\n{stale}\n\nAfter.\n", encoding="utf-8")
    assert main(["--check", "--file", str(path)]) == 1
    assert main(["--write", "--file", str(path)]) == 0
    text = _text(path)
    assert text.startswith("# Before\n\n<!-- reference:start -->\n") and text.endswith(
        "<!-- shipped-parameters:end -->\n\nAfter.\n"
    )
    assert block(text, "reference") == reference() and "stale" not in text
    assert main(["--check", "--file", str(path)]) == 0


def test_sim_docs_refuses_a_file_without_the_markers(tmp_path, capsys):
    path = tmp_path / "other.md"
    path.write_text("# No generated blocks here\n", encoding="utf-8")
    assert main(["--write", "--file", str(path)]) == 2
    assert "reference:start" in capsys.readouterr().err
    assert _text(path) == "# No generated blocks here\n"


def _yearly_table_columns() -> list[str]:
    """The column names in the first cell of each row of docs/model.md's `yearly.csv` table."""
    section = _text(MODEL).split("### `yearly.csv`", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])]


def test_every_yearly_column_is_a_row_of_the_output_table():
    documented = _yearly_table_columns()
    assert sorted(documented) == sorted(YEARLY_COLUMNS), (
        f"docs/model.md's yearly.csv table: missing {sorted(set(YEARLY_COLUMNS) - set(documented))}, "
        f"not a column {sorted(set(documented) - set(YEARLY_COLUMNS))}"
    )


def test_the_readme_commands_are_the_ones_ci_runs():
    lines = {line.strip() for line in _text(README).splitlines()}
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert f"{venv}pip install -e . && caseload run baseline" in lines
    assert f'{venv}pip install -e ".[test]" && python -m pytest' in lines
    ci = _text(ROOT / ".ci" / "run")
    # the tested versions from the lock, then the project on top (docs/installing.md)
    assert "-m pip install --quiet --require-hashes -r requirements-lock.txt" in ci
    assert "-m pip install --quiet --no-deps -e ." in ci and re.search(r"^python3? -m pytest$", ci, re.MULTILINE)


def test_the_readme_is_for_users():
    text = _text(README)
    assert len(text.splitlines()) <= 250, (
        "README.md is for users: how the model works and history go in docs/ and CHANGELOG.md"
    )
    assert re.search(r"^## Performance$", text, re.MULTILINE) and "docs/performance.md" in text
    for path in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "docs" / "sources" / "README.md", ROOT / "CHANGELOG.md"]:
        assert f"]({path.relative_to(ROOT).as_posix()})" in text, (
            f"README's 'Where to read more' does not link {path.name}"
        )


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(path):
    for target in re.findall(r"\]\(([^)\s]+)\)", _text(path)):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name}: {target} does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", _text(linked), re.MULTILINE)
            assert anchor in {_anchor(h) for h in headings}, f"{path.name}: no heading for #{anchor} in {linked.name}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_documents_cite_nothing_outside_the_repository(path):
    text = _text(path)
    for outside in (r"\.\./shared", r"DOMAIN\.md", r"MODEL\.md", r"\bseeds/"):
        assert not re.search(outside, text), f"{path.name} cites {outside}, which a clone does not have"
    assert not re.search(r"\bissues? #?\d", text, re.IGNORECASE), f"{path.name} refers to an issue number"


def test_the_reference_names_types_as_a_reader_would():
    """No pydantic or typing internals leak into the reference: lists and tables say what they hold."""
    text = reference()
    for internal in ("FieldInfo", "Annotated", "metadata=", "typing.", "<class", "Literal["):
        assert internal not in text, internal
    assert "| `unemployment_pct` | list of float | required | each > 0.0, each <= 50.0 |" in text
    assert "table of float (keys: 1a, 1b, 1c, 2a, 2b, 3a, 3b)" in text
