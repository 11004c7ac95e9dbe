"""Loading scenario files: TOML, includes, scaling, overrides, validation, clear errors.

This is the one place a scenario is read. A scenario file may `include` another (a shipped
name or a path relative to the including file) and override a few fields; tables merge key
by key, lists and values replace. It may also say `scale_to_stock = N`: the region its
includes describe, made one of N clients (`scaled_counts`).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sim.catalogue import describe_shipped, names_a_file, shipped_dir, shipped_names  # noqa: F401 (the API)
from sim.config import did_you_mean, first_problem, is_number, merge, parse_toml, read_toml
from sim.files import FileProblem, slugify
from sim.parameters import Region, Scenario, is_count


class ScenarioError(Exception):
    """A scenario that cannot be used; the message names the file, the field and what is allowed."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


def _resolve_path(ref: str, relative_to: Path | None, referrer: str) -> Path:
    if names_a_file(ref):
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
            referrer,
            "include" if relative_to else "scenario",
            f"unknown scenario {ref!r}; shipped scenarios: {', '.join(names)}.{did_you_mean(ref, names)}",
        )
    return path.resolve()


MAX_INCLUDE_DEPTH = 32
MAX_CLIENTS = 30_000_000
"""Most clients (December stock plus expected notifications) one run may create: beyond this the
client table does not fit in memory; about 3 times a national run to 2060."""


class Source(NamedTuple):
    """One file's own mapping (or the overrides, or what a file's scale_to_stock set)."""

    name: str
    data: dict
    note: str = ""
    """Said after a problem with a value from here, when the file does not show the value itself."""


Sources = list[Source]
"""The mappings in the order they were merged: the last one that sets a field is where that
field's value came from."""

SCALE_KEY = "scale_to_stock"
"""The key by which a scenario file scales the region its includes describe (`scaled_counts`)."""


# -- a region at another size ------------------------------------------------------------------------


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _count_fields(data: Any, model: type[BaseModel], loc: tuple) -> Iterator[tuple[tuple, FieldInfo, Any]]:
    """(location, schema field, value or default) of every count field in a scenario's tables.

    A table not given takes its default (and its fields theirs) when it has one; a required
    one is left to validation. Lists of tables hold no counts (a test keeps it so).
    """
    for name, field in model.model_fields.items():
        given = isinstance(data, dict) and name in data
        value = data[name] if given else field.get_default(call_default_factory=True)
        if not given and field.is_required():
            continue
        if is_count(field):
            yield (*loc, name), field, value
            continue
        annotation = field.annotation
        if _is_model(annotation):
            if isinstance(value, BaseModel):
                value = value.model_dump()
            yield from _count_fields(value if isinstance(value, dict) else {}, annotation, (*loc, name))
        elif typing.get_origin(annotation) is dict and isinstance(value, dict):
            inner = typing.get_args(annotation)[1]
            if _is_model(inner):
                for key, item in value.items():
                    yield from _count_fields(item, inner, (*loc, name, key))


def count_locations(data: dict[str, Any]) -> list[tuple]:
    """Where the count fields of a scenario's tables are (a policy's staff once per policy)."""
    return [loc for loc, _, _ in _count_fields(data, Scenario, ())]


def schema_field(path: str) -> FieldInfo | None:
    """The schema field a dotted scenario path names (`policies.focus.work_consultants`), or None.

    A path into a table of numbers keyed by name (`work.base_work_per_month.close`) names that table's field.
    """
    model: type[BaseModel] = Scenario
    parts = path.split(".")
    while parts:
        field = model.model_fields.get(parts.pop(0))
        if field is None:
            return None
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            values = typing.get_args(annotation)[1]
            if not _is_model(values):
                return field if len(parts) <= 1 else None
            if not parts:
                return field
            parts.pop(0)  # the key, e.g. a policy's name
            annotation = values
        if not parts:
            return field
        if not _is_model(annotation):
            return None
        model = annotation
    return None


def scaled_count(value: int | float, ratio: float, whole: bool) -> int | float:
    """A count at `ratio` times the size: a whole-number count rounded and at least 1 (a chain with no
    places or intakes would stop at any size); any other count as the product."""
    return max(1, round(value * ratio)) if whole else value * ratio


def scaled_counts(data: dict[str, Any], initial_stock: int) -> dict[str, Any]:
    """Overrides that make the region of `data` (a scenario's tables, as read or dumped) one of
    `initial_stock` clients: that start stock, and every count field (marked COUNT in
    sim.parameters) times the ratio of the two stocks; every rate keeps its value.

    A count not set takes its schema default first; one that is not a number is left for
    validation to name.
    """
    region = data.get("region") if isinstance(data.get("region"), dict) else {}
    ratio = initial_stock / max(region.get("initial_stock", Region.model_fields["initial_stock"].default), 1)
    out: dict[str, Any] = {"region": {"initial_stock": initial_stock}}
    for loc, field, value in _count_fields(data, Scenario, ()):
        if isinstance(value, dict) and value and all(is_number(v) for v in value.values()):
            scaled: object = {key: scaled_count(v, ratio, False) for key, v in value.items()}  # e.g. a grant by year
        elif is_number(value):
            scaled = scaled_count(value, ratio, field.annotation is int)
        else:
            continue
        table = out
        for part in loc[:-1]:
            table = table.setdefault(part, {})
        table[loc[-1]] = scaled
    return out


def _stock_bound() -> int:
    return next(m.le for m in Region.model_fields["initial_stock"].metadata if getattr(m, "le", None) is not None)


def _scale(merged: dict[str, Any], stock: Any, path: Path, own: dict, includes: list, sources: Sources) -> dict:
    """The included scenario `merged` at `stock` clients (the file's own values are laid on after)."""
    file = str(path)
    most = _stock_bound()
    if not isinstance(stock, int) or isinstance(stock, bool) or not 1 <= stock <= most:
        raise ScenarioError(
            file,
            SCALE_KEY,
            f"must be a whole number of clients from 1 to {most:,}, the December stock the "
            f"included region is scaled to (got {stock!r})",
        )
    if not includes:
        raise ScenarioError(file, SCALE_KEY, "scales the region of the scenario this file includes; add an include")
    if isinstance(own.get("region"), dict) and "initial_stock" in own["region"]:
        raise ScenarioError(
            file,
            "region.initial_stock",
            f"is set by {SCALE_KEY} in this file; give one of the two",
        )
    region = merged.get("region") if isinstance(merged.get("region"), dict) else {}
    base = region.get("initial_stock", Region.model_fields["initial_stock"].default)
    if not isinstance(base, int) or isinstance(base, bool) or base < 1:
        raise ScenarioError(
            file,
            SCALE_KEY,
            f"scales the included region's initial_stock, which must be a whole number above 0 (got {base!r})",
        )
    scaled = scaled_counts(merged, stock)
    sources.append(Source(file, scaled, f"; {SCALE_KEY} = {stock} in this file made it this size"))
    return merge(merged, scaled)


def _load_raw(path: Path, chain: tuple[Path, ...], sources: Sources, text: str | None = None) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError(str(chain[-1]), "include", f"include cycle: {cycle}")
    if len(chain) >= MAX_INCLUDE_DEPTH:
        raise ScenarioError(str(chain[-1]), "include", f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
    try:
        data = read_toml(path) if text is None else parse_toml(text)
    except FileProblem as exc:
        if chain:  # name the include that pointed here
            raise ScenarioError(str(chain[-1]), "include", f"{path}: {exc}") from None
        raise ScenarioError(str(path), "", str(exc)) from None
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ScenarioError(str(path), "include", "must be a scenario name or path, or a list of them")
    stock = data.pop(SCALE_KEY, None)
    merged: dict[str, Any] = {}
    for ref in includes:
        child = _resolve_path(ref, path.parent, str(path))
        merged = merge(merged, _load_raw(child, (*chain, path), sources))
    if stock is not None:
        merged = _scale(merged, stock, path, data, includes, sources)
    sources.append(Source(str(path), data))
    return merge(merged, data)


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from."""

    scenario: Scenario
    path: Path
    files: tuple[Path, ...] = ()
    """Every file merged into it, includes first (the analyses find a fitted file's draws from them)."""


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
        size = (
            "an unbounded number of"
            if not math.isfinite(clients)
            else (f"about {clients:,.0f}" if clients < 1e12 else f"about {clients:.1e}")
        )
        raise ScenarioError(
            file,
            "inflow",
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
    return _loaded(_resolve_path(str(ref), None, "scenario"), overrides)


def load_text(text: str, path: Path) -> LoadedScenario:
    """A scenario from TOML text, read as if it were the file `path` (which need not exist): its
    includes are found from path's folder, errors name path. What a tool shows before it writes the
    file (`caseload explore`) is then exactly what `load(path)` gives once it is written."""
    return _loaded(Path(path).absolute(), None, text)


def _loaded(path: Path, overrides: dict[str, Any] | None, text: str | None = None) -> LoadedScenario:
    sources: Sources = []
    raw = _load_raw(path, (), sources, text)
    if not raw:
        raise ScenarioError(str(path), "", "empty scenario file")
    raw.setdefault("name", slugify(path.stem))
    if overrides:
        sources.append(Source("overrides", overrides))
        raw = merge(raw, overrides)
    files = tuple(dict.fromkeys(Path(s.name) for s in sources if s.name.endswith(".toml")))
    return LoadedScenario(validate(raw, path, sources), path, files)


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of a scenario with nested overrides applied and validated again."""
    raw = merge(scenario.model_dump(mode="python"), overrides)
    return validate(raw, Path(f"<{scenario.name} with overrides>"))
