"""The acknowledgement an aggregator publishes on ``fp/v1/<device>/ack`` after a commit.

A device deletes a report from its outbox only when an ack covers its sequence number:
the ledger, not the broker, is the record of truth, so a broker's PUBACK proves nothing
about delivery. The document is JSON::

    {"through": N, "ranges": [[a, b], ...]}

``through`` is the highest N such that every seq ``1..N`` of the device is committed
(device seqs start at 1; 0 when seq 1 is not). ``ranges`` lists further committed seqs
above ``through``, each ``[a, b]`` inclusive, ascending and disjoint, at most
:data:`MAX_RANGES` per document. Acks only ever state facts about the ledger, so a device
may apply them in any order and any number of times.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from fieldproof.protocol.payloads import MAX_PAYLOAD_BYTES, PayloadError

MAX_RANGES = 64
MAX_SEQ = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Ack:
    """Seqs ``1..through`` and every ``[a, b]`` in ``ranges`` are committed."""

    through: int
    ranges: tuple[tuple[int, int], ...] = ()

    def covers(self, seq: int) -> bool:
        return 1 <= seq <= self.through or any(a <= seq <= b for a, b in self.ranges)

    def spans(self) -> tuple[tuple[int, int], ...]:
        """Every covered seq as inclusive spans (``through`` first when it is not 0)."""
        head = ((1, self.through),) if self.through >= 1 else ()
        return head + self.ranges


def runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """``seqs`` as ascending, disjoint inclusive runs of consecutive numbers."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def build_acks(through: int, seqs: Iterable[int]) -> list[Ack]:
    """The acks stating ``through`` and the committed ``seqs`` above it.

    One ack when the seqs above ``through`` form at most :data:`MAX_RANGES` runs, more
    otherwise (each states ``through`` too), so no document grows without bound.
    """
    if through < 0:
        raise PayloadError(f"ack: through: {through} is negative")
    above = runs(seq for seq in seqs if seq > through)
    if not above:
        return [Ack(through)]
    return [
        Ack(through, tuple(above[i : i + MAX_RANGES])) for i in range(0, len(above), MAX_RANGES)
    ]


def encode_ack(ack: Ack) -> bytes:
    """The ack's JSON document (compact, keys sorted)."""
    document = {"ranges": [[a, b] for a, b in ack.ranges], "through": ack.through}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _seq(value: object, where: str) -> int:
    # bool is an int to Python, but true is not a sequence number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"ack: {where}: expected an integer, got {value!r}")
    if not 0 <= value <= MAX_SEQ:
        raise PayloadError(f"ack: {where}: {value} outside [0, {MAX_SEQ}]")
    return value


def _ranges(value: object, through: int) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise PayloadError(f"ack: ranges: expected a list, got {type(value).__name__}")
    if len(value) > MAX_RANGES:
        raise PayloadError(f"ack: ranges: {len(value)} ranges, more than {MAX_RANGES}")
    out: list[tuple[int, int]] = []
    floor = through + 1
    for index, item in enumerate(value):
        where = f"ranges -> {index}"
        if not isinstance(item, list) or len(item) != 2:
            raise PayloadError(f"ack: {where}: expected [first, last]")
        first, last = _seq(item[0], f"{where} -> 0"), _seq(item[1], f"{where} -> 1")
        if first > last:
            raise PayloadError(f"ack: {where}: first {first} after last {last}")
        if first < floor:
            raise PayloadError(f"ack: {where}: starts at {first}, below {floor}")
        out.append((first, last))
        floor = last + 1
    return tuple(out)


def parse_ack(payload: bytes) -> Ack:
    """The ack in ``payload``; :class:`PayloadError` names the field that is wrong."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"ack: {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"ack: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise PayloadError(f"ack: (document): expected an object, got {type(document).__name__}")
    if "through" not in document:
        raise PayloadError("ack: through: field required")
    through = _seq(document["through"], "through")
    extra = sorted(set(document) - {"through", "ranges"})
    if extra:
        raise PayloadError(f"ack: {extra[0]}: unknown field")
    return Ack(through, _ranges(document.get("ranges", []), through))
