"""Configuration files, read one way: strict TOML, one wording of a schema problem, dotted paths, one merge.

Scenario files (`sim.scenario`) and calibration files (`calibration.config`) are both TOML
checked against pydantic models. Each keeps its own error class and says which file a problem
is in; this module gives them the same reading, the same one-line description of what is
wrong (`first_problem`), the same handling of a dotted path such as `work.elasticity_work`
(`locate`, `get_path`, `number_at`, `set_path`, `nested`) and the same deep merge of tables
(`merge`).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.files import FileProblem, read_text

# -- reading ---------------------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """The mapping of a TOML file, read as a bounded regular UTF-8 file (`sim.files.read_text`).

    FileProblem when it cannot be read or is not TOML; the message says why, callers add the file.
    """
    return parse_toml(read_text(path))


def parse_toml(text: str) -> dict[str, Any]:
    """The mapping of TOML text; FileProblem (malformed TOML: why) when it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(f"malformed TOML: {exc}") from None


# -- close matches ---------------------------------------------------------------------------------


def closest(word: str, allowed: Iterable[object]) -> str | None:
    """The allowed name most like `word`, if any is close enough to be a likely typo."""
    found = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1)
    return found[0] if found else None


def did_you_mean(word: str, allowed: Iterable[object]) -> str:
    """' Did you mean 'x'?' for the closest allowed name, or '' when none is close."""
    close = closest(word, allowed)
    return f" Did you mean {close!r}?" if close else ""


# -- schema problems -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The first problem of a validation: where (names and list indices), what is allowed, how many more."""

    loc: tuple[str | int, ...]
    description: str
    more: int = 0

    @property
    def field(self) -> str:
        return field_name(self.loc) or "(top level)"

    @property
    def message(self) -> str:
        return self.describe()

    def describe(self, note: str = "") -> str:
        """What is allowed, then `note` (e.g. where the value came from), then how many more problems there are."""
        suffix = f" ({self.more} more problem{'s' if self.more > 1 else ''} after this one)" if self.more else ""
        return f"{self.description}{note}{suffix}"


def field_name(loc: Iterable[str | int]) -> str:
    """A location as users write it: `policy_schedule[0].policy`."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts)


_ERROR_ORDER = {"extra_forbidden": 0, "missing": 2}  # others: 1

_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])?)*): (.+)$", re.S)


def first_problem(exc: ValidationError, model: type[BaseModel]) -> Problem:
    """The problem to report of a validation of `model`, and how many more there are.

    A misspelt key comes before the blocks it leaves missing: it is usually their cause. A
    check over a whole block names the field at fault as `field: message` (a ValueError raised
    in a model validator); that field becomes the location.
    """
    errors = sorted(exc.errors(), key=lambda e: _ERROR_ORDER.get(e["type"], 1))
    err = errors[0]
    raw_loc = tuple(err["loc"])
    loc, message = _named_field(err, _clean_loc(raw_loc), model)
    return Problem(loc, _describe(err, loc, message, model, is_key="[key]" in raw_loc), len(errors) - 1)


def model_at(model: type[BaseModel], loc: Iterable[str | int]) -> type[BaseModel] | None:
    """The model of the table at `loc` below `model` (list indices and dict keys keep the value's model)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return None
        if part not in fields:
            continue  # a dict key (e.g. a policy's name): the values' model
        current = _inner_model(fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _clean_loc(loc: tuple) -> tuple:
    # pydantic puts 'literal[...]' and '[key]' pseudo-parts into dict-key errors
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("[key]") or "literal[" in p)))


def _named_field(err: dict, loc: tuple, model: type[BaseModel]) -> tuple[tuple, str | None]:
    """(location, our message) of a ValueError of ours; (location, None) for pydantic's own errors."""
    if err["type"] != "value_error":
        return loc, None
    message = err["msg"].removeprefix("Value error, ")
    match = _FIELD_PREFIX.match(message)
    block = model_at(model, loc)
    if match is None or block is None or match.group(1).split(".")[0].split("[")[0] not in block.model_fields:
        return loc, message
    parts: list = []
    for piece in match.group(1).split("."):
        name, _, index = piece.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index.rstrip("]")))
    return (*loc, *parts), match.group(2)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _describe(err: dict, loc: tuple, message: str | None, model: type[BaseModel], is_key: bool) -> str:
    kind = err["type"]
    got = err.get("input")
    if message is not None:  # a check of ours: its message says what is allowed
        message = _lower_first(message)
        # a whole table as the value says nothing the message does not; some messages show it already
        if got is None or isinstance(got, dict | list) or "(got" in message or "; got " in message:
            return message
        return f"{message} (got {_shown(got)})"
    if kind == "extra_forbidden":
        block = model_at(model, loc[:-1])
        allowed = sorted(block.model_fields) if block else []
        return f"unknown field.{did_you_mean(str(loc[-1]), allowed)} Allowed here: {', '.join(allowed)}"
    if kind == "literal_error":
        return f"unknown {'key' if is_key else 'value'} {got!r}; allowed: {(err.get('ctx') or {}).get('expected')}"
    if kind == "missing":
        return "required field is missing"
    text = _lower_first(err["msg"])
    if "input" not in err:
        return text
    return f"{text} (got {_shown(got)})"


# -- dotted paths ----------------------------------------------------------------------------------


class PathError(ValueError):
    """A dotted path that leads to no value; the message says what is allowed there."""


class NotANumber(PathError):
    """A dotted path that leads to a value that is not a number (a table, a list, text, true or false)."""


def locate(data: Any, path: str, lists: bool = True) -> tuple[Any, str | int]:
    """(container, key) of the value at a dotted path in nested tables (and lists, by index, if `lists`).

    PathError names the part that leads nowhere: an unknown key (with the allowed ones and the
    closest), an index out of range, or a value where a table should be.
    """
    parts = path.split(".")
    node = data
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "(top level)"
        if isinstance(node, dict):
            if part not in node:
                allowed = sorted(map(str, node))
                close = closest(part, allowed)
                hint = ""
                if close is not None:
                    full = ".".join([*parts[:depth], close])
                    hint = f" Did you mean {close!r}{f' ({full})' if depth else ''}?"
                raise PathError(f"unknown {part!r} under {where}.{hint} Allowed: {', '.join(allowed)}")
            key: str | int = part
        elif isinstance(node, list) and lists:
            if not node:
                raise PathError(f"{where} is an empty list; there is no value to name")
            if not (part.isdigit() and int(part) < len(node)):
                raise PathError(f"{where} is a list; give an index 0-{len(node) - 1}")
            key = int(part)
        elif isinstance(node, list):
            raise PathError(f"{where} is a list, not a table; give the path of a field in a table")
        else:
            raise PathError(f"{where} is a value, not a table")
        if depth == len(parts) - 1:
            return node, key
        node = node[key]
    raise PathError("empty path")  # str.split always gives a part: kept for the type checker


def get_path(data: Any, path: str, lists: bool = True) -> Any:
    """The value at a dotted path; PathError as `locate`."""
    container, key = locate(data, path, lists)
    return container[key]


def is_number(value: Any) -> bool:
    """An int or float that is not a bool (TOML's true is no count)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_at(data: Any, path: str, lists: bool = True) -> int | float:
    """The number at a dotted path; PathError when the path leads nowhere, NotANumber when to something else."""
    value = get_path(data, path, lists)
    if not is_number(value):
        shown = "" if isinstance(value, dict | list) else f" ({_shown(value)})"
        raise NotANumber(f"is {type(value).__name__}{shown}, not a number")
    return value


def set_path(data: dict, path: str, value: Any) -> None:
    """Set the value at a dotted path in nested tables, making the tables on the way."""
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def nested(path: str, value: Any) -> dict[str, Any]:
    """An override of one dotted path: {'work': {'elasticity_work': 0.5}}."""
    out: dict[str, Any] = {}
    set_path(out, path, value)
    return out


def merge(base: dict, over: dict) -> dict:
    """`over` laid on `base`: tables merge key by key, any other value (lists too) replaces. Neither is changed."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
