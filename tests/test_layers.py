"""The house: the model core imports neither its analyses nor the calibration, and has no cycles;
every model module has a test module of its own.

Read from the sources (ast), so the rule holds for every module, imported by a test or not.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted((ROOT / "sim").glob("*.py"))
ANALYSIS = sorted((ROOT / "sim" / "analysis").glob("*.py"))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@pytest.mark.unit
def test_the_core_never_imports_the_analyses_or_the_calibration():
    for path in CORE:
        bad = {n for n in _imports(path) if n.startswith(("sim.analysis", "calibration", "cli", "caseload"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.unit
def test_the_analyses_read_no_calibration_material():
    for path in ANALYSIS:
        bad = {n for n in _imports(path) if n.startswith(("calibration", "cli", "caseload"))}
        assert not bad, f"analysis/{path.name} imports {sorted(bad)}"


@pytest.mark.unit
def test_the_python_api_sits_above_the_model_like_the_command_line():
    """caseload/ may import the model, its analyses and the calibration; never the CLI."""
    for path in sorted((ROOT / "caseload").rglob("*.py")):
        bad = {n for n in _imports(path) if n == "cli" or n.startswith("cli.")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


EXPLORER_ONLY = ("shiny", "uvicorn", "tomli_w")
"""The explorer's optional extra: only caseload/explore may import it (and the CLI, inside `explore`)."""


@pytest.mark.unit
def test_only_the_explorer_needs_its_extra():
    explorer = ROOT / "caseload" / "explore"
    for path in [*CORE, *ANALYSIS, *sorted((ROOT / "caseload").rglob("*.py")), ROOT / "cli.py"]:
        if explorer in path.parents:
            continue
        bad = {n for n in _imports(path) if n.split(".")[0] in EXPLORER_ONLY}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: the explorer's extra"


@pytest.mark.unit
def test_no_import_cycle_among_the_model_modules():
    modules = {_module(p): p for p in CORE}
    graph = {m: {n for n in _imports(p) if n in modules and n != m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            assert state.get(n) != 1, "import cycle: " + " -> ".join([*trail, m, n])
            if n not in state:
                visit(n, [*trail, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


@pytest.mark.cli
def test_importing_the_package_and_its_schema_has_no_side_effects():
    """Loading scenarios needs no compiler and hashes no sources; no analysis picks a plotting backend."""
    code = (
        "import sys; import sim, sim.parameters, sim.scenario, sim.output\n"
        "light = 'numba' not in sys.modules\n"
        "import sim.analysis.report, sim.analysis.sensitivity\n"
        "print(light, 'matplotlib.pyplot' not in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    light, no_pyplot = shown.stdout.split()
    assert light == "True", "importing the schema or the loader loaded numba (or hashed the sources)"
    assert no_pyplot == "True", "an analysis imported pyplot, which picks a process-wide backend"


@pytest.mark.unit
def test_every_model_module_has_a_test_module_of_its_own():
    """tests/ mirrors sim/: a new module comes with tests/test_<module>.py (analyses: tests/analysis/)."""
    tests = ROOT / "tests"
    missing = [p.name for p in CORE if p.stem != "__init__" and not (tests / f"test_{p.name}").is_file()]
    missing += [
        f"analysis/{p.name}"
        for p in ANALYSIS
        if p.stem != "__init__" and not (tests / "analysis" / f"test_{p.name}").is_file()
    ]
    assert not missing, f"model modules without a test module: {missing}"
