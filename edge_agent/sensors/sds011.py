"""Nova Fitness SDS011 particulate sensor (PM2.5 and PM10) on a serial port.

Data frames are 10 bytes at 9600 8N1: ``AA C0 p25lo p25hi p10lo p10hi id1 id2 sum AB``
with ``sum`` the low byte of the six data bytes' sum, values in 0.1 µg/m³. The
parser is pure and resynchronises on garbage: a bad candidate frame only skips
its first byte, so a real frame starting inside it is still found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import Field

from edge_agent.errors import AgentError
from edge_agent.sensors.types import DriverStats, Reading, SensorConfigBase

KEY = "sds011"
FRAME_LENGTH = 10
HEAD, DATA_CMD, REPLY_CMD, TAIL = 0xAA, 0xC0, 0xC5, 0xAB
COMMAND, SET_WORKING_PERIOD, WRITE = 0xB4, 0x08, 0x01
ALL_DEVICES = 0xFFFF


@dataclass(frozen=True, slots=True)
class Sds011Sample:
    pm25: float  # µg/m³
    pm10: float  # µg/m³
    device_id: int


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode_frame(pm25: float, pm10: float, device_id: int = 0xA1B2) -> bytes:
    """A valid data frame (for tests and simulators)."""
    p25, p10 = round(pm25 * 10), round(pm10 * 10)
    data = bytes([p25 & 0xFF, p25 >> 8, p10 & 0xFF, p10 >> 8, device_id >> 8, device_id & 0xFF])
    return bytes([HEAD, DATA_CMD]) + data + bytes([checksum(data), TAIL])


def encode_command(data: bytes, device_id: int = ALL_DEVICES) -> bytes:
    """A 19-byte host command: ``AA B4 d1..d13 idH idL sum AB`` (sum over d1..idL)."""
    if len(data) > 13:
        raise ValueError("an SDS011 command carries at most 13 data bytes")
    body = data.ljust(13, b"\x00") + bytes([device_id >> 8, device_id & 0xFF])
    return bytes([HEAD, COMMAND]) + body + bytes([checksum(body), TAIL])


def working_period_command(minutes: int) -> bytes:
    """Measure continuously (0) or once every 1–30 minutes, the fan sleeping in between."""
    if not 0 <= minutes <= 30:
        raise ValueError("SDS011 working period is 0 (continuous) to 30 minutes")
    return encode_command(bytes([SET_WORKING_PERIOD, WRITE, minutes]))


class Sds011Parser:
    """Feed bytes in any chunking; get every valid data frame out."""

    def __init__(self, stats: DriverStats | None = None) -> None:
        self.stats = stats or DriverStats()
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a possible frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Sds011Sample]:
        buf = self._buffer
        buf.extend(data)
        samples = []
        while buf:
            start = buf.find(HEAD)
            if start < 0:
                self.stats.skipped_bytes += len(buf)
                buf.clear()
                break
            if start > 0:
                self.stats.skipped_bytes += start
                del buf[:start]
            if len(buf) > 1 and buf[1] not in (DATA_CMD, REPLY_CMD):
                self.stats.skipped_bytes += 1
                del buf[:1]
                continue
            if len(buf) < FRAME_LENGTH:
                break
            frame = bytes(buf[:FRAME_LENGTH])
            if frame[9] != TAIL or checksum(frame[2:8]) != frame[8]:
                self.stats.bad_frames += 1
                self.stats.skipped_bytes += 1
                del buf[:1]
                continue
            del buf[:FRAME_LENGTH]
            if frame[1] == REPLY_CMD:
                continue  # an answer to a command, not a measurement
            self.stats.samples += 1
            samples.append(
                Sds011Sample(
                    pm25=(frame[2] | frame[3] << 8) / 10.0,
                    pm10=(frame[4] | frame[5] << 8) / 10.0,
                    device_id=frame[6] << 8 | frame[7],
                )
            )
        return samples


class ByteStream(Protocol):
    """The part of ``serial.Serial`` the driver uses."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def close(self) -> None: ...


class Sds011Config(SensorConfigBase):
    """An SDS011 on a serial port (in its default active reporting mode)."""

    type: Literal["sds011"] = Field(description="Driver key.")
    port: str = Field(default="/dev/ttyUSB0", description="Serial device.")
    baudrate: int = Field(default=9600, description="The sensor's fixed rate is 9600.")
    timeout_s: float = Field(default=2.0, gt=0.0, description="Wait per read for a frame.")
    working_period_min: int = Field(
        default=0,
        ge=0,
        le=30,
        description="0: measure every second; N: once every N minutes, fan off between (saves "
        "power and the laser's life).",
    )


class Sds011Driver:
    """Reads PM2.5/PM10 samples; corrupt frames are counted in ``stats`` and skipped."""

    def __init__(
        self,
        config: Sds011Config,
        stream: ByteStream,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.name = config.name
        self.stats = DriverStats()
        self._parser = Sds011Parser(self.stats)
        self._stream = stream
        self._clock = clock
        self._monotonic = monotonic
        if config.working_period_min:
            # The sensor keeps this setting across power cycles, so it is sent every start.
            stream.write(working_period_command(config.working_period_min))

    @classmethod
    def from_config(cls, config: Sds011Config) -> Sds011Driver:
        import serial

        try:
            port = serial.Serial(config.port, config.baudrate, timeout=0.5)
        except serial.SerialException as exc:
            raise AgentError(f"sensor {config.name}: cannot open {config.port}: {exc}") from exc
        return cls(config, port)

    def read(self) -> Sequence[Reading]:
        deadline = self._monotonic() + self.config.timeout_s
        while self._monotonic() < deadline:
            chunk = self._stream.read(FRAME_LENGTH)
            samples = self._parser.feed(chunk) if chunk else []
            if samples:
                # The sensor reports once a second; if several queued up, the newest wins.
                sample = samples[-1]
                now = self._clock()
                return [
                    Reading(f"{self.name}/pm25", "ug/m3", sample.pm25, now),
                    Reading(f"{self.name}/pm10", "ug/m3", sample.pm10, now),
                ]
        return []

    def close(self) -> None:
        self._stream.close()


CONFIG = Sds011Config
DRIVER = Sds011Driver
