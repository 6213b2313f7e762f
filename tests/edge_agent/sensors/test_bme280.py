from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.errors import AgentError
from edge_agent.sensors.bme280 import (
    Bme280Config,
    Bme280Driver,
    Calibration,
    compensate_humidity,
    compensate_pressure,
    compensate_temperature,
    t_fine,
)
from tests.edge_agent.sensors.fake_bme280 import (
    ADC_P,
    ADC_T,
    DATASHEET_P,
    DATASHEET_T,
    PART_H,
    FakeBme280Bus,
    calibration_bytes,
)

CAL = {**DATASHEET_T, **DATASHEET_P, **PART_H}


def parsed(cal: dict[str, int]) -> Calibration:
    return Calibration.parse(*(list(b) for b in calibration_bytes(cal)))


def float_temperature(c: Calibration, adc_t: int) -> tuple[float, float]:
    """Datasheet §8.1 floating-point formula: (t_fine, °C)."""
    var1 = (adc_t / 16384.0 - c.t1 / 1024.0) * c.t2
    var2 = ((adc_t / 131072.0 - c.t1 / 8192.0) ** 2) * c.t3
    return var1 + var2, (var1 + var2) / 5120.0


def float_pressure(c: Calibration, fine: float, adc_p: int) -> float:
    var1 = fine / 2.0 - 64000.0
    var2 = var1 * var1 * c.p6 / 32768.0
    var2 = var2 + var1 * c.p5 * 2.0
    var2 = var2 / 4.0 + c.p4 * 65536.0
    var1 = (c.p3 * var1 * var1 / 524288.0 + c.p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * c.p1
    p = 1048576.0 - adc_p
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = c.p9 * p * p / 2147483648.0
    var2 = p * c.p8 / 32768.0
    return p + (var1 + var2 + c.p7) / 16.0


def float_humidity(c: Calibration, fine: float, adc_h: int) -> float:
    h = fine - 76800.0
    h = (adc_h - (c.h4 * 64.0 + c.h5 / 16384.0 * h)) * (
        c.h2 / 65536.0 * (1.0 + c.h6 / 67108864.0 * h * (1.0 + c.h3 / 67108864.0 * h))
    )
    h = h * (1.0 - c.h1 * h / 524288.0)
    return min(100.0, max(0.0, h))


def test_calibration_registers_round_trip() -> None:
    cal = parsed(CAL)
    assert (cal.t1, cal.t2, cal.t3) == (27504, 26435, -1000)
    assert (cal.p1, cal.p2, cal.p8, cal.p9) == (36477, -10685, -14600, 6000)
    assert (cal.h1, cal.h2, cal.h3, cal.h4, cal.h5, cal.h6) == (75, 362, 0, 313, 50, 30)


def test_negative_h4_h5_h6_nibble_packing() -> None:
    cal = parsed({**CAL, "h4": -300, "h5": -17, "h6": -5})
    assert (cal.h4, cal.h5, cal.h6) == (-300, -17, -5)


def test_datasheet_worked_example() -> None:
    cal = parsed(CAL)
    fine = t_fine(cal, ADC_T)
    assert fine == 128422  # datasheet: t_fine = 128422
    assert compensate_temperature(fine) == 2508  # 25.08 °C
    pressure = compensate_pressure(cal, fine, ADC_P)
    assert pressure is not None
    assert pressure / 256.0 == pytest.approx(100653.27, abs=0.05)  # datasheet: 100653.27 Pa


@settings(max_examples=200, deadline=None)
@given(adc_t=st.integers(400_000, 600_000), adc_p=st.integers(250_000, 500_000))
def test_integer_formulas_agree_with_the_float_ones(adc_t: int, adc_p: int) -> None:
    cal = parsed(CAL)
    fine = t_fine(cal, adc_t)
    ffine, celsius = float_temperature(cal, adc_t)
    assert compensate_temperature(fine) / 100.0 == pytest.approx(celsius, abs=0.011)
    pressure = compensate_pressure(cal, fine, adc_p)
    assert pressure is not None
    assert pressure / 256.0 == pytest.approx(float_pressure(cal, ffine, adc_p), abs=1.0)


@settings(max_examples=200, deadline=None)
@given(adc_t=st.integers(450_000, 560_000), adc_h=st.integers(20_000, 40_000))
def test_integer_humidity_agrees_with_the_float_formula(adc_t: int, adc_h: int) -> None:
    cal = parsed(CAL)
    fine = t_fine(cal, adc_t)
    ffine, _ = float_temperature(cal, adc_t)
    rh = compensate_humidity(cal, fine, adc_h) / 1024.0
    assert 0.0 <= rh <= 100.0
    assert rh == pytest.approx(float_humidity(cal, ffine, adc_h), abs=0.05)


def config(**kw: object) -> Bme280Config:
    return Bme280Config.model_validate({"name": "env", "type": "bme280", **kw})


def test_driver_forced_measurement_over_the_bus() -> None:
    bus = FakeBme280Bus(CAL, (ADC_P, ADC_T, 30_000))
    driver = Bme280Driver(config(oversampling=2), bus, clock=lambda: 1.7e9, sleep=lambda s: None)
    readings = {r.name: r for r in driver.read()}
    assert readings["env/temp"].value == 25.08
    assert readings["env/temp"].unit == "Cel"
    assert readings["env/pres"].unit == "Pa"
    assert readings["env/pres"].value == pytest.approx(100653.27, abs=0.05)
    assert readings["env/rh"].unit == "%RH"
    fine = float_temperature(parsed(CAL), ADC_T)[0]
    assert readings["env/rh"].value == pytest.approx(
        float_humidity(parsed(CAL), fine, 30_000), abs=0.05
    )
    # ctrl_hum before ctrl_meas (it only latches on the ctrl_meas write), forced mode, x2.
    assert bus.writes == [(0xF2, 0b010), (0xF4, 0b010_010_01)]
    assert driver.stats.samples == 1


def test_bus_glitch_and_skipped_channel_cost_one_sample() -> None:
    bus = FakeBme280Bus(CAL, (ADC_P, ADC_T, 30_000))
    driver = Bme280Driver(config(), bus, sleep=lambda s: None)
    bus.fail_next_read = True
    assert driver.read() == []
    assert driver.stats.errors == 1
    bus.raw = (0x80000, ADC_T, 30_000)  # pressure channel skipped
    assert driver.read() == []
    assert driver.stats.bad_frames == 1
    bus.raw = (ADC_P, ADC_T, 30_000)
    assert len(driver.read()) == 3


def test_stuck_measurement_times_out() -> None:
    bus = FakeBme280Bus(CAL, (ADC_P, ADC_T, 30_000), busy_polls=10_000)
    driver = Bme280Driver(config(timeout_s=0.05), bus, sleep=lambda s: None)
    assert driver.read() == []
    assert driver.stats.errors == 1


def test_wrong_chip_or_address_is_refused() -> None:
    with pytest.raises(AgentError, match="chip id 0x58"):
        Bme280Driver(config(), FakeBme280Bus(CAL, (0, 0, 0), chip_id=0x58))
    with pytest.raises(AgentError, match="I2C error"):
        Bme280Driver(config(address=0x77), FakeBme280Bus(CAL, (0, 0, 0)))
