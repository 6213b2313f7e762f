"""Resource paths: ``Things``, ``Things('0x…')``, ``Datastreams('…')/Observations``,
``Observations('…')/Datastream/Thing``, ``Things('0x…')/name/$value``, ``…/$ref``.

Ids may hold ``/`` (record names do), so the path is split outside quotes, not at
every slash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aggregator.api.errors import NotFoundError, ParameterError
from aggregator.api.sta.catalog import Catalog, Entity
from aggregator.api.sta.model import (
    ENTITY_SETS,
    NAVIGATION,
    PROPERTIES,
    datastream_id,
    split_datastream,
    split_observation,
)
from aggregator.api.sta.observations import ObservationReader, Stream

PARAMETER = "path"
_SEGMENT = re.compile(r"([A-Za-z$][A-Za-z0-9]*)(?:\((?:'((?:[^']|'')*)'|([0-9]+))\))?")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    key: str | None = None


def split_path(path: str) -> list[Segment]:
    parts: list[str] = []
    current, quoted = "", False
    for ch in path.strip("/"):
        if ch == "'":
            quoted = not quoted
        if ch == "/" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    out = []
    for part in parts:
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise ParameterError(PARAMETER, f"not a resource path segment: {part[:80]!r}")
        key = match.group(2)
        key = key.replace("''", "'") if key is not None else match.group(3)
        out.append(Segment(match.group(1), key))
    return out


@dataclass(slots=True)
class Collection:
    """Entities of one set: listed from the catalog, or the Observations of ``streams``."""

    entity_set: str
    items: list[Entity] = field(default_factory=list)
    streams: list[Stream] | None = None
    # The URL path of the collection, relative to the service root.
    path: str = ""


@dataclass(slots=True)
class Resolved:
    collection: Collection | None = None
    entity: Entity | None = None
    prop: str | None = None
    raw_value: bool = False
    ref: bool = False


def streams_of(catalog: Catalog, ids: list[str]) -> list[Stream]:
    return [catalog.streams[i] for i in ids if i in catalog.streams]


def navigate(
    catalog: Catalog, reader: ObservationReader, entity: Entity, name: str, base: str
) -> Collection | Entity | None:
    """What navigation property ``name`` of ``entity`` leads to."""
    target, many = NAVIGATION[entity.entity_set][name]
    if target == "Observations":
        if entity.entity_set == "Datastreams":
            streams = [catalog.streams[entity.id]]
        else:  # a FeatureOfInterest: every stream of its device
            things = catalog.get("Things", entity.id)
            ids = [] if things is None else things.links.get("Datastreams", [])
            streams = streams_of(catalog, ids)
        return Collection(target, streams=streams, path=f"{base}/{name}")
    found = catalog.linked(entity, name, target)
    if many:
        return Collection(target, items=found, path=f"{base}/{name}")
    return found[0] if found else None


def lookup(catalog: Catalog, reader: ObservationReader, entity_set: str, key: str) -> Entity:
    if entity_set == "Observations":
        parts = split_observation(key)
        stream = None if parts is None else (parts[0], parts[1])
        if stream is not None and parts is not None and datastream_id(*stream) in catalog.streams:
            reading = reader.one(stream, parts[2])
            if reading is not None:
                return reader.entities([reading])[0]
        raise NotFoundError(f"no Observation {key!r}")
    if entity_set == "Datastreams" and split_datastream(key) is None:
        raise NotFoundError(f"no Datastream {key!r}")
    found = catalog.get(entity_set, key)
    if found is None:
        raise NotFoundError(f"no {entity_set} entity {key!r}")
    return found


def entity_path(entity: Entity) -> str:
    quoted = entity.id.replace("'", "''")
    return f"{entity.entity_set}('{quoted}')"


def resolve(catalog: Catalog, reader: ObservationReader, path: str) -> Resolved:
    segments = split_path(path)
    first = segments[0]
    if first.name not in ENTITY_SETS:
        raise NotFoundError(f"no entity set {first.name!r} (served: {', '.join(ENTITY_SETS)})")
    state: Collection | Entity | None
    if first.key is None:
        items = list(catalog.sets.get(first.name, {}).values())
        streams = list(catalog.streams.values()) if first.name == "Observations" else None
        state = Collection(first.name, items=items, streams=streams, path=first.name)
    else:
        state = lookup(catalog, reader, first.name, first.key)
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        if segment.name == "$ref" and last and segment.key is None:
            if state is None:
                raise NotFoundError("nothing to reference")
            return (
                Resolved(collection=state, ref=True)
                if isinstance(state, Collection)
                else Resolved(entity=state, ref=True)
            )
        if isinstance(state, Collection):
            if segment.key is not None or state.streams is not None:
                raise ParameterError(PARAMETER, f"{segment.name!r} cannot follow a collection")
            raise ParameterError(PARAMETER, "select one entity (Set('id')) before navigating")
        if state is None:
            raise NotFoundError(f"{segments[index - 1].name} is empty")
        entity: Entity = state
        if segment.name in PROPERTIES[entity.entity_set] and segment.key is None:
            rest = segments[index + 1 :]
            if not rest:
                return Resolved(entity=entity, prop=segment.name)
            if len(rest) == 1 and rest[0] == Segment("$value"):
                return Resolved(entity=entity, prop=segment.name, raw_value=True)
            raise ParameterError(PARAMETER, f"nothing follows property {segment.name!r}")
        if segment.name not in NAVIGATION[entity.entity_set]:
            raise NotFoundError(f"{entity.entity_set} have no {segment.name!r}")
        state = navigate(catalog, reader, entity, segment.name, entity_path(entity))
        if segment.key is not None:
            if not isinstance(state, Collection):
                raise ParameterError(PARAMETER, f"{segment.name} is one entity: no id after it")
            state = _member(catalog, reader, state, segment.key)
    if state is None:
        raise NotFoundError("no such entity")
    if isinstance(state, Collection):
        return Resolved(collection=state)
    return Resolved(entity=state)


def _member(
    catalog: Catalog, reader: ObservationReader, collection: Collection, key: str
) -> Entity:
    entity = lookup(catalog, reader, collection.entity_set, key)
    if collection.streams is not None:
        parts = split_observation(key)
        if parts is None or (parts[0], parts[1]) not in collection.streams:
            raise NotFoundError(f"no {collection.entity_set} entity {key!r} here")
    elif all(item.id != key for item in collection.items):
        raise NotFoundError(f"no {collection.entity_set} entity {key!r} here")
    return entity
