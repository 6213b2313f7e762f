"""Tiles over a region of interest, and the merge of their detections into one set.

Small, distant objects shrink below what a detector sees once a whole frame is
scaled to its input; cutting the region where they appear into overlapping tiles
gives each tile the detector's full input. An object cut by a tile's inner edge
is seen whole by a neighbouring tile (the overlap) or by the whole frame, so a
box touching an inner edge is dropped rather than merged; the rest are merged by
class-aware NMS, which removes the copies of one object seen by several slices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_agent.detectors.nms import batched_nms
from edge_agent.detectors.types import Detections


@dataclass(frozen=True, slots=True)
class Tile:
    """A slice of the frame: x1, y1 inclusive, x2, y2 exclusive, in source pixels.

    ``inner`` says, for left/top/right/bottom, whether that edge cuts the frame
    (is not the frame's own border) — boxes touching such an edge are partial.
    """

    x1: int
    y1: int
    x2: int
    y2: int
    inner: tuple[bool, bool, bool, bool]


def _spans(start: int, stop: int, count: int, overlap: float) -> list[tuple[int, int]]:
    length = stop - start
    size = length / (count - (count - 1) * overlap) if count > 1 else float(length)
    step = size * (1.0 - overlap)
    spans = []
    for i in range(count):
        a = start + round(i * step)
        b = stop if i == count - 1 else min(stop, start + round(i * step + size))
        spans.append((a, b))
    return spans


def plan_tiles(
    width: int,
    height: int,
    region: tuple[float, float, float, float],
    *,
    columns: int,
    rows: int,
    overlap: float,
) -> list[Tile]:
    """``columns`` × ``rows`` tiles covering ``region`` (clipped to the frame), overlapping
    by ``overlap`` of a tile's size, in row-major order."""
    x1 = max(0, math.floor(region[0]))
    y1 = max(0, math.floor(region[1]))
    x2 = min(width, math.ceil(region[2]))
    y2 = min(height, math.ceil(region[3]))
    if x2 - x1 < columns or y2 - y1 < rows:
        return []
    tiles = []
    for ty1, ty2 in _spans(y1, y2, rows, overlap):
        for tx1, tx2 in _spans(x1, x2, columns, overlap):
            tiles.append(Tile(tx1, ty1, tx2, ty2, (tx1 > 0, ty1 > 0, tx2 < width, ty2 < height)))
    return tiles


def touches_inner_edge(
    boxes: npt.NDArray[np.float32], tile: Tile, margin: float
) -> npt.NDArray[np.bool_]:
    """Which ``(N, 4)`` source-pixel boxes reach within ``margin`` of an inner edge of ``tile``."""
    left, top, right, bottom = tile.inner
    out = np.zeros(boxes.shape[0], dtype=bool)
    if left:
        out |= boxes[:, 0] <= tile.x1 + margin
    if top:
        out |= boxes[:, 1] <= tile.y1 + margin
    if right:
        out |= boxes[:, 2] >= tile.x2 - margin
    if bottom:
        out |= boxes[:, 3] >= tile.y2 - margin
    return out


def merge(
    whole: Detections | None,
    tiles: Sequence[tuple[Tile, Detections]],
    *,
    iou_threshold: float,
    edge_margin: float,
    max_detections: int = 300,
) -> Detections:
    """One detection set from the whole frame's and each tile's (all in source pixels)."""
    boxes, scores, ids = [], [], []
    if whole is not None:
        boxes.append(whole.boxes)
        scores.append(whole.scores)
        ids.append(whole.class_ids)
    for tile, found in tiles:
        keep = ~touches_inner_edge(found.boxes, tile, edge_margin)
        boxes.append(found.boxes[keep])
        scores.append(found.scores[keep])
        ids.append(found.class_ids[keep])
    if not boxes:
        return Detections.empty()
    all_boxes = np.concatenate(boxes).astype(np.float32).reshape(-1, 4)
    all_scores = np.concatenate(scores).astype(np.float32)
    all_ids = np.concatenate(ids).astype(np.int64)
    keep_idx = batched_nms(all_boxes, all_scores, all_ids, iou_threshold, max_detections)
    return Detections(
        boxes=all_boxes[keep_idx], scores=all_scores[keep_idx], class_ids=all_ids[keep_idx]
    )
