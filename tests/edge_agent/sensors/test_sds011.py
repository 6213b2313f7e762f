from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.sensors.sds011 import (
    Sds011Config,
    Sds011Driver,
    Sds011Parser,
    checksum,
    encode_command,
    encode_frame,
    working_period_command,
)

# A frame as the sensor sends it: PM2.5 = 0x0017/10 = 2.3, PM10 = 0x0042/10 = 6.6, id 0xA1B2.
CAPTURED = bytes.fromhex("AA C0 17 00 42 00 A1 B2 AC AB".replace(" ", ""))


def test_captured_frame_decodes() -> None:
    assert checksum(CAPTURED[2:8]) == CAPTURED[8]
    (sample,) = Sds011Parser().feed(CAPTURED)
    assert (sample.pm25, sample.pm10, sample.device_id) == (2.3, 6.6, 0xA1B2)
    assert encode_frame(2.3, 6.6) == CAPTURED


def test_large_values_use_both_bytes() -> None:
    (sample,) = Sds011Parser().feed(encode_frame(999.9, 1999.9))
    assert (sample.pm25, sample.pm10) == (999.9, 1999.9)


def test_bad_checksum_is_counted_and_skipped() -> None:
    corrupt = bytearray(encode_frame(10.0, 20.0))
    corrupt[8] ^= 0x01
    parser = Sds011Parser()
    samples = parser.feed(bytes(corrupt) + encode_frame(11.0, 21.0))
    assert [(s.pm25, s.pm10) for s in samples] == [(11.0, 21.0)]
    assert parser.stats.bad_frames == 1
    assert parser.stats.samples == 1


def test_bad_tail_is_counted_and_skipped() -> None:
    corrupt = bytearray(encode_frame(10.0, 20.0))
    corrupt[9] = 0x00
    parser = Sds011Parser()
    assert [s.pm25 for s in parser.feed(bytes(corrupt) + encode_frame(12.0, 22.0))] == [12.0]
    assert parser.stats.bad_frames == 1


def test_resyncs_after_garbage_and_a_truncated_frame() -> None:
    parser = Sds011Parser()
    stream = b"\x00\xff\x13" + encode_frame(5.0, 7.0)[:6] + encode_frame(8.0, 9.0) + b"\xaa"
    samples = parser.feed(stream)
    assert [(s.pm25, s.pm10) for s in samples] == [(8.0, 9.0)]
    assert parser.pending == 1  # the trailing 0xAA may start the next frame
    assert parser.stats.skipped_bytes >= 3


def test_command_replies_are_not_measurements() -> None:
    data = bytes([0x02, 0x01, 0x00, 0x00, 0xA1, 0xB2])
    reply = bytes([0xAA, 0xC5, *data, checksum(data), 0xAB])
    parser = Sds011Parser()
    assert parser.feed(reply + encode_frame(1.0, 2.0))[0].pm25 == 1.0
    assert parser.stats.bad_frames == 0


def test_byte_at_a_time() -> None:
    parser = Sds011Parser()
    stream = encode_frame(3.0, 4.0) * 3
    samples = [s for byte in stream for s in parser.feed(bytes([byte]))]
    assert len(samples) == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parser_never_crashes_on_random_bytes(data: bytes) -> None:
    parser = Sds011Parser()
    samples = parser.feed(data)
    stats = parser.stats
    # Every byte is accounted for: part of a frame, skipped, or still pending.
    consumed = 10 * stats.samples + stats.skipped_bytes + parser.pending
    assert consumed <= len(data)
    assert len(samples) == stats.samples
    assert parser.pending < 10


garbage = st.binary(max_size=30).map(lambda b: b.replace(b"\xaa", b"\x00"))
readings = st.tuples(st.integers(0, 9999), st.integers(0, 9999))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(garbage, readings), max_size=10), st.data())
def test_every_frame_is_found_in_any_chunking(
    parts: list[tuple[bytes, tuple[int, int]]], data: st.DataObject
) -> None:
    stream = b"".join(g + encode_frame(a / 10, b / 10) for g, (a, b) in parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[i:j] for i, j in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    parser = Sds011Parser()
    samples = [s for chunk in chunks for s in parser.feed(chunk)]
    assert [(round(s.pm25 * 10), round(s.pm10 * 10)) for s in samples] == [r for _, r in parts]
    assert parser.stats.bad_frames == 0


class FakeSerial:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.closed = False
        self.written = b""

    def write(self, data: bytes, /) -> int:
        self.written += data
        return len(data)

    def read(self, size: int = 1) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def close(self) -> None:
        self.closed = True


def test_driver_reads_named_readings_with_units() -> None:
    corrupt = bytearray(encode_frame(1.0, 1.0))
    corrupt[8] ^= 0xFF
    port = FakeSerial(b"\x01\x02" + bytes(corrupt) + encode_frame(12.5, 30.1))
    cfg = Sds011Config(name="pm", type="sds011", timeout_s=0.5)
    driver = Sds011Driver(cfg, port, clock=lambda: 1700000000.0)
    readings = driver.read()
    assert [(r.name, r.unit, r.value) for r in readings] == [
        ("pm/pm25", "ug/m3", 12.5),
        ("pm/pm10", "ug/m3", 30.1),
    ]
    assert driver.stats.bad_frames == 1
    assert readings[0].to_record().unit == "ug/m3"
    assert driver.read() == []  # nothing more arrives within the timeout
    driver.close()
    assert port.closed


def test_missing_port_is_an_agent_error() -> None:
    from edge_agent.errors import AgentError

    with pytest.raises(AgentError, match="/dev/does-not-exist"):
        Sds011Driver.from_config(Sds011Config(name="pm", type="sds011", port="/dev/does-not-exist"))


def test_command_frames() -> None:
    # Control protocol V1.3 commands as published: firmware version query, passive mode.
    assert encode_command(bytes([0x07])) == bytes.fromhex("AAB407" + "00" * 12 + "FFFF05AB")
    assert encode_command(bytes([0x02, 0x01, 0x01])) == bytes.fromhex(
        "AAB4020101" + "00" * 10 + "FFFF02AB"
    )
    # Set working period to 1 minute: 08 01 01, checksum 0x08+0x01+0x01+0xFF+0xFF = 0x208.
    assert working_period_command(1) == bytes.fromhex("AAB4080101" + "00" * 10 + "FFFF08AB")
    with pytest.raises(ValueError, match="30 minutes"):
        working_period_command(31)


def test_driver_sets_working_period_at_start() -> None:
    port = FakeSerial(encode_frame(4.0, 5.0))
    cfg = Sds011Config(name="pm", type="sds011", working_period_min=5)
    driver = Sds011Driver(cfg, port)
    assert port.written == working_period_command(5)
    assert [r.value for r in driver.read()] == [4.0, 5.0]
    assert Sds011Driver(Sds011Config(name="pm", type="sds011"), FakeSerial(b"")) is not None
