"""Loading scenario files: TOML, includes, overrides, validation, clear errors.

This is the one place a scenario is read. A scenario file may `include` another (a shipped
name or a path relative to the including file) and override a few fields; tables merge key
by key, lists and values replace.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.files import FileProblem, read_text, slugify
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
        close = difflib.get_close_matches(ref, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(
            referrer, "include" if relative_to else "scenario",
            f"unknown scenario {ref!r}; shipped scenarios: {', '.join(names)}.{hint}",
        )
    return path.resolve()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = read_text(path)
    except FileProblem as exc:
        raise ScenarioError(str(path), "", str(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"malformed TOML: {exc}") from None


MAX_INCLUDE_DEPTH = 32
MAX_CLIENTS = 30_000_000
"""Most clients (December stock plus expected notifications) one run may create: beyond this the
client table does not fit in memory; about 3 times a national run to 2060."""

Sources = list[tuple[str, dict]]
"""Each file's own mapping (and any overrides), in the order they were merged: the last one
that sets a field is where that field's value came from."""


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _load_raw(path: Path, chain: tuple[Path, ...], sources: Sources) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(str(chain[-1]), "include", f"include cycle: {cycle}")
    if len(chain) >= MAX_INCLUDE_DEPTH:
        raise ScenarioError(str(chain[-1]), "include", f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
    try:
        data = _read_toml(path)
    except ScenarioError as exc:
        if chain and exc.file == str(path) and not exc.field:  # name the include that pointed here
            raise ScenarioError(str(chain[-1]), "include", f"{path}: {exc.message}") from None
        raise
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ScenarioError(str(path), "include", "must be a scenario name or path, or a list of them")
    merged: dict[str, Any] = {}
    for ref in includes:
        child = _resolve_path(ref, path.parent, str(path))
        merged = _merge(merged, _load_raw(child, (*chain, path), sources))
    sources.append((str(path), data))
    return _merge(merged, data)


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None:
            return None
        if part not in fields:
            # dict keys (e.g. a policy name) keep the value model
            continue
        annotation = fields[part].annotation
        model = _inner_model(annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])?)*): (.+)$", re.S)


def _named_field(err: dict, loc: tuple) -> tuple[tuple, str | None]:
    """A check over a whole block names the field at fault as `field: message`: move it into the location."""
    if err["type"] != "value_error":
        return loc, None
    message = err["msg"].removeprefix("Value error, ")
    match = _FIELD_PREFIX.match(message)
    model = _model_at(loc)
    if match is None or model is None or match.group(1).split(".")[0].split("[")[0] not in model.model_fields:
        return loc, message
    parts: list = []
    for piece in match.group(1).split("."):
        name, _, index = piece.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index.rstrip("]")))
    return (*loc, *parts), match.group(2)


def _describe(err: dict, loc: tuple, message: str | None = None) -> str:
    kind = err["type"]
    if message is not None:  # a check of ours: its message says what is allowed
        got = err.get("input")
        if isinstance(got, dict | list) or "(got" in message or got is None:
            return message
        shown = repr(got)
        return f"{message} (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown field.{hint} Allowed here: {', '.join(allowed)}"
    ctx = err.get("ctx") or {}
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{err['msg'].lower()} (got {err.get('input')!r})"
    if kind == "literal_error":
        return f"unknown key; allowed: {ctx.get('expected')}"
    if "input" not in err or kind == "missing":
        return err["msg"]
    got = repr(err["input"])
    return f"{err['msg']} (got {got if len(got) <= 80 else got[:77] + '...'})"


def _field_name(loc: tuple) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def _clean_loc(loc: tuple) -> tuple:
    # pydantic puts 'literal[...]' and '[key]' pseudo-parts into dict-key errors
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("[key]") or "literal[" in p)))


def _sets(data: Any, loc: tuple) -> bool:
    """Whether one file's own mapping sets the field at `loc`, something inside it, or a value enclosing it."""
    for part in loc:
        if isinstance(part, int) or not isinstance(data, dict):
            return True  # lists and plain values are set as a whole
        if part not in data:
            return False
        data = data[part]
    return True


def _source_of(loc: tuple, sources: Sources, default: str) -> str:
    """The file the value at `loc` came from: the last that set it, else the last that set its table."""
    for n in range(len(loc), -1, -1):
        for name, data in reversed(sources):
            if _sets(data, loc[:n]):
                return name
    return default


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


_ERROR_ORDER = {"extra_forbidden": 0, "missing": 2}  # others: 1


def validate(raw: dict[str, Any], path: Path, sources: Sources | None = None) -> Scenario:
    """Validate a merged raw mapping; raise ScenarioError naming the first bad field and its file."""
    sources = sources or []
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        # a misspelt key is reported before the blocks it leaves missing: it is usually the cause
        errors = sorted(exc.errors(), key=lambda e: _ERROR_ORDER.get(e["type"], 1))
        err = errors[0]
        loc, message = _named_field(err, _clean_loc(err["loc"]))
        file = _source_of(loc, sources, str(path))
        field = _field_name(loc) or "(top level)"
        more = len(errors) - 1
        suffix = f" ({more} more problem{'s' if more > 1 else ''} after this one)" if more else ""
        raise ScenarioError(file, field, _describe(err, loc, message) + suffix) from None
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
        sources.append(("overrides", overrides))
        raw = _merge(raw, overrides)
    return LoadedScenario(validate(raw, path, sources), path)


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of a scenario with nested overrides applied and validated again."""
    raw = _merge(scenario.model_dump(mode="python"), overrides)
    return validate(raw, Path(f"<{scenario.name} with overrides>"))


def describe_shipped() -> list[tuple[str, str]]:
    """(name, one-line description) for each shipped scenario."""
    rows = []
    for name in shipped_names():
        text = load(name).scenario.description.strip()
        rows.append((name, text.splitlines()[0] if text else ""))
    return rows
