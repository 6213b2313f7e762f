"""A byte-level BME280 register map behind the I2C bus interface."""

from __future__ import annotations

import struct

# BMP280/BME280 datasheet worked example (BMP280 datasheet §3.12, same T/P formulas).
DATASHEET_T = {"t1": 27504, "t2": 26435, "t3": -1000}
DATASHEET_P = {
    "p1": 36477, "p2": -10685, "p3": 3024, "p4": 2855, "p5": 140,
    "p6": -7, "p7": 15500, "p8": -14600, "p9": 6000,
}  # fmt: skip
# The datasheet gives no humidity example; these are values read from a BME280 part.
PART_H = {"h1": 75, "h2": 362, "h3": 0, "h4": 313, "h5": 50, "h6": 30}
ADC_T, ADC_P = 519888, 415148


def calibration_bytes(cal: dict[str, int]) -> tuple[bytes, bytes]:
    """Registers 0x88..0xA1 and 0xE1..0xE7 holding ``cal`` as the chip stores it."""
    block_88 = struct.pack(
        "<HhhHhhhhhhhhBB",
        cal["t1"], cal["t2"], cal["t3"],
        cal["p1"], cal["p2"], cal["p3"], cal["p4"], cal["p5"],
        cal["p6"], cal["p7"], cal["p8"], cal["p9"],
        0, cal["h1"],
    )  # fmt: skip
    h4, h5 = cal["h4"], cal["h5"]
    block_e1 = struct.pack("<hB", cal["h2"], cal["h3"]) + bytes(
        [(h4 >> 4) & 0xFF, (h4 & 0x0F) | ((h5 & 0x0F) << 4), (h5 >> 4) & 0xFF, cal["h6"] & 0xFF]
    )
    return block_88, block_e1


def data_bytes(adc_p: int, adc_t: int, adc_h: int) -> bytes:
    return bytes(
        [
            adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0x0F) << 4,
            adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4,
            adc_h >> 8, adc_h & 0xFF,
        ]
    )  # fmt: skip


class FakeBme280Bus:
    """256 registers; a forced-mode write to ctrl_meas runs a 'measurement'."""

    def __init__(
        self,
        cal: dict[str, int],
        raw: tuple[int, int, int],
        *,
        address: int = 0x76,
        chip_id: int = 0x60,
        busy_polls: int = 2,
    ) -> None:
        self.address = address
        self.registers = bytearray(256)
        self.registers[0xD0] = chip_id
        block_88, block_e1 = calibration_bytes(cal)
        self.registers[0x88 : 0x88 + 26] = block_88
        self.registers[0xE1 : 0xE1 + 7] = block_e1
        self.raw = raw
        self.busy_polls = busy_polls
        self._busy = 0
        self.writes: list[tuple[int, int]] = []
        self.fail_next_read = False

    def _check(self, i2c_addr: int) -> None:
        if i2c_addr != self.address:
            raise OSError(121, "Remote I/O error")  # no ACK, as Linux reports it

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        self._check(i2c_addr)
        if register == 0xF3:
            self._busy = max(0, self._busy - 1)
            return 0x08 if self._busy else 0x00
        return self.registers[register]

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        self._check(i2c_addr)
        if self.fail_next_read:
            self.fail_next_read = False
            raise OSError(5, "Input/output error")
        return list(self.registers[register : register + length])

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._check(i2c_addr)
        self.writes.append((register, value))
        self.registers[register] = value
        if register == 0xF4 and value & 0b11 == 0b01:
            self._busy = self.busy_polls + 1
            self.registers[0xF7:0xFF] = data_bytes(*self.raw)
