"""Applying query options to a collection and writing entities as SensorThings JSON
(self and navigation links, ``$select``, ``$expand``, ``@iot.count``, ``@iot.nextLink``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from aggregator.api.sta.catalog import Catalog, Entity
from aggregator.api.sta.filter import (
    Compare,
    Literal,
    Node,
    Path,
    Row,
    conjuncts,
    matches,
)
from aggregator.api.sta.model import NAVIGATION, PROPERTIES, datastream_id
from aggregator.api.sta.observations import (
    BEGINNING,
    END_OF_TIME,
    ObservationReader,
    Stream,
    Window,
)
from aggregator.api.sta.options import Options, Order
from aggregator.api.sta.resources import Collection, entity_path, navigate

_FLIP = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq", "ne": "ne"}
_DATASTREAM_ID = (("Datastream", "@iot.id"), ("Datastream", "id"))
_PROOF_FIELDS = {"resultTime", "resultQuality"}
# Kept as is in links: OData's quotes and parentheses, and the ':' and '@' of ids.
_SAFE = ":@'()"
LINK_SAFE = _SAFE + "/"
_QUERY_SAFE = "$'(),:@/"


@dataclass(frozen=True, slots=True)
class Plan:
    """What the store can do for an Observations filter: a time window and a set of
    Datastreams; ``residual`` when other terms remain to be applied here."""

    window: Window
    streams: frozenset[str] | None
    residual: bool


def _bound(window: Window, op: str, when: datetime) -> Window | None:
    """``window`` narrowed by ``phenomenonTime <op> when`` (stored times are whole ms)."""
    ms = when.timestamp() * 1000
    start, end = window.start, window.end
    if op == "gt":
        start = max(start, (math.floor(ms) + 1) / 1000)
    elif op == "ge":
        start = max(start, math.ceil(ms) / 1000)
    elif op == "lt":
        end = min(end, math.ceil(ms) / 1000)
    elif op == "le":
        end = min(end, (math.floor(ms) + 1) / 1000)
    elif op == "eq":
        start = max(start, math.ceil(ms) / 1000)
        end = min(end, (math.floor(ms) + 1) / 1000)
    else:
        return None
    return Window(max(start, BEGINNING), min(end, END_OF_TIME))


def plan_observations(node: Node | None) -> Plan:
    window, streams, residual = Window(), None, False
    for term in [] if node is None else conjuncts(node):
        if isinstance(term, Compare):
            left, right, op = term.left, term.right, term.op
            if isinstance(left, Literal):
                left, right, op = right, left, _FLIP[op]
            if (
                isinstance(left, Path)
                and left.parts == ("phenomenonTime",)
                and isinstance(right, Literal)
                and isinstance(right.value, datetime)
            ):
                bounded = _bound(window, op, right.value)
                if bounded is not None:
                    window = bounded
                    continue
            if (
                isinstance(left, Path)
                and left.parts in _DATASTREAM_ID
                and op == "eq"
                and isinstance(right, Literal)
                and isinstance(right.value, str)
            ):
                chosen = frozenset({right.value})
                streams = chosen if streams is None else streams & chosen
                continue
        residual = True
    return Plan(window, streams, residual)


def _mentions(node: Node | None, names: set[str]) -> bool:
    if node is None:
        return False
    if isinstance(node, Path):
        return node.parts[0] in names
    if isinstance(node, Literal):
        return False
    children: Sequence[Node]
    if isinstance(node, Compare):
        children = (node.left, node.right)
    elif hasattr(node, "args"):
        children = node.args
    elif hasattr(node, "operand"):
        children = (node.operand,)
    else:
        children = (node.left, node.right)
    return any(_mentions(child, names) for child in children)


def _sort_key(value: object) -> tuple[int, Any]:
    # Mixed types never meet in one comparison: rank by type first.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, json.dumps(value, sort_keys=True, default=str))


class Executor:
    """Runs one request: applies options to collections and renders entities."""

    def __init__(self, catalog: Catalog, reader: ObservationReader, root: str) -> None:
        self.catalog = catalog
        self.reader = reader
        self.root = root  # absolute URL of the service root, without a trailing slash

    # -- rows for $filter and $orderby -------------------------------------------------

    def row(self, entity: Entity) -> Row:
        def related(name: str) -> Row | None:
            navigation = NAVIGATION[entity.entity_set].get(name)
            if navigation is None or navigation[1]:
                return None  # to-many paths would need any()/all(), which are not served
            found = self.catalog.linked(entity, name, navigation[0])
            return self.row(found[0]) if found else None

        return Row(entity.props, related)

    def _value(self, entity: Entity, path: tuple[str, ...]) -> object:
        value: object = self.row(entity)
        for part in path:
            if isinstance(value, Row):
                value = value.field(part)
            elif isinstance(value, dict):
                value = value.get(part)
            else:
                return None
        return None if isinstance(value, Row) else value

    def _sorted(self, entities: list[Entity], orderby: Sequence[Order]) -> list[Entity]:
        for order in reversed(orderby):
            entities.sort(key=self._key(order.path), reverse=order.descending)
        return entities

    def _key(self, path: tuple[str, ...]) -> Callable[[Entity], tuple[int, Any]]:
        def key(entity: Entity) -> tuple[int, Any]:
            return _sort_key(self._value(entity, path))

        return key

    # -- collections -------------------------------------------------------------------

    def collection(self, collection: Collection, options: Options) -> tuple[dict[str, Any], bool]:
        """The JSON of ``collection`` under ``options``, and whether a next page exists."""
        total: int | None = None
        if collection.streams is not None:
            page, more, total = self._observations(collection.streams, options)
        else:
            rows = [e for e in collection.items if matches(options.filter, self.row(e))]
            rows = self._sorted(rows, options.orderby)
            total = len(rows)
            page = rows[options.skip : options.skip + options.top]
            more = options.skip + options.top < total
        body: dict[str, Any] = {}
        if options.count and total is not None:
            body["@iot.count"] = total
        body["value"] = [self.entity(e, options) for e in page]
        return body, more

    def _observations(
        self, streams: list[Stream], options: Options
    ) -> tuple[list[Entity], bool, int | None]:
        plan = plan_observations(options.filter)
        if plan.streams is not None:
            streams = [s for s in streams if datastream_id(*s) in plan.streams]
        orders = options.orderby
        time_order = not orders or (len(orders) == 1 and orders[0].path == ("phenomenonTime",))
        if not plan.residual and time_order:
            newest_first = bool(orders) and orders[0].descending
            readings, more = self.reader.page(
                streams, plan.window, skip=options.skip, top=options.top, newest_first=newest_first
            )
            total = self.reader.count(streams, plan.window) if options.count else None
            return self.reader.entities(readings), more, total
        # Filters and orders the store cannot apply: the whole window, bounded.
        readings = self.reader.everything(streams, plan.window)
        readings.sort(key=lambda r: (r.time, datastream_id(*r.stream)))
        with_origin = _mentions(options.filter, _PROOF_FIELDS) or any(
            o.path[0] in _PROOF_FIELDS for o in orders
        )
        # The proof reference costs a ledger read: only for the page, unless asked about.
        entities = (
            self.reader.entities(readings)
            if with_origin
            else [self.reader.entity(r, None) for r in readings]
        )
        kept = [
            (reading, entity)
            for reading, entity in zip(readings, entities, strict=True)
            if matches(options.filter, self.row(entity))
        ]
        for order in reversed(orders):
            by = self._key(order.path)
            kept.sort(key=lambda pair: by(pair[1]), reverse=order.descending)
        chosen = kept[options.skip : options.skip + options.top]
        page = (
            [entity for _, entity in chosen]
            if with_origin
            else self.reader.entities([reading for reading, _ in chosen])
        )
        return page, options.skip + options.top < len(kept), len(kept)

    # -- entities ----------------------------------------------------------------------

    def self_link(self, entity: Entity) -> str:
        return self.root + "/" + quote(entity_path(entity), safe=_SAFE)

    def entity(self, entity: Entity, options: Options) -> dict[str, Any]:
        chosen = options.select
        link = self.self_link(entity)
        out: dict[str, Any] = {}
        if chosen is None or "id" in chosen or "@iot.id" in chosen:
            out["@iot.id"] = entity.id
            out["@iot.selfLink"] = link
        for name in PROPERTIES[entity.entity_set]:
            if name in entity.props and (chosen is None or name in chosen):
                out[name] = entity.props[name]
        for name in NAVIGATION[entity.entity_set]:
            if chosen is None or name in chosen:
                out[f"{name}@iot.navigationLink"] = f"{link}/{name}"
        for expand in options.expand:
            self._expand(entity, expand.name, expand.options, out, link)
        return out

    def _expand(
        self, entity: Entity, name: str, options: Options, out: dict[str, Any], link: str
    ) -> None:
        target = navigate(self.catalog, self.reader, entity, name, entity_path(entity))
        if isinstance(target, Collection):
            body, more = self.collection(target, options)
            out[name] = body["value"]
            if "@iot.count" in body:
                out[f"{name}@iot.count"] = body["@iot.count"]
            if more:
                out[f"{name}@iot.nextLink"] = next_link(f"{link}/{name}", options.raw, options)
        else:
            out[name] = None if target is None else self.entity(target, options)


def next_link(url: str, params: dict[str, str], options: Options) -> str:
    """``url`` with the given options, ``$skip`` moved past this page."""
    query = {**params, "$top": str(options.top), "$skip": str(options.skip + options.top)}
    return f"{url}?{urlencode(query, safe=_QUERY_SAFE, quote_via=quote)}"
