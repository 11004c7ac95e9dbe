"""Loading scenario files: TOML, includes, overrides, validation, clear errors.

This is the one place a scenario is read. A scenario file may `include` another (a shipped
name or a path relative to the including file) and override a few fields; tables merge key
by key, lists and values replace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from sim.config import did_you_mean, first_problem, merge, read_toml
from sim.files import FileProblem, slugify
from sim.parameters import Scenario


class ScenarioError(Exception):
    """A scenario that cannot be used; the message names the file, the field and what is allowed."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


def shipped_dir() -> Path:
    """Folder of the scenario files shipped with the project."""
    return Path(str(resources.files("scenarios")))


def shipped_names() -> list[str]:
    """Names of shipped scenarios (files whose name does not start with an underscore)."""
    return sorted(p.stem for p in shipped_dir().glob("*.toml") if not p.stem.startswith("_"))


def _resolve_path(ref: str, relative_to: Path | None, referrer: str) -> Path:
    if ref.endswith(".toml") or "/" in ref:
        path = Path(ref)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.exists():
            raise ScenarioError(referrer, "include" if relative_to else "", f"file {str(path)!r} does not exist")
        return path.resolve()
    path = shipped_dir() / f"{ref}.toml"
    if not path.exists():
        names = shipped_names()
        raise ScenarioError(
            referrer, "include" if relative_to else "scenario",
            f"unknown scenario {ref!r}; shipped scenarios: {', '.join(names)}.{did_you_mean(ref, names)}",
        )
    return path.resolve()


MAX_INCLUDE_DEPTH = 32
MAX_CLIENTS = 30_000_000
"""Most clients (December stock plus expected notifications) one run may create: beyond this the
client table does not fit in memory; about 3 times a national run to 2060."""


class Source(NamedTuple):
    """One file's own mapping (or the overrides)."""

    name: str
    data: dict
    note: str = ""
    """Said after a problem with a value from here, when the file does not show the value itself."""


Sources = list[Source]
"""The mappings in the order they were merged: the last one that sets a field is where that
field's value came from."""

def _load_raw(path: Path, chain: tuple[Path, ...], sources: Sources) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(str(chain[-1]), "include", f"include cycle: {cycle}")
    if len(chain) >= MAX_INCLUDE_DEPTH:
        raise ScenarioError(str(chain[-1]), "include", f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
    try:
        data = read_toml(path)
    except FileProblem as exc:
        if chain:  # name the include that pointed here
            raise ScenarioError(str(chain[-1]), "include", f"{path}: {exc}") from None
        raise ScenarioError(str(path), "", str(exc)) from None
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ScenarioError(str(path), "include", "must be a scenario name or path, or a list of them")
    merged: dict[str, Any] = {}
    for ref in includes:
        child = _resolve_path(ref, path.parent, str(path))
        merged = merge(merged, _load_raw(child, (*chain, path), sources))
    sources.append(Source(str(path), data))
    return merge(merged, data)


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path


def _sets(data: Any, loc: tuple) -> bool:
    """Whether one file's own mapping sets the field at `loc`, something inside it, or a value enclosing it."""
    for part in loc:
        if isinstance(part, int) or not isinstance(data, dict):
            return True  # lists and plain values are set as a whole
        if part not in data:
            return False
        data = data[part]
    return True


def _source_of(loc: tuple, sources: Sources, default: str) -> Source:
    """Where the value at `loc` came from: the last that set it, else the last that set its table."""
    for n in range(len(loc), -1, -1):
        for source in reversed(sources):
            if _sets(source.data, loc[:n]):
                return source if n == len(loc) else source._replace(note="")
    return Source(default, {})


def _check_size(scenario: Scenario, file: str) -> None:
    """Refuse a run that would create more clients than fit in memory (a typo such as 1e9 notifications)."""
    from sim.inflow import expected_notifications, monthly_notification_rates

    sim = scenario.simulation
    years = range(sim.start_year + 1 - sim.burn_in_years, sim.until_year + 1)
    clients = scenario.region.initial_stock + expected_notifications(monthly_notification_rates(scenario))
    if not math.isfinite(clients) or clients > MAX_CLIENTS:
        size = "an unbounded number of" if not math.isfinite(clients) else (
            f"about {clients:,.0f}" if clients < 1e12 else f"about {clients:.1e}"
        )
        raise ScenarioError(
            file, "inflow",
            f"the scenario asks for {size} clients over {len(years)} years (stock plus notifications), more than "
            f"the {MAX_CLIENTS:,} one run can hold; check base_notifications_per_year and the extra groups, "
            "elasticity_inflow against the unemployment drivers, and the shocks' inflow_multiplier",
        )


def validate(raw: dict[str, Any], path: Path, sources: Sources | None = None) -> Scenario:
    """Validate a merged raw mapping; raise ScenarioError naming the first bad field and its file."""
    sources = sources or []
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problem = first_problem(exc, Scenario)
        source = _source_of(problem.loc, sources, str(path))
        raise ScenarioError(source.name, problem.field, problem.describe(source.note)) from None
    _check_size(scenario, str(path))
    return scenario


def load(ref: str | Path, overrides: dict[str, Any] | None = None) -> LoadedScenario:
    """Load a shipped scenario by name, or a TOML file by path, with optional overrides."""
    path = _resolve_path(str(ref), None, "scenario")
    sources: Sources = []
    raw = _load_raw(path, (), sources)
    if not raw:
        raise ScenarioError(str(path), "", "empty scenario file")
    raw.setdefault("name", slugify(path.stem))
    if overrides:
        sources.append(Source("overrides", overrides))
        raw = merge(raw, overrides)
    return LoadedScenario(validate(raw, path, sources), path)


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of a scenario with nested overrides applied and validated again."""
    raw = merge(scenario.model_dump(mode="python"), overrides)
    return validate(raw, Path(f"<{scenario.name} with overrides>"))


def describe_shipped() -> list[tuple[str, str]]:
    """(name, one-line description) for each shipped scenario."""
    rows = []
    for name in shipped_names():
        text = load(name).scenario.description.strip()
        rows.append((name, text.splitlines()[0] if text else ""))
    return rows
