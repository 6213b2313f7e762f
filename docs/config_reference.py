"""Write ``docs/configuration.md`` from the config models (``python docs/config_reference.py``).

The reference is generated, never edited by hand: a test fails when it differs from
what the models say.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from aggregator.config import AggregatorConfig
from edge_agent.config import AgentConfig

OUTPUT = Path(__file__).with_name("configuration.md")
SERVICES: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("agent.yaml", "`fieldproof agent run --config agent.yaml`", AgentConfig),
    (
        "aggregator.yaml",
        "`fieldproof aggregator run --config aggregator.yaml` and every other aggregator "
        "command (`aggregator anchor`, `aggregator project`, `api serve`)",
        AggregatorConfig,
    ),
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Config models reachable from a field's type (unions, tuples, dicts, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation) if a is not Ellipsis)
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return str(annotation).replace("typing.", "")


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
        if isinstance(value, BaseModel):
            return "(section)"
        if isinstance(value, Path):
            return f"`{value}`"
        return f"`{value!r}`" if value not in ((), None) else f"`{value}`"
    if field.default_factory is not None:
        if _models_in(field.annotation):
            return "(section)"
        factory = field.default_factory
        # A computed default (such as the host name) is named, never this machine's value.
        return f"`{factory.__name__}()`" if factory not in (list, tuple, dict) else "`[]`"
    return "**required**"


def _describe(model: type[BaseModel], prefix: str, lines: list[str], seen: set[str]) -> None:
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        type_name = _type_name(field.annotation).replace("|", "\\|")
        lines.append(f"| `{key}` | {type_name} | {_default(field)} | {description} |")
        for sub in _models_in(field.annotation):
            nested.append((f"{key}.", sub))
    for sub_prefix, sub in nested:
        marker = f"{sub_prefix}{sub.__name__}"
        if marker in seen:
            continue
        seen.add(marker)
        _describe(sub, sub_prefix, lines, seen)


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the config models by `python docs/config_reference.py`; do not edit.",
        "Every section forbids unknown keys; an error names the key path, the value and the",
        "reason. `${env:NAME}` and `${secret:NAME}` are substituted before validation.",
        "Keys of list entries are shown with the list's name as prefix.",
    ]
    for title, command, model in SERVICES:
        lines += ["", f"## {title}", "", f"Read by {command}.", ""]
        lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        _describe(model, "", lines, set())
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if OUTPUT.read_text() == text else 1
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
