"""Which requirements of an installed distribution's extras are missing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _by_extra(distribution: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Each extra's requirements as (name, extras of that requirement)."""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for line in metadata.requires(distribution) or ():
        requirement, _, marker = line.partition(";")
        extra = _EXTRA_MARKER.search(marker)
        match = _NAME.match(requirement)
        if extra is None or match is None:
            continue
        inner = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
        out.setdefault(extra.group(1), []).append((match.group(1), inner))
    return out


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing_requirements(distribution: str, extras: Iterable[str]) -> list[str]:
    """Names of the packages that ``distribution[extras]`` needs and that are not installed.

    A requirement on the distribution itself (``fieldproof[edge]`` inside ``demo``) is
    followed into those extras.
    """
    table = _by_extra(distribution)
    missing: list[str] = []
    seen: set[str] = set()
    pending = list(extras)
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for name, inner in table.get(extra, ()):
            if name.lower() == distribution.lower():
                pending.extend(inner)
            elif not _installed(name) and name not in missing:
                missing.append(name)
    return missing
