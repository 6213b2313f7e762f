"""Where a transaction key comes from: ``keystore:PATH`` or ``env:VARNAME``.

* ``keystore:PATH`` — an Ethereum (web3 secret storage) keystore file; its passphrase
  comes from ``FIELDPROOF_KEYSTORE_PASSPHRASE``, else from the terminal;
* ``env:VARNAME`` — a hex private key in that environment variable (containers, CI).

No message raised here contains key material.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from fieldproof.chain.errors import ChainValueError

KEYSTORE_PASSPHRASE_ENV = "FIELDPROOF_KEYSTORE_PASSPHRASE"


def _from_env(name: str) -> LocalAccount:
    value = os.environ.get(name)
    if not value:
        raise ChainValueError(f"key source env:{name}: the variable is not set or empty")
    try:
        account: LocalAccount = Account.from_key(value.strip())
    except Exception:
        # The message of the underlying error could echo the value: leave it out.
        raise ChainValueError(f"key source env:{name}: not a hex private key") from None
    return account


def _keystore_passphrase(path: Path) -> str:
    value = os.environ.get(KEYSTORE_PASSPHRASE_ENV)
    if value is not None:
        return value
    return getpass.getpass(f"Passphrase for keystore {path}: ")


def _from_keystore(path: Path) -> LocalAccount:
    try:
        keyfile = json.loads(path.read_text())
    except OSError as exc:
        raise ChainValueError(f"key source keystore:{path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ChainValueError(f"key source keystore:{path}: not JSON ({exc})") from exc
    passphrase = _keystore_passphrase(path)
    try:
        private_key = Account.decrypt(keyfile, passphrase)
    except ValueError as exc:
        raise ChainValueError(
            f"key source keystore:{path}: cannot decrypt (wrong passphrase in "
            f"{KEYSTORE_PASSPHRASE_ENV}?)"
        ) from exc
    except (KeyError, TypeError) as exc:
        raise ChainValueError(f"key source keystore:{path}: not a keystore file") from exc
    account: LocalAccount = Account.from_key(private_key)
    return account


KINDS = ("keystore", "env")


def parse_key_source(source: str) -> tuple[str, str]:
    """``(kind, rest)`` of a key source string; ChainValueError if it is not one."""
    kind, sep, rest = source.partition(":")
    if not sep or not rest:
        raise ChainValueError(f"key source {source!r}: expected keystore:PATH or env:VARNAME")
    if kind not in KINDS:
        raise ChainValueError(f"key source {source!r}: unknown kind {kind!r} (keystore or env)")
    return kind, rest


def load_account(source: str) -> LocalAccount:
    """The account named by a key source string (see the module docstring)."""
    kind, rest = parse_key_source(source)
    if kind == "env":
        return _from_env(rest)
    return _from_keystore(Path(rest).expanduser())
