"""CARv1 files as the IPLD project's own reader (JS ``@ipld/car``) reads them."""

from __future__ import annotations

from pathlib import Path

from fieldproof.bundle import build_bundle, encode_bundle
from fieldproof.car import bundle_car, car_header, encode_car, raw_block
from fieldproof.cid import cid_v1, varint
from tests.aggregator.anchoring.reports import KEYS, signed
from tests.fieldproof.ipld_car import read_cars

SHA2_256 = 0x12


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_varint_matches_the_multiformats_examples() -> None:
    # The unsigned-varint specification's own examples.
    assert varint(1) == b"\x01"
    assert varint(127) == b"\x7f"
    assert varint(128) == b"\x80\x01"
    assert varint(255) == b"\xff\x01"
    assert varint(300) == b"\xac\x02"
    assert varint(16384) == b"\x80\x80\x01"


def test_header_is_the_dag_cbor_of_roots_and_version() -> None:
    cid, _ = raw_block(b"x")
    header = car_header([cid])
    # map(2), "roots", array(1), tag 42, bytes(37) 0x00 + cid, "version", 1
    assert header == (b"\xa2\x65roots\x81\xd8\x2a\x58\x25\x00" + cid + b"\x67version\x01")


def test_the_reference_reader_finds_the_same_roots_and_blocks(tmp_path: Path) -> None:
    # Sizes around the one-byte varint boundary and a block of several kilobytes.
    payloads = [b"", b"a", b"b" * 90, b"c" * 91, b"d" * 200, bytes(range(256)) * 40]
    blocks = [raw_block(p) for p in payloads]
    roots = [blocks[1][0], blocks[4][0]]
    path = _write(tmp_path / "many.car", b"".join(encode_car(roots, blocks)))
    (read,) = read_cars([path])
    assert read.version == 1
    assert read.roots == [cid_v1(payloads[1]), cid_v1(payloads[4])]
    assert [b.cid for b in read.blocks] == [cid_v1(p) for p in payloads]
    assert [b.data for b in read.blocks] == payloads
    for block in read.blocks:
        assert block.hash_code == SHA2_256
        assert block.rehashed == block.cid


def test_a_bundle_car_is_rooted_at_the_bundle_cid(tmp_path: Path) -> None:
    bundle = build_bundle(4, 0, 600, [signed(KEYS[i % 3], i, 60 * i) for i in range(6)])
    data = encode_bundle(bundle)
    path = _write(tmp_path / "bundle.car", bundle_car(data))
    (read,) = read_cars([path])
    assert read.roots == [cid_v1(data)]
    assert len(read.blocks) == 1
    assert read.blocks[0].cid == read.blocks[0].rehashed == cid_v1(data)
    assert read.blocks[0].data == data


def test_a_changed_block_no_longer_hashes_to_its_cid(tmp_path: Path) -> None:
    # The check above can fail: the reader reports the CID as written, the rehash differs.
    data = b'{"epoch":1}'
    car = bytearray(bundle_car(data))
    car[-2] ^= 0x01
    (read,) = read_cars([_write(tmp_path / "bad.car", bytes(car))])
    assert read.blocks[0].cid == cid_v1(data)
    assert read.blocks[0].rehashed != read.blocks[0].cid
