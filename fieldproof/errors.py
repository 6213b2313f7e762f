"""Error root of the shared core; every error raised by `fieldproof` derives from it."""

from __future__ import annotations


class FieldproofError(Exception):
    """Base of all errors raised by the shared core."""

    #: The command line's exit status for this error (1 unless a kind says otherwise).
    exit_code: int = 1


class FieldproofValueError(FieldproofError, ValueError):
    """A value handed to the core was not acceptable."""


class IdentityError(FieldproofError):
    """A key could not be created, loaded or used."""


class KeyPassphraseError(IdentityError):
    """The passphrase does not open the key file."""


class MerkleError(FieldproofValueError):
    """A Merkle tree, leaf or proof is malformed."""


class ConfigError(FieldproofValueError):
    """A configuration file is unreadable or invalid; the message names each key path."""


class BundleError(FieldproofValueError):
    """An epoch bundle is malformed or does not match its content identifier."""


class RewardValueError(FieldproofValueError):
    """A reward input (emission, owner, dump) is not acceptable."""
