"""Signed reports for anchoring and reward tests."""

from __future__ import annotations

from collections.abc import Sequence

from fieldproof.bundle import BundleReport
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, Report, sign_report

# Fixed secrets keep test runs reproducible.
KEYS: tuple[DeviceKey, ...] = tuple(DeviceKey.from_secret(0xF1E1D + i) for i in range(8))


def signed(
    key: DeviceKey,
    seq: int,
    start: int,
    length: int = 60,
    readings: Sequence[tuple[str, float]] = (("bme280/temp", 21.5),),
) -> BundleReport:
    """A signed report of ``readings`` by ``key`` for ``[start, start + length]``."""
    report = Report(
        device_id=key.device_id,
        seq=seq,
        start=start,
        end=start + length,
        records=tuple(Record(name=name, value=value) for name, value in readings),
    )
    return BundleReport(key.device_id, seq, sign_report(report, key))
