"""Loading scenario files: TOML, includes, overrides, validation, clear errors.

This is the one place a scenario is read. A scenario file may `include` another (a shipped
name or a path relative to the including file) and override a few fields; tables merge key
by key, lists and values replace.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

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
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ScenarioError(str(path), "", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"malformed TOML: {exc}") from None


def _merge(base: dict, over: dict, origin: dict, prefix: tuple, source: str) -> dict:
    out = dict(base)
    for key, value in over.items():
        path = (*prefix, key)
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, origin, path, source)
        else:
            out[key] = value
            origin[path] = source
    return out


def _load_raw(path: Path, chain: tuple[Path, ...], origin: dict) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(str(chain[-1]), "include", f"include cycle: {cycle}")
    data = _read_toml(path)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ScenarioError(str(path), "include", "must be a scenario name or path, or a list of them")
    merged: dict[str, Any] = {}
    for ref in includes:
        child = _resolve_path(ref, path.parent, str(path))
        merged = _merge(merged, _load_raw(child, (*chain, path), origin), origin, (), str(child))
    return _merge(merged, data, origin, (), str(path))


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


def _describe(err: dict, loc: tuple) -> str:
    kind = err["type"]
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
    return f"{err['msg']} (got {err.get('input')!r})" if "input" in err and kind != "missing" else err["msg"]


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


def validate(raw: dict[str, Any], path: Path, origin: dict | None = None) -> Scenario:
    """Validate a merged raw mapping; raise ScenarioError naming the first bad field."""
    origin = origin or {}
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _clean_loc(err["loc"])
        file = str(path)
        for n in range(len(loc), 0, -1):
            if loc[:n] in origin:
                file = origin[loc[:n]]
                break
        field = _field_name(loc) or "(top level)"
        more = len(exc.errors()) - 1
        suffix = f" ({more} more problem{'s' if more > 1 else ''} after this one)" if more else ""
        raise ScenarioError(file, field, _describe(err, loc) + suffix) from None


def load(ref: str | Path, overrides: dict[str, Any] | None = None) -> LoadedScenario:
    """Load a shipped scenario by name, or a TOML file by path, with optional overrides."""
    path = _resolve_path(str(ref), None, "scenario")
    origin: dict = {}
    raw = _load_raw(path, (), origin)
    if not raw:
        raise ScenarioError(str(path), "", "empty scenario file")
    raw.setdefault("name", path.stem)
    if overrides:
        raw = _merge(raw, overrides, origin, (), "overrides")
    return LoadedScenario(validate(raw, path, origin), path)


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of a scenario with nested overrides applied and validated again."""
    raw = _merge(scenario.model_dump(mode="python"), overrides, {}, (), "overrides")
    return validate(raw, Path(f"<{scenario.name} with overrides>"))


def describe_shipped() -> list[tuple[str, str]]:
    """(name, one-line description) for each shipped scenario."""
    rows = []
    for name in shipped_names():
        text = load(name).scenario.description.strip()
        rows.append((name, text.splitlines()[0] if text else ""))
    return rows
