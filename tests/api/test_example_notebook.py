"""The example notebook (docs/examples/advisor.ipynb) runs from top to bottom in a real kernel,
shows its results as HTML and its figures as pictures, and writes the folder it says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "docs" / "examples" / "advisor.ipynb"


@pytest.mark.cli
def test_the_advisors_notebook_runs_and_shows_its_tables_and_figures(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit it without outputs"
    # the kernel imports this checkout, wherever the test runs from
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o.get("data", {}) for o in outputs if o.output_type in ("execute_result", "display_data")]
    pictures = sum("image/png" in d for d in shown) + sum(d.get("text/html", "").count("<img") for d in shown)
    assert pictures >= 1 + 1 + 2 + 2  # the run's path, the report's paths, differences and waterfall panels
    assert any("broad against focus" in d.get("text/html", "") for d in shown)
    written = tmp_path / "results" / "focus-broad"
    assert (written / "report.html").is_file() and (written / "comparison.xlsx").is_file()
