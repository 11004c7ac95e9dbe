"""The shipped scenarios by name, with their one-line descriptions, read without the schema.

Listing them (`caseload scenarios`) only needs each file's `description`, so this module reads
the TOML alone and imports neither pydantic nor the model: the listing answers in a tenth of a
second, where validating every shipped scenario takes half a second or more. Loading and
checking a scenario is `sim.scenario`'s work.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from sim.files import FileProblem, read_text


class CatalogueError(Exception):
    """A shipped scenario file that cannot be read; the message names the file and why."""


def shipped_dir() -> Path:
    """Folder of the scenario files shipped with the project."""
    return Path(str(resources.files("scenarios")))


def names_a_file(ref: str) -> bool:
    """Whether a scenario reference (on the command line or in an `include`) is a file's path
    rather than a shipped scenario's name: it ends in `.toml` or holds a `/`."""
    return ref.endswith(".toml") or "/" in ref


def shipped_names() -> list[str]:
    """Names of shipped scenarios (files whose name does not start with an underscore)."""
    return sorted(p.stem for p in shipped_dir().glob("*.toml") if not p.stem.startswith("_"))


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(read_text(path))
    except FileProblem as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: malformed TOML: {exc}") from None


def _description(path: Path, seen: frozenset[Path] = frozenset()) -> str:
    """A file's own description, else that of the last file it includes that has one (includes are
    laid on in order, the file on top), as `sim.scenario` resolves it."""
    if path in seen:  # a cycle: sim.scenario says so when the scenario is loaded
        return ""
    raw = _read(path)
    if isinstance(raw.get("description"), str):
        return raw["description"]
    includes = raw.get("include", [])
    for ref in reversed(includes if isinstance(includes, list) else [includes]):
        if not isinstance(ref, str):
            continue
        included = path.parent / ref if names_a_file(ref) else shipped_dir() / f"{ref}.toml"
        if included.is_file() and (text := _description(included.resolve(), seen | {path})):
            return text
    return ""


def describe_shipped() -> list[tuple[str, str]]:
    """(name, the first line of its description) for each shipped scenario."""
    rows = []
    for name in shipped_names():
        text = _description((shipped_dir() / f"{name}.toml").resolve()).strip()
        rows.append((name, text.splitlines()[0] if text else ""))
    return rows
