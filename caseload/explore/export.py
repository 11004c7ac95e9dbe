"""What the explorer saves, and only where the user says: the comparison on screen as the folder
`caseload compare` writes, and the settings as scenario files. Each is a new folder, written
whole or not at all (sim/output.write_folder); an existing folder is never replaced."""

from __future__ import annotations

from pathlib import Path

from caseload import ComparisonResults
from sim.output import OutputError, manifest, write_folder


class ExportError(Exception):
    """A folder the explorer cannot save into; the message names it and says why."""


def _target(folder: str) -> Path:
    text = (folder or "").strip()
    if not text:
        raise ExportError("name a folder to save into")
    out = Path(text).expanduser()
    if out.exists():
        raise ExportError(f"{out}: exists; name a folder that does not exist yet (nothing is replaced)")
    return out


def comparison(result: ComparisonResults, folder: str) -> Path:
    """Write `result` with its report and workbook into the new folder `folder`; returns it."""
    out = _target(folder)
    try:
        return result.to_folder(out, force=False, report=True, workbook=True)
    except OutputError as exc:
        raise ExportError(str(exc)) from None


def scenario_files(texts: dict[str, str], names: dict[str, str], folder: str) -> tuple[Path, Path]:
    """Write the reference's and the scenario's files (`texts`, keyed "reference" and "scenario",
    named by `names`) into the new folder `folder`, with a manifest; returns both paths."""
    out = _target(folder)
    files = {f"{names[key]}.toml": texts[key].encode("utf-8") for key in ("reference", "scenario")}

    def place(partial: Path) -> None:
        for name, content in files.items():
            (partial / name).write_bytes(content)

    fields = manifest("explore", scenario_files=sorted(files), reference=names["reference"], scenario=names["scenario"])
    try:
        written = write_folder(out, {}, fields, extra=place)
    except OutputError as exc:
        raise ExportError(str(exc)) from None
    return written / f"{names['reference']}.toml", written / f"{names['scenario']}.toml"
