"""Bosch BME280 temperature, humidity and pressure sensor over I2C.

Compensation uses the datasheet's integer formulas (BME280 datasheet §4.2.3:
32-bit temperature and humidity, 64-bit pressure), with C's truncating division
and arithmetic shifts reproduced exactly. The bus is any object with the three
SMBus calls used here, so ``smbus2.SMBus`` drives real hardware and tests use a
register map.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import Field

from edge_agent.errors import AgentError
from edge_agent.sensors.types import DriverStats, Reading, SensorConfigBase

KEY = "bme280"

CHIP_ID_REGISTER, CHIP_ID = 0xD0, 0x60
CALIB_00, CALIB_00_LENGTH = 0x88, 26  # 0x88..0xA1
CALIB_26, CALIB_26_LENGTH = 0xE1, 7  # 0xE1..0xE7
CTRL_HUM, STATUS, CTRL_MEAS, DATA, DATA_LENGTH = 0xF2, 0xF3, 0xF4, 0xF7, 8
STATUS_MEASURING = 0x08
FORCED_MODE = 0b01
# Raw values the chip reports for a measurement that was skipped or not finished.
SKIPPED_20BIT, SKIPPED_16BIT = 0x80000, 0x8000
_OVERSAMPLING = {1: 1, 2: 2, 4: 3, 8: 4, 16: 5}


class I2CBus(Protocol):
    """The SMBus calls the driver needs (``smbus2.SMBus`` has them)."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...


def _u16(data: Sequence[int], i: int) -> int:
    return data[i] | data[i + 1] << 8


def _s16(data: Sequence[int], i: int) -> int:
    value = _u16(data, i)
    return value - 0x10000 if value & 0x8000 else value


def _s8(value: int) -> int:
    return value - 0x100 if value & 0x80 else value


def _cdiv(a: int, b: int) -> int:
    """C integer division: truncates toward zero (Python's ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@dataclass(frozen=True, slots=True)
class Calibration:
    """Trimming parameters from registers 0x88..0xA1 and 0xE1..0xE7."""

    t1: int
    t2: int
    t3: int
    p1: int
    p2: int
    p3: int
    p4: int
    p5: int
    p6: int
    p7: int
    p8: int
    p9: int
    h1: int
    h2: int
    h3: int
    h4: int
    h5: int
    h6: int

    @classmethod
    def parse(cls, block_88: Sequence[int], block_e1: Sequence[int]) -> Calibration:
        if len(block_88) != CALIB_00_LENGTH or len(block_e1) != CALIB_26_LENGTH:
            raise AgentError(
                f"BME280 calibration: expected {CALIB_00_LENGTH} + {CALIB_26_LENGTH} bytes, "
                f"got {len(block_88)} + {len(block_e1)}"
            )
        a, e = block_88, block_e1
        return cls(
            t1=_u16(a, 0),
            t2=_s16(a, 2),
            t3=_s16(a, 4),
            p1=_u16(a, 6),
            p2=_s16(a, 8),
            p3=_s16(a, 10),
            p4=_s16(a, 12),
            p5=_s16(a, 14),
            p6=_s16(a, 16),
            p7=_s16(a, 18),
            p8=_s16(a, 20),
            p9=_s16(a, 22),
            h1=a[25],  # 0xA1; 0xA0 is unused
            h2=_s16(e, 0),
            h3=e[2],
            # dig_H4/H5 share 0xE5: H4 = E4[7:0] << 4 | E5[3:0], H5 = E6[7:0] << 4 | E5[7:4].
            h4=_s8(e[3]) << 4 | (e[4] & 0x0F),
            h5=_s8(e[5]) << 4 | (e[4] >> 4),
            h6=_s8(e[6]),
        )


def t_fine(cal: Calibration, adc_t: int) -> int:
    var1 = (((adc_t >> 3) - (cal.t1 << 1)) * cal.t2) >> 11
    var2 = (((((adc_t >> 4) - cal.t1) * ((adc_t >> 4) - cal.t1)) >> 12) * cal.t3) >> 14
    return var1 + var2


def compensate_temperature(fine: int) -> int:
    """Temperature in 0.01 °C."""
    return (fine * 5 + 128) >> 8


def compensate_pressure(cal: Calibration, fine: int, adc_p: int) -> int | None:
    """Pressure in Pa as Q24.8 (divide by 256); None where the formula would divide by 0."""
    var1 = fine - 128000
    var2 = var1 * var1 * cal.p6
    var2 = var2 + ((var1 * cal.p5) << 17)
    var2 = var2 + (cal.p4 << 35)
    var1 = ((var1 * var1 * cal.p3) >> 8) + ((var1 * cal.p2) << 12)
    var1 = (((1 << 47) + var1) * cal.p1) >> 33
    if var1 == 0:
        return None
    p = 1048576 - adc_p
    p = _cdiv(((p << 31) - var2) * 3125, var1)
    var1 = (cal.p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (cal.p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (cal.p7 << 4)


def compensate_humidity(cal: Calibration, fine: int, adc_h: int) -> int:
    """Relative humidity in %RH as Q22.10 (divide by 1024)."""
    v = fine - 76800
    v = ((((adc_h << 14) - (cal.h4 << 20) - (cal.h5 * v)) + 16384) >> 15) * (
        (
            ((((((v * cal.h6) >> 10) * (((v * cal.h3) >> 11) + 32768)) >> 10) + 2097152) * cal.h2)
            + 8192
        )
        >> 14
    )
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * cal.h1) >> 4)
    v = max(0, min(v, 419430400))
    return v >> 12


@dataclass(frozen=True, slots=True)
class Bme280Sample:
    temperature: float  # °C
    humidity: float  # %RH
    pressure: float  # Pa


def compensate(cal: Calibration, raw: Sequence[int]) -> Bme280Sample | None:
    """Turn the 8 data bytes from 0xF7 into a sample; None if a channel was not measured."""
    adc_p = raw[0] << 12 | raw[1] << 4 | raw[2] >> 4
    adc_t = raw[3] << 12 | raw[4] << 4 | raw[5] >> 4
    adc_h = raw[6] << 8 | raw[7]
    if SKIPPED_20BIT in (adc_p, adc_t) or adc_h == SKIPPED_16BIT:
        return None
    fine = t_fine(cal, adc_t)
    pressure = compensate_pressure(cal, fine, adc_p)
    if pressure is None:
        return None
    return Bme280Sample(
        temperature=compensate_temperature(fine) / 100.0,
        humidity=compensate_humidity(cal, fine, adc_h) / 1024.0,
        pressure=pressure / 256.0,
    )


class Bme280Config(SensorConfigBase):
    """A BME280 on an I2C bus, read in forced mode (sleeps between samples)."""

    type: Literal["bme280"] = Field(description="Driver key.")
    bus: int = Field(default=1, ge=0, description="I2C bus number (/dev/i2c-N).")
    address: Literal[0x76, 0x77] = Field(default=0x76, description="0x76 (SDO low) or 0x77.")
    oversampling: Literal[1, 2, 4, 8, 16] = Field(
        default=1, description="Oversampling of all three channels."
    )
    timeout_s: float = Field(default=0.5, gt=0.0, description="Longest wait for a measurement.")


class Bme280Driver:
    """Reads temperature (Cel), humidity (%RH) and pressure (Pa)."""

    def __init__(
        self,
        config: Bme280Config,
        bus: I2CBus,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.name = config.name
        self.stats = DriverStats()
        self._bus = bus
        self._clock = clock
        self._sleep = sleep
        address = config.address
        try:
            chip = bus.read_byte_data(address, CHIP_ID_REGISTER)
            if chip != CHIP_ID:
                raise AgentError(
                    f"sensor {config.name}: chip id 0x{chip:02x} at 0x{address:02x} is not a "
                    f"BME280 (0x{CHIP_ID:02x})"
                )
            self.calibration = Calibration.parse(
                bus.read_i2c_block_data(address, CALIB_00, CALIB_00_LENGTH),
                bus.read_i2c_block_data(address, CALIB_26, CALIB_26_LENGTH),
            )
        except OSError as exc:
            raise AgentError(f"sensor {config.name}: I2C error at start-up: {exc}") from exc

    @classmethod
    def from_config(cls, config: Bme280Config) -> Bme280Driver:
        from smbus2 import SMBus

        try:
            bus = SMBus(config.bus)
        except OSError as exc:
            raise AgentError(f"sensor {config.name}: cannot open I2C bus {config.bus}") from exc
        return cls(config, bus)

    def read(self) -> Sequence[Reading]:
        address, osrs = self.config.address, _OVERSAMPLING[self.config.oversampling]
        try:
            # ctrl_hum only takes effect on the following write to ctrl_meas.
            self._bus.write_byte_data(address, CTRL_HUM, osrs)
            self._bus.write_byte_data(address, CTRL_MEAS, osrs << 5 | osrs << 2 | FORCED_MODE)
            waited = 0.0
            while self._bus.read_byte_data(address, STATUS) & STATUS_MEASURING:
                if waited >= self.config.timeout_s:
                    self.stats.errors += 1
                    return []
                self._sleep(0.005)
                waited += 0.005
            raw = self._bus.read_i2c_block_data(address, DATA, DATA_LENGTH)
        except OSError:
            # A glitch on the bus costs one sample, not the agent.
            self.stats.errors += 1
            return []
        sample = compensate(self.calibration, raw)
        if sample is None:
            self.stats.bad_frames += 1
            return []
        self.stats.samples += 1
        now = self._clock()
        return [
            Reading(f"{self.name}/temp", "Cel", sample.temperature, now),
            Reading(f"{self.name}/rh", "%RH", sample.humidity, now),
            Reading(f"{self.name}/pres", "Pa", sample.pressure, now),
        ]

    def close(self) -> None:
        close = getattr(self._bus, "close", None)
        if callable(close):
            close()


CONFIG = Bme280Config
DRIVER = Bme280Driver
