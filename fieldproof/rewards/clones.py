"""Clones: streams that repeat another device's, whole or shifted by an offset and a delay.

Two neighbouring devices (cells within ``neighbour_rings``) are compared slot by slot,
per metric, at every delay up to ``clone_max_lag_slots``: the residuals
``a[s] − b[s − lag]`` have a median (the offset) and a median absolute spread around
it. Independent sensors, even side by side, differ by their own noise; a copy — the same
data re-signed, or a neighbour's data with an offset added and published late — has a
spread below the metric's ``clone`` threshold. A metric counts only with at least
``clone_min_slots`` common slots and when it varies (range ≥ 10 thresholds), so two calm
anemometers are not copies; a pair is a copy when some metric says so and none disagrees.

Copies join groups. A device that repeats another *later* never earns from the group;
of the rest, the senior one (earliest placed, then lowest id) earns and the others are
flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fieldproof.rewards.neighbours import SlotValues, low_median
from fieldproof.rewards.rules import RuleParams

VARIATION = 10  # a metric must range over this many clone thresholds to be evidence


@dataclass(frozen=True, slots=True)
class CloneMatch:
    """``device`` repeats ``source`` ``lag`` slots later, shifted by ``offset`` milli-units
    of ``metric`` (lag 0: at the same time)."""

    device: bytes
    source: bytes
    lag: int
    offset: int
    metric: str


@dataclass(frozen=True, slots=True)
class CloneVerdict:
    """A flagged member of a clone group and the match that names it."""

    device: bytes
    kept: bytes
    match: CloneMatch


def _lags(limit: int) -> list[int]:
    return list(range(-limit, limit + 1))


def compare(
    a: SlotValues, b: SlotValues, lag: int, params: RuleParams
) -> tuple[int, int, str] | None:
    """``(spread, offset, metric)`` when ``a`` repeats ``b`` delayed by ``lag`` slots
    (the spread is the largest relative to its metric's threshold, in ppm), else None."""
    found: tuple[int, int, str] | None = None
    for name in sorted(a.keys() & b.keys()):
        rules = params.metrics.get(name)
        if rules is None or rules.clone <= 0:
            continue
        mine, theirs = a[name], b[name]
        common = [s for s in mine if s - lag in theirs]
        if len(common) < params.clone_min_slots:
            continue
        source = [theirs[s - lag] for s in common]
        if max(source) - min(source) < VARIATION * rules.clone:
            continue
        residuals = [mine[s] - theirs[s - lag] for s in common]
        offset = low_median(residuals)
        spread = low_median([abs(r - offset) for r in residuals])
        if spread > rules.clone:
            return None
        relative = spread * 1_000_000 // rules.clone
        if found is None or relative > found[0]:
            found = (relative, offset, name)
    return found


def find_clones(
    cells: Mapping[bytes, str],
    near: Mapping[str, tuple[str, ...]],
    slots: Mapping[bytes, SlotValues],
    placed_at: Mapping[bytes, int],
    params: RuleParams,
) -> dict[bytes, CloneVerdict]:
    """The flagged devices (those that must not earn), keyed by device."""
    by_cell: dict[str, list[bytes]] = {}
    for device in sorted(cells):
        by_cell.setdefault(cells[device], []).append(device)
    matches: list[CloneMatch] = []
    lags = _lags(params.clone_max_lag_slots)
    for a in sorted(cells):
        for cell in near[cells[a]]:
            for b in by_cell[cell]:
                if b <= a or not slots.get(a) or not slots.get(b):
                    continue
                # Of the delays that fit, the closest fit (then the shortest delay) wins:
                # a smooth series shifted by one slot can look almost like itself.
                hits = []
                for lag in lags:
                    hit = compare(slots[a], slots[b], lag, params)
                    if hit is not None:
                        hits.append((hit[0], abs(lag), lag, hit[1], hit[2]))
                if not hits:
                    continue
                _, _, lag, offset, metric = min(hits)
                if lag >= 0:
                    matches.append(CloneMatch(a, b, lag, offset, metric))
                else:
                    matches.append(CloneMatch(b, a, -lag, -offset, metric))
    parent: dict[bytes, bytes] = {}

    def root(x: bytes) -> bytes:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for match in matches:
        ra, rb = root(match.device), root(match.source)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[bytes, list[bytes]] = {}
    for device in sorted({m.device for m in matches} | {m.source for m in matches}):
        groups.setdefault(root(device), []).append(device)
    followers = {m.device for m in matches if m.lag > 0}
    verdicts: dict[bytes, CloneVerdict] = {}
    for members in groups.values():
        leaders = [d for d in members if d not in followers] or members
        kept = min(leaders, key=lambda d: (placed_at.get(d, 0), d))
        for device in members:
            if device == kept:
                continue
            match = _naming(device, kept, matches)
            verdicts[device] = CloneVerdict(device, kept, match)
    return verdicts


def _naming(device: bytes, kept: bytes, matches: list[CloneMatch]) -> CloneMatch:
    """The match that best explains why ``device`` is flagged (one with the kept device
    first, else the first it is part of), oriented from ``device``'s side."""
    own = [m for m in matches if device in (m.device, m.source)]
    direct = [m for m in own if kept in (m.device, m.source)]
    match = (direct or own)[0]
    if match.device == device:
        return match
    return CloneMatch(device, match.device, -match.lag, -match.offset, match.metric)
