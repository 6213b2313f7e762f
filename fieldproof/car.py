"""CARv1 archives (IPLD Content Addressable aRchives), encoded locally.

A CARv1 is a varint-length-prefixed DAG-CBOR header ``{"roots": [cid], "version": 1}``
followed by one section per block: ``varint(len(cid) + len(block)) cid block``, with
CIDs in binary form. An epoch bundle is one raw block whose CID is the bundle's CID (the
one anchored on-chain), and the reports it references travel inside it; so its CAR
holds that single block under that root, and ``ipfs dag import`` stores and pins it as
is. Kubo refuses blocks over 1 MiB unless given ``--allow-big-block``: the bundle's CID
is already anchored, so a large bundle cannot be re-chunked into smaller blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from fieldproof.cid import cid_bytes, varint

CAR_VERSION = 1
CAR_MEDIA_TYPE = "application/vnd.ipld.car"
# CBOR tag 42 marks a CID in DAG-CBOR; its bytes start with the identity multibase (0x00).
_CID_TAG = 42
_IDENTITY_MULTIBASE = b"\x00"


def _cbor_head(major: int, length: int) -> bytes:
    """A CBOR item head in its shortest form, as DAG-CBOR requires."""
    if length < 24:
        return bytes([major << 5 | length])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | info]) + length.to_bytes(size, "big")
    raise ValueError("cbor: length too large")


def _cbor_text(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _cbor_head(3, len(raw)) + raw


def _cbor_cid(cid: bytes) -> bytes:
    link = _IDENTITY_MULTIBASE + cid
    return _cbor_head(6, _CID_TAG) + _cbor_head(2, len(link)) + link


def car_header(roots: Sequence[bytes]) -> bytes:
    """The DAG-CBOR header ``{"roots": [...], "version": 1}``, without its length prefix.

    DAG-CBOR sorts map keys by length, then bytewise: ``roots`` comes before ``version``.
    """
    body = _cbor_head(5, 2)
    body += _cbor_text("roots") + _cbor_head(4, len(roots)) + b"".join(map(_cbor_cid, roots))
    body += _cbor_text("version") + _cbor_head(0, CAR_VERSION)
    return body


def encode_car(roots: Sequence[bytes], blocks: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """The CARv1 bytes of ``blocks`` (binary CID, block bytes) under ``roots``, in pieces.

    The caller vouches that each CID names its block; :func:`raw_block` makes such pairs.
    """
    header = car_header(roots)
    yield varint(len(header)) + header
    for cid, block in blocks:
        yield varint(len(cid) + len(block)) + cid + block


def raw_block(data: bytes) -> tuple[bytes, bytes]:
    """``data`` as a raw block: its CIDv1 (raw codec, sha2-256) and its bytes."""
    return cid_bytes(data), data


def bundle_car(bundle_bytes: bytes) -> bytes:
    """The CARv1 of an epoch bundle: its one block, rooted at the bundle's CID."""
    cid, block = raw_block(bundle_bytes)
    return b"".join(encode_car([cid], [(cid, block)]))
