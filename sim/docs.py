"""The scenario-file reference in the README, generated from the schema so the two cannot drift.

`python -m sim.docs` prints the Markdown tables; a test checks the README holds them.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel

from sim.parameters import Scenario


def _type_name(annotation: typing.Any) -> str:
    text = str(annotation).replace("typing.", "")
    for noise in ("sim.parameters.", "<class '", "'>", "Annotated[", "datetime."):
        text = text.replace(noise, "")
    if "Literal[" in text:
        return "table"
    return text.split(",")[0].rstrip("]") if text.startswith("float") or text.startswith("int") else text


def _bounds(field) -> str:
    parts = []
    for meta in field.metadata:
        if getattr(getattr(meta, "func", None), "__name__", "") == "_slug":
            parts.append("letters, digits, '.', '_', '-'; starts with a letter or digit; no '..'")
        for name, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, name, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
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
        lines.extend([f"#### `{title}`", "", "| field | type | default | allowed | meaning and source |", "|---|---|---|---|---|"])
        nested = []
        for name, field in model.model_fields.items():
            sub = _model_of(field.annotation)
            default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
            if sub is not None and sub is not model:
                nested.append((f"{title}.{name}" if title != "(top level)" else name, sub))
                default = "see below" if not field.is_required() else "required, see below"
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {_bounds(field)} | {description} |")
        lines.append("")
        for sub_title, sub in nested:
            table(sub_title, sub)

    table("(top level)", Scenario)
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference())
