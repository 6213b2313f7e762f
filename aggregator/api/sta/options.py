"""The system query options a request carries, checked before anything is read.

Served: ``$top``, ``$skip``, ``$count``, ``$orderby``, ``$select``, ``$expand`` (with
options inside, to :data:`MAX_EXPAND_DEPTH` levels) and ``$filter``. Any other ``$``
option (``$resultFormat``, ``$search``, ``$format``, ``$apply``, …) is refused with a
400 that names it: a client must not read an answer that ignored what it asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aggregator.api.errors import ParameterError
from aggregator.api.sta.filter import Node, parse_filter
from aggregator.api.sta.model import NAVIGATION, PROPERTIES

SERVED = ("$top", "$skip", "$count", "$orderby", "$select", "$expand", "$filter")
DEFAULT_TOP = 100
MAX_EXPAND_DEPTH = 2
MAX_SKIP = 10**9


@dataclass(frozen=True, slots=True)
class Order:
    path: tuple[str, ...]
    descending: bool


@dataclass(frozen=True, slots=True)
class Expand:
    name: str
    options: Options


@dataclass(frozen=True, slots=True)
class Options:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    orderby: tuple[Order, ...] = ()
    select: tuple[str, ...] | None = None
    expand: tuple[Expand, ...] = ()
    filter: Node | None = None
    # The options as given, to rebuild in @iot.nextLink.
    raw: dict[str, str] = field(default_factory=dict)


def split_top(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside parentheses and quotes."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _integer(name: str, text: str, ceiling: int) -> int:
    value = text.strip()
    if not value.isdigit() or len(value) > 12:
        raise ParameterError(name, f"expected a non-negative integer, got {text!r}")
    number = int(value)
    if number > ceiling:
        raise ParameterError(name, f"must be at most {ceiling}")
    return number


def _names(entity_set: str) -> set[str]:
    return {"@iot.id", "id", *PROPERTIES[entity_set], *NAVIGATION[entity_set]}


def _orderby(entity_set: str, text: str) -> tuple[Order, ...]:
    out = []
    for item in split_top(text, ","):
        words = item.split()
        if not words or len(words) > 2:
            raise ParameterError("$orderby", f"expected 'property [asc|desc]', got {item!r}")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ParameterError("$orderby", f"expected asc or desc, got {words[1]!r}")
        path = tuple(words[0].split("/"))
        if path[0] not in _names(entity_set):
            raise ParameterError("$orderby", f"{entity_set} have no property {path[0]!r}")
        out.append(Order(path, direction == "desc"))
    return tuple(out)


def _select(entity_set: str, text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(","))
    for name in chosen:
        if name not in _names(entity_set):
            raise ParameterError("$select", f"{entity_set} have no property {name!r}")
    return chosen


def _expand(entity_set: str, text: str, depth: int, ceiling: int) -> tuple[Expand, ...]:
    if depth >= MAX_EXPAND_DEPTH:
        raise ParameterError("$expand", f"at most {MAX_EXPAND_DEPTH} levels of $expand")
    out = []
    for given in split_top(text, ","):
        item, inner = given.strip(), ""
        if item.endswith(")") and "(" in item:
            item, inner = item[: item.index("(")], item[item.index("(") + 1 : -1]
        path = item.strip().split("/")
        if not path[0] or path[0] not in NAVIGATION[entity_set]:
            raise ParameterError("$expand", f"{entity_set} have no navigation {path[0]!r}")
        target = NAVIGATION[entity_set][path[0]][0]
        pairs: list[tuple[str, str]] = []
        for option in split_top(inner, ";") if inner.strip() else []:
            key, sep, value = option.partition("=")
            if not sep:
                raise ParameterError("$expand", f"expected $option=value, got {option!r}")
            pairs.append((key.strip(), value))
        if len(path) > 1:
            # Datastreams/Thing is Datastreams($expand=Thing).
            pairs.append(("$expand", "/".join(path[1:])))
        options = parse_options(target, pairs, depth=depth + 1, ceiling=ceiling)
        out.append(Expand(path[0], options))
    return tuple(out)


def parse_options(
    entity_set: str,
    pairs: Iterable[tuple[str, str]],
    *,
    depth: int = 0,
    ceiling: int = 10_000,
) -> Options:
    """The options among ``pairs`` (query parameters) for a request on ``entity_set``;
    ``ceiling`` is the largest ``$top``."""
    given: dict[str, str] = {}
    for key, value in pairs:
        if not key.startswith("$"):
            continue  # custom options (no '$') are the client's own business
        if key not in SERVED:
            raise ParameterError(key, f"query option {key} is not supported by this service")
        if key in given:
            raise ParameterError(key, f"{key} given more than once")
        given[key] = value
    count = given.get("$count", "false").strip().lower()
    if count not in ("true", "false"):
        raise ParameterError("$count", f"expected true or false, got {given['$count']!r}")
    text = given.get("$filter")
    return Options(
        top=_integer("$top", given["$top"], ceiling)
        if "$top" in given
        else min(DEFAULT_TOP, ceiling),
        skip=_integer("$skip", given["$skip"], MAX_SKIP) if "$skip" in given else 0,
        count=count == "true",
        orderby=_orderby(entity_set, given["$orderby"]) if "$orderby" in given else (),
        select=_select(entity_set, given["$select"]) if "$select" in given else None,
        expand=_expand(entity_set, given["$expand"], depth, ceiling) if "$expand" in given else (),
        filter=None if text is None or not text.strip() else parse_filter(text),
        raw=given,
    )
