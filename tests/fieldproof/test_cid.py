"""CIDv1 (raw, sha2-256, base32) against values IPFS itself prints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldproof.cid import CidError, cid_v1, digest_of, matches


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
        (b"hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
    ],
)
def test_known_vectors(data: bytes, expected: str) -> None:
    assert cid_v1(data) == expected
    assert matches(expected, data)


@given(st.binary(max_size=512))
def test_digest_round_trip(data: bytes) -> None:
    cid = cid_v1(data)
    assert cid == cid.lower()
    assert matches(cid, data)
    assert not matches(cid, data + b"x")
    assert len(digest_of(cid)) == 32


@pytest.mark.parametrize(
    "text",
    [
        "Qmbad",  # CIDv0 / base58: not what we make
        "b!!!!",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # dag-pb codec
    ],
)
def test_rejects_other_cids(text: str) -> None:
    with pytest.raises(CidError):
        digest_of(text)
