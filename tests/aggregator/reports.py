"""Signed test reports from real device keys (no mocks of the wire format)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, Report, sign_report

REPORT_INTERVAL_S = 60


@dataclass(frozen=True)
class Device:
    key: DeviceKey

    @property
    def device_id(self) -> bytes:
        return bytes(self.key.device_id)

    @property
    def hex(self) -> str:
        return "0x" + self.device_id.hex()

    @property
    def topic(self) -> str:
        return f"fp/v1/{self.hex}/report"

    def report(
        self,
        seq: int,
        *,
        start: int | None = None,
        records: tuple[Record, ...] | None = None,
    ) -> Report:
        if start is None:
            start = int(time.time()) - 3600 + seq % 3000
        if records is None:
            records = (
                Record(name="temp", value=20.0 + (seq % 10) / 4, time=float(start)),
                Record(name="rh", value=50.0, time=float(start)),
                Record(name="line1/car/in", unit="count", value=float(seq % 7), time=float(start)),
            )
        return Report(self.device_id, seq, start, start + REPORT_INTERVAL_S, records)

    def signed(self, seq: int, **kwargs: object) -> bytes:
        return sign_report(self.report(seq, **kwargs), self.key)  # type: ignore[arg-type]


def new_device(secret: int | None = None) -> Device:
    return Device(DeviceKey.generate() if secret is None else DeviceKey.from_secret(secret))
