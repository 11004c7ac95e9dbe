"""The generated parts of docs/scenarios.md, so the documentation and the code cannot drift.

Two blocks, each between its markers: the scenario-file reference (`reference()`, from the
schema) and the shipped scenarios' key parameters (`shipped_parameters_table()`,
from the scenario files). Tests check docs/scenarios.md holds both as generated.

    python -m sim.analysis.docs            # print the scenario-file reference
    python -m sim.analysis.docs --write    # rewrite both blocks in docs/scenarios.md in place
    python -m sim.analysis.docs --check    # exit 1 when docs/scenarios.md is out of date
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from sim.parameters import Scenario
from sim.policies import describe_levers
from sim.scenario import load, shipped_names
from sim.shocks import describe_shock

_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _limits(metadata) -> list[str]:
    return [
        f"{symbol} {getattr(m, name)}"
        for m in metadata
        for name, symbol in _BOUNDS
        if getattr(m, name, None) is not None
    ]


def _parts(annotation: typing.Any) -> tuple[typing.Any, list]:
    """The type inside `Annotated[...]` and its metadata (bounds), at any depth pydantic leaves it."""
    metadata: list = []
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *more = typing.get_args(annotation)
        for m in more:  # pydantic wraps Field(...) bounds of list items and dict values in a FieldInfo
            metadata.extend(getattr(m, "metadata", None) or [m])
    return annotation, metadata


def _type_name(annotation: typing.Any) -> str:
    """A reader's name for a field's type: `float`, `list of float`, `table of float (keys: a, b)`."""
    annotation, _ = _parts(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        key, value = (_parts(a)[0] for a in args)
        keys = typing.get_args(key) if typing.get_origin(key) is typing.Literal else ()
        return f"table of {_type_name(value)}" + (f" (keys: {', '.join(keys)})" if keys else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        kinds = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" (optional)" if type(None) in args else "")
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field) -> str:
    parts = []
    for meta in field.metadata:
        if getattr(getattr(meta, "func", None), "__name__", "") == "_slug":
            parts.append("letters, digits, '.', '_', '-'; starts with a letter or digit; no '..'")
    parts += _limits(field.metadata)
    annotation, _ = _parts(field.annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # an optional number keeps its bounds
        parts += [limit for arg in typing.get_args(annotation) for limit in _limits(_parts(arg)[1])]
    inner = typing.get_args(annotation)[-1:] if typing.get_origin(annotation) in (list, dict) else ()
    for item in inner:  # bounds on each value of a list or table
        parts += [f"each {limit}" for limit in _limits(_parts(item)[1])]
    return ", ".join(parts)


def _model_of(annotation: typing.Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def reference() -> str:
    """Markdown: one table per scenario section, every field with type, default, bounds and source."""
    lines: list[str] = []
    seen: set[type] = set()

    def table(title: str, model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        lines.extend(
            [
                f"#### `{title}`",
                "",
                "| field | type | default | allowed | meaning and source |",
                "|---|---|---|---|---|",
            ]
        )
        nested = []
        for name, field in model.model_fields.items():
            sub = _model_of(field.annotation)
            default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
            if sub is not None and sub is not model:
                nested.append((f"{title}.{name}" if title != "(top level)" else name, sub))
                default = "see below" if not field.is_required() else "required, see below"
            description = (field.description or "").replace("|", "\\|")
            lines.append(
                f"| `{name}` | {_type_name(field.annotation)} | {default} | {_bounds(field)} | {description} |"
            )
        lines.append("")
        for sub_title, sub in nested:
            table(sub_title, sub)

    table("(top level)", Scenario)
    return "\n".join(lines)


SCENARIOS_DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def shipped_parameters_table() -> str:
    """Markdown table of each shipped scenario's policies, resolved from its files.

    One row per policy period: the policy in force from that date and its levers in plain
    words (sim.policies.describe_levers); the region, its stock and the shocks on the first row.
    docs/scenarios.md holds this table and a test keeps the two in step.
    """
    lines = [
        "| scenario | region (stock) | from | policy | door | who is served | staffing | contact | trajectories "
        "| shocks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in shipped_names():
        scenario = load(name).scenario
        shocks = (
            "; ".join(f"{name} {s.start} to {s.end}: {describe_shock(s)}" for name, s in scenario.shocks.items())
            or "none"
        )
        for i, period in enumerate(scenario.policy_schedule):
            levers = describe_levers(scenario.policies[period.policy], scenario.money.work_consultant_eur_per_fte_year)
            first = i == 0
            lines.append(
                f"| {f'`{name}`' if first else ''} "
                f"| {f'{scenario.region.name} ({scenario.region.initial_stock:,})' if first else ''} "
                f"| {period.start} | {period.policy} | {levers['door']} | {levers['served']} | {levers['staffing']} "
                f"| {levers['contact']} | {levers['trajectories']} | {shocks if first else ''} |"
            )
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {"reference": reference, "shipped-parameters": shipped_parameters_table}
"""Generated blocks by marker name: `<!-- NAME:start -->` ... `<!-- NAME:end -->`."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def block(text: str, name: str) -> str:
    """What `text` holds between the markers of block `name` (without the markers and the
    newlines next to them); ValueError when the markers are missing or out of order."""
    start, end = markers(name)
    _, found, rest = text.partition(start)
    body, found_end, _ = rest.partition(end)
    if not found or not found_end:
        raise ValueError(f"{start} ... {end} not found")
    return body.removeprefix("\n").removesuffix("\n")


def rewritten(text: str) -> str:
    """`text` with every generated block replaced by what the code generates now."""
    for name, generate in BLOCKS.items():
        block(text, name)  # both markers, in order
        start, end = markers(name)
        head, _, rest = text.partition(start)
        text = f"{head}{start}\n{generate()}\n{end}{rest.partition(end)[2]}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.analysis.docs", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the generated blocks of the file in place")
    action.add_argument("--check", action="store_true", help="exit 1 when the file's blocks are out of date")
    parser.add_argument("--file", type=Path, default=SCENARIOS_DOC, help="default: docs/scenarios.md")
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        print(reference())
        return 0
    text = args.file.read_text(encoding="utf-8")
    try:
        new = rewritten(text)
    except ValueError as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(f"{args.file} is out of date: run `python -m sim.analysis.docs --write`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.file.write_text(new, encoding="utf-8")
        print(f"rewrote the generated blocks of {args.file}")
    else:
        print(f"{args.file} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
