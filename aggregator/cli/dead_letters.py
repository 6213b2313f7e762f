"""``fieldproof aggregator dead-letters``: what ingest refused, with its reasons, and
(``--points``) the series points the series store refused for good."""

from __future__ import annotations

import argparse
import base64
import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aggregator.ledger.models import DeadLetter, DeadPoint
    from aggregator.ledger.sql import SqlLedger

PAGE = 1000
FIELDS = ("id", "received_at", "topic", "reason", "detail", "device", "seq", "size", "raw")
POINT_FIELDS = ("id", "at", "report_id", "device", "seq", "measurement", "line", "reason")


def register_aggregator(aggregator: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    letters = aggregator.add_parser(
        "dead-letters",
        help="List or export the messages ingest refused, with their reasons.",
        description="Read the ledger's dead letters (refused reports, malformed status or "
        "health messages): a count per reason, then each letter; --format json or csv "
        "exports them whole (raw bytes in base64), --reason keeps one reason. --points "
        "lists the series points the series store refused instead (each with its ledger "
        "row, device and seq: the report itself stays in the ledger).",
    )
    letters.add_argument(
        "--points", action="store_true", help="the refused series points, not the letters"
    )
    letters.add_argument("--config", type=Path, required=True, help="aggregator.yaml")
    letters.add_argument("--reason", help="only this reason (e.g. bad_signature)")
    letters.add_argument("--after", type=int, default=0, help="only letters with a larger id")
    letters.add_argument("--limit", type=int, default=100, help="at most this many (0: all)")
    letters.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    letters.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    letters.set_defaults(handler=_dead_letters)


class _Row(Protocol):
    @property
    def row_id(self) -> int | None: ...


RowT = TypeVar("RowT", bound=_Row)


def _paged(
    fetch: Callable[[int], Sequence[RowT]], after: int, keep: Callable[[RowT], bool], limit: int
) -> Iterator[RowT]:
    """Rows of ``fetch(after_id)``, page by page, those ``keep`` accepts, at most ``limit``
    (0: all)."""
    count = 0
    while True:
        page = fetch(after)
        for row in page:
            if keep(row):
                yield row
                count += 1
                if limit and count >= limit:
                    return
        if len(page) < PAGE:
            return
        after = page[-1].row_id or after


def _letters(ledger: SqlLedger, after: int, reason: str | None, limit: int) -> Iterator[DeadLetter]:
    return _paged(
        lambda start: ledger.dead_letters(after_id=start, limit=PAGE),
        after,
        lambda letter: reason is None or letter.reason == reason,
        limit,
    )


def _row(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.row_id,
        "received_at": letter.received_at,
        "topic": letter.topic,
        "reason": letter.reason,
        "detail": letter.detail,
        "device": None if letter.device_id is None else "0x" + letter.device_id.hex(),
        "seq": letter.seq,
        "size": letter.size,
        "raw": base64.b64encode(letter.raw).decode(),
    }


def _points(ledger: SqlLedger, after: int, reason: str | None, limit: int) -> Iterator[DeadPoint]:
    return _paged(
        lambda start: ledger.dead_points(after_id=start, limit=PAGE),
        after,
        lambda point: reason is None or reason in point.reason,
        limit,
    )


def _point_row(point: DeadPoint) -> dict[str, Any]:
    return {
        "id": point.row_id,
        "at": point.at,
        "report_id": point.report_id,
        "device": "0x" + point.device_id.hex(),
        "seq": point.seq,
        "measurement": point.measurement,
        "line": point.line,
        "reason": point.reason,
    }


def _write_points(out: IO[str], fmt: str, ledger: SqlLedger, args: argparse.Namespace) -> None:
    points = _points(ledger, args.after, args.reason, args.limit)
    if fmt == "json":
        json.dump([_point_row(point) for point in points], out, indent=1)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=POINT_FIELDS)
        writer.writeheader()
        writer.writerows(_point_row(point) for point in points)
    else:
        out.write(f"{ledger.count_dead_points()} refused series points\n")
        for point in points:
            out.write(
                f"{point.row_id:>8}  row {point.report_id:<8} 0x{point.device_id.hex()[:12]}… "
                f"seq {point.seq:<8} {point.measurement}: {point.reason}\n"
            )


def _write(out: IO[str], fmt: str, ledger: SqlLedger, args: argparse.Namespace) -> None:
    if args.points:
        _write_points(out, fmt, ledger, args)
        return
    letters = _letters(ledger, args.after, args.reason, args.limit)
    if fmt == "json":
        json.dump([_row(letter) for letter in letters], out, indent=1)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(_row(letter) for letter in letters)
    else:
        counts = ledger.dead_letter_counts()
        total = sum(counts.values())
        out.write(
            f"{total} dead letters"
            + (": " if counts else "")
            + ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))
            + "\n"
        )
        for letter in letters:
            device = "-" if letter.device_id is None else "0x" + letter.device_id.hex()[:12] + "…"
            seq = "-" if letter.seq is None else str(letter.seq)
            out.write(
                f"{letter.row_id:>8}  {letter.reason:<16} {device:<17} seq {seq:<8} "
                f"{letter.detail}\n"
            )


def _dead_letters(args: argparse.Namespace) -> int:
    from aggregator.cli.run import load
    from aggregator.ledger import open_ledger

    config = load(args.config)
    ledger = open_ledger(config.ledger.url, migrate=False)
    try:
        if args.output is None:
            _write(sys.stdout, args.format, ledger, args)
        else:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                _write(out, args.format, ledger, args)
    finally:
        ledger.close()
    return 0
