"""Key sources: env:VAR and keystore:PATH, never echoing key material."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from fieldproof.chain.errors import ChainValueError
from fieldproof.chain.keysource import KEYSTORE_PASSPHRASE_ENV, load_account

KEY = "0x" + "4c" * 32


def test_env_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FP_TEST_KEY", KEY)
    assert load_account("env:FP_TEST_KEY").address == Account.from_key(KEY).address


def test_env_source_unset_or_bad(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FP_TEST_KEY", raising=False)
    with pytest.raises(ChainValueError, match="not set"):
        load_account("env:FP_TEST_KEY")
    monkeypatch.setenv("FP_TEST_KEY", "0xnotakey" + "4c" * 20)
    with pytest.raises(ChainValueError, match="not a hex private key") as excinfo:
        load_account("env:FP_TEST_KEY")
    assert "4c4c" not in str(excinfo.value)


def test_keystore_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keystore = tmp_path / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(KEY, "correct horse", iterations=2)))
    monkeypatch.setenv(KEYSTORE_PASSPHRASE_ENV, "correct horse")
    assert load_account(f"keystore:{keystore}").address == Account.from_key(KEY).address
    monkeypatch.setenv(KEYSTORE_PASSPHRASE_ENV, "wrong")
    with pytest.raises(ChainValueError, match="cannot decrypt") as excinfo:
        load_account(f"keystore:{keystore}")
    assert KEY[2:] not in str(excinfo.value)


def test_keystore_problems_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEYSTORE_PASSPHRASE_ENV, "x")
    with pytest.raises(ChainValueError, match="keystore:"):
        load_account(f"keystore:{tmp_path / 'missing.json'}")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ChainValueError, match="not JSON"):
        load_account(f"keystore:{tmp_path / 'bad.json'}")


@pytest.mark.parametrize("source", ["", "env:", "file:/x", KEY])
def test_malformed_sources(source: str) -> None:
    with pytest.raises(ChainValueError, match="key source") as excinfo:
        load_account(source)
    if source == KEY:
        # A raw key pasted in the wrong place must not end up in logs either.
        assert "unknown kind" in str(excinfo.value) or "expected" in str(excinfo.value)
