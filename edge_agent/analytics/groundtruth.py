"""Manual person tracks in the CVML format, and the crossings they make.

A CVML file (PETS2009 and its annotation tools) lists, per frame, each object's
id and its box as centre, width and height in source pixels. True crossings
come from those tracks through the same :class:`LineCounter` the agent runs, so
the rule that counts a detected track (bottom-centre point, hysteresis, once
per track, line and direction) also counts the truth.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from edge_agent.analytics.config import LineConfig
from edge_agent.analytics.lines import Direction, LineCounter
from edge_agent.analytics.tracker import Box, TrackState
from edge_agent.errors import AgentValueError

PERSON = 0  # COCO-80 id of "person"


@dataclass(frozen=True, slots=True)
class TrackBox:
    """One object of one frame: its track id and x1, y1, x2, y2 box."""

    track_id: int
    box: Box


Tracks = Mapping[int, Sequence[TrackBox]]
"""Frame number → the objects in that frame."""


def _clip(box: Box, size: tuple[int, int] | None) -> Box:
    if size is None:
        return box
    width, height = size
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )


def parse_cvml(
    text: str, *, frames: range | None = None, clip_to: tuple[int, int] | None = None
) -> dict[int, tuple[TrackBox, ...]]:
    """Frames of a CVML document; ``clip_to`` (width, height) clips boxes to the frame.

    Clipping matters because detector boxes never leave the frame: a person whose
    feet are below the bottom edge would otherwise have a ground point no detection
    can reach. Boxes with no area left after clipping are dropped.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AgentValueError(f"not a CVML document: {exc}") from exc
    result: dict[int, tuple[TrackBox, ...]] = {}
    for frame in root.iter("frame"):
        number = int(frame.attrib["number"])
        if frames is not None and number not in frames:
            continue
        objects = []
        for obj in frame.iter("object"):
            box = obj.find("box")
            if box is None:
                raise AgentValueError(f"frame {number}: object without a box")
            xc, yc = float(box.attrib["xc"]), float(box.attrib["yc"])
            w, h = float(box.attrib["w"]), float(box.attrib["h"])
            clipped = _clip((xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2), clip_to)
            if clipped[2] > clipped[0] and clipped[3] > clipped[1]:
                objects.append(TrackBox(int(obj.attrib["id"]), clipped))
        result[number] = tuple(objects)
    return result


def as_track_states(objects: Iterable[TrackBox], class_id: int = PERSON) -> list[TrackState]:
    """Ground-truth objects in the form the counting lines read."""
    return [
        TrackState(
            track_id=o.track_id,
            box=o.box,
            class_id=class_id,
            score=1.0,
            hits=1,
            time_since_update=0,
        )
        for o in objects
    ]


def crossing_frames(
    tracks: Tracks, lines: Sequence[LineConfig]
) -> list[tuple[int, str, Direction]]:
    """Every crossing as (frame, line, direction), following the frames in order."""
    counters = [LineCounter(line) for line in lines]
    made: list[tuple[int, str, Direction]] = []
    for number in sorted(tracks):
        states = as_track_states(tracks[number])
        for counter in counters:
            made += [(number, c.line, c.direction) for c in counter.update(states)]
    return made


def true_crossings(tracks: Tracks, lines: Sequence[LineConfig]) -> dict[str, dict[Direction, int]]:
    """Crossings of each line by direction, following the frames in order."""
    counts: dict[str, dict[Direction, int]] = {line.name: {"in": 0, "out": 0} for line in lines}
    for _, line, direction in crossing_frames(tracks, lines):
        counts[line][direction] += 1
    return counts
