"""``$filter``: a parser for the OData expression subset the service evaluates, and the
evaluator that applies it to one entity.

Served: comparisons (``eq ne gt ge lt le``), ``and``/``or``/``not``, parentheses,
literals (numbers, ``'text'``, ``true``/``false``/``null``, ISO 8601 times,
``geography'POINT(…)'``/``'POLYGON((…))'``), property paths through navigation
(``Datastream/@iot.id``, ``properties/state``) and the functions in :data:`FUNCTIONS`.
Anything else is refused with a :class:`~aggregator.api.errors.ParameterError` naming
it, never left to fail later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aggregator.api.errors import ParameterError

PARAMETER = "$filter"
MAX_LENGTH = 4000
MAX_DEPTH = 40
# Bounds the evaluator's recursion over long and/or chains.
MAX_TERMS = 200

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ARITHMETIC = ("add", "sub", "mul", "div", "mod")


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Polygon:
    rings: tuple[tuple[tuple[float, float], ...], ...]


Geometry = Point | Polygon


@dataclass(frozen=True, slots=True)
class Literal:
    value: object


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Literal | Path | Compare | Logical | Not | Call


def _fail(message: str) -> ParameterError:
    return ParameterError(PARAMETER, message)


# -- tokens ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<geo>(?:geography|geometry)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_@$][A-Za-z0-9_.@$]*)
  | (?P<punct>[(),/])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    at: int


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise _fail(f"unexpected character {text[at]!r} at position {at}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(Token(kind, match.group(), at))
        at = match.end()
    return out


# -- literals -------------------------------------------------------------------------


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time with a zone (``Z`` or an offset), else ``None``."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_WKT = re.compile(r"\s*(POINT|POLYGON)\s*(\(.*\))\s*", re.IGNORECASE | re.DOTALL)
_SRID = re.compile(r"\s*SRID=\d+;", re.IGNORECASE)


def _coordinates(text: str) -> tuple[tuple[float, float], ...]:
    pairs = []
    for chunk in text.split(","):
        numbers = chunk.split()
        if len(numbers) != 2:
            raise _fail(f"expected 'x y' coordinates, got {chunk.strip()!r}")
        try:
            x, y = float(numbers[0]), float(numbers[1])
        except ValueError as exc:
            raise _fail(f"expected numeric coordinates, got {chunk.strip()!r}") from exc
        if not (math.isfinite(x) and math.isfinite(y)):
            raise _fail("coordinates must be finite")
        pairs.append((x, y))
    return tuple(pairs)


def parse_wkt(text: str) -> Geometry:
    """``POINT(x y)`` or ``POLYGON((x y, …), …)`` (x is longitude, as in GeoJSON)."""
    body = _SRID.sub("", text, count=1)
    match = _WKT.fullmatch(body)
    if match is None:
        raise _fail(f"only POINT and POLYGON geometries are supported, got {text!r}")
    kind, inner = match.group(1).upper(), match.group(2).strip()[1:-1]
    if kind == "POINT":
        pairs = _coordinates(inner)
        if len(pairs) != 1:
            raise _fail(f"a POINT has one coordinate pair, got {text!r}")
        return Point(*pairs[0])
    rings = re.findall(r"\(([^()]*)\)", inner)
    if not rings:
        raise _fail(f"a POLYGON needs at least one ring, got {text!r}")
    parsed = tuple(_coordinates(ring) for ring in rings)
    if any(len(ring) < 3 for ring in parsed):
        raise _fail("a POLYGON ring needs at least three points")
    return Polygon(parsed)


def _literal(token: Token) -> Literal:
    if token.kind == "string":
        return Literal(token.text[1:-1].replace("''", "'"))
    if token.kind == "number":
        number = float(token.text)
        if not math.isfinite(number):
            raise _fail(f"number out of range: {token.text}")
        is_int = re.fullmatch(r"-?\d+", token.text) is not None
        return Literal(int(token.text) if is_int else number)
    if token.kind == "time":
        when = parse_time(token.text)
        if when is None:
            raise _fail(f"not a valid time: {token.text}")
        return Literal(when)
    quote = token.text.index("'")
    return Literal(parse_wkt(token.text[quote + 1 : -1].replace("''", "'")))


# -- parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, items: list[Token]) -> None:
        self.items = items
        self.at = 0
        self.depth = 0
        self.terms = 0

    def peek(self) -> Token | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _fail("the expression ends too early")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise _fail(f"expected {text!r} at position {token.at}, got {token.text!r}")

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in words:
            self.at += 1
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise _fail(f"more than {MAX_TERMS} operators")
            return token.text
        return None

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(f"the expression nests deeper than {MAX_DEPTH} levels")

    def expression(self) -> Node:
        self.nested()
        node = self.conjunction()
        while self.keyword("or"):
            node = Logical("or", node, self.conjunction())
        self.depth -= 1
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.keyword("and"):
            node = Logical("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.keyword("not"):
            self.nested()
            node: Node = Not(self.negation())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        op = self.keyword(*COMPARISONS)
        if op is not None:
            return Compare(op, left, self.operand())
        arithmetic = self.keyword(*ARITHMETIC)
        if arithmetic is not None:
            raise _fail(f"arithmetic operator '{arithmetic}' is not supported")
        return left

    def operand(self) -> Node:
        token = self.take()
        if token.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if token.kind in ("string", "number", "time", "geo"):
            return _literal(token)
        if token.kind != "name":
            raise _fail(f"unexpected {token.text!r} at position {token.at}")
        if token.text in ("true", "false"):
            return Literal(token.text == "true")
        if token.text == "null":
            return Literal(None)
        following = self.peek()
        if following is not None and following.text == "(":
            return self.call(token)
        parts = [token.text]
        while (following := self.peek()) is not None and following.text == "/":
            self.at += 1
            part = self.take()
            if part.kind != "name":
                raise _fail(f"expected a property name after '/', got {part.text!r}")
            parts.append(part.text)
        return Path(tuple(parts))

    def call(self, token: Token) -> Node:
        name = token.text.lower()
        if name not in FUNCTIONS:
            raise _fail(f"function '{token.text}' is not supported")
        self.expect("(")
        args: list[Node] = []
        following = self.peek()
        if following is None or following.text != ")":
            args.append(self.expression())
            while (following := self.peek()) is not None and following.text == ",":
                self.at += 1
                args.append(self.expression())
        self.expect(")")
        arity = FUNCTIONS[name][0]
        if len(args) != arity:
            raise _fail(f"function '{token.text}' takes {arity} argument(s), got {len(args)}")
        return Call(name, tuple(args))


def parse_filter(text: str) -> Node:
    """The expression tree of a ``$filter`` value (400 on anything not served)."""
    if len(text) > MAX_LENGTH:
        raise _fail(f"longer than {MAX_LENGTH} characters")
    parser = _Parser(tokens(text))
    if not parser.items:
        raise _fail("empty expression")
    node = parser.expression()
    rest = parser.peek()
    if rest is not None:
        raise _fail(f"unexpected {rest.text!r} at position {rest.at}")
    return node


# -- evaluation -----------------------------------------------------------------------

MISSING = object()


class Row:
    """What the evaluator reads from an entity: its properties, and related entities
    through ``related`` (``None`` when there is none)."""

    def __init__(
        self, props: Mapping[str, Any], related: Callable[[str], Row | None] | None = None
    ) -> None:
        self.props = props
        self.related = related

    def field(self, name: str) -> object:
        if name in ("@iot.id", "id"):
            return self.props.get("@iot.id")
        if name in self.props:
            return self.props[name]
        if self.related is not None:
            found = self.related(name)
            if found is not None:
                return found
        return None


def _resolve(row: Row, parts: tuple[str, ...]) -> object:
    value: object = row
    for part in parts:
        if isinstance(value, Row):
            value = value.field(part)
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


def geometry_of(value: object) -> Geometry | None:
    """A GeoJSON Point or Polygon (or a parsed literal) as a geometry."""
    if isinstance(value, Point | Polygon):
        return value
    if not isinstance(value, Mapping):
        return None
    kind, coordinates = value.get("type"), value.get("coordinates")
    try:
        if kind == "Point" and isinstance(coordinates, list | tuple):
            return Point(float(coordinates[0]), float(coordinates[1]))
        if kind == "Polygon" and isinstance(coordinates, list | tuple):
            return Polygon(
                tuple(tuple((float(p[0]), float(p[1])) for p in ring) for ring in coordinates)
            )
    except (TypeError, ValueError, IndexError):
        return None
    return None


def _inside(point: Point, polygon: Polygon) -> bool:
    """Even-odd rule over every ring (holes count out)."""
    inside = False
    for ring in polygon.rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y1 > point.y) != (y2 > point.y):
                cross = x1 + (point.y - y1) * (x2 - x1) / (y2 - y1)
                if point.x < cross:
                    inside = not inside
    return inside


def _distance(a: object, b: object) -> float | None:
    # Planar distance in the coordinates' units (degrees for WGS 84), as OData's
    # geo.distance is on geometry values; only between points.
    first, second = geometry_of(a), geometry_of(b)
    if isinstance(first, Point) and isinstance(second, Point):
        return math.hypot(first.x - second.x, first.y - second.y)
    return None


def _within(a: object, b: object) -> bool | None:
    inner, outer = geometry_of(a), geometry_of(b)
    if isinstance(inner, Point) and isinstance(outer, Polygon):
        return _inside(inner, outer)
    if isinstance(inner, Point) and isinstance(outer, Point):
        return inner == outer
    return None


def _intersects(a: object, b: object) -> bool | None:
    found = _within(a, b)
    return _within(b, a) if found is None else found


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_time(value.split("/", 1)[0])
    return None


def _part(name: str) -> Callable[[object], object]:
    def read(value: object) -> object:
        when = _when(value)
        return None if when is None else int(getattr(when.astimezone(UTC), name))

    return read


def _both_text(test: Callable[[str, str], bool]) -> Callable[[object, object], object]:
    def run(a: object, b: object) -> object:
        first, second = _text(a), _text(b)
        return None if first is None or second is None else test(first, second)

    return run


def _one_text(apply: Callable[[str], object]) -> Callable[[object], object]:
    def run(a: object) -> object:
        text = _text(a)
        return None if text is None else apply(text)

    return run


# name -> (arity, implementation); anything else is refused by name.
FUNCTIONS: dict[str, tuple[int, Callable[..., object]]] = {
    "geo.distance": (2, _distance),
    "geo.intersects": (2, _intersects),
    "st_within": (2, _within),
    "st_intersects": (2, _intersects),
    "substringof": (2, _both_text(lambda a, b: a in b)),
    "contains": (2, _both_text(lambda a, b: b in a)),
    "startswith": (2, _both_text(lambda a, b: a.startswith(b))),
    "endswith": (2, _both_text(lambda a, b: a.endswith(b))),
    "tolower": (1, _one_text(str.lower)),
    "toupper": (1, _one_text(str.upper)),
    "trim": (1, _one_text(str.strip)),
    "length": (1, _one_text(len)),
    "year": (1, _part("year")),
    "month": (1, _part("month")),
    "day": (1, _part("day")),
    "hour": (1, _part("hour")),
    "minute": (1, _part("minute")),
    "second": (1, _part("second")),
}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _comparable(a: object, b: object) -> tuple[Any, Any] | None:
    """Both sides in one ordered type, or ``None`` when they cannot be compared."""
    if isinstance(a, datetime) or isinstance(b, datetime):
        first, second = _when(a), _when(b)
        return None if first is None or second is None else (first, second)
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x, y
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if isinstance(a, bool) and isinstance(b, bool):
        return a, b
    return None


def _compare(op: str, a: object, b: object) -> bool:
    if a is None or b is None:
        # null equals only null; ordering against null is false.
        return (a is None and b is None) == (op == "eq") if op in ("eq", "ne") else False
    pair = _comparable(a, b)
    if pair is None:
        return op == "ne"
    x, y = pair
    return bool(
        {
            "eq": x == y,
            "ne": x != y,
            "gt": x > y,
            "ge": x >= y,
            "lt": x < y,
            "le": x <= y,
        }[op]
    )


def evaluate(node: Node, row: Row) -> object:
    """The value of ``node`` for ``row`` (a bool for a whole filter)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        value = _resolve(row, node.parts)
        return None if isinstance(value, Row) else value
    if isinstance(node, Compare):
        return _compare(node.op, evaluate(node.left, row), evaluate(node.right, row))
    if isinstance(node, Logical):
        left = evaluate(node.left, row) is True
        if node.op == "and":
            return left and evaluate(node.right, row) is True
        return left or evaluate(node.right, row) is True
    if isinstance(node, Not):
        return evaluate(node.operand, row) is not True
    args = [evaluate(arg, row) for arg in node.args]
    return FUNCTIONS[node.name][1](*args)


def matches(node: Node | None, row: Row) -> bool:
    return node is None or evaluate(node, row) is True


def conjuncts(node: Node) -> list[Node]:
    """The terms of a top-level ``and`` chain."""
    if isinstance(node, Logical) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]
