"""Contract bindings: committed artifacts, chain backends by URL, a nonce-keeping sender,
deployment, typed contract wrappers and the device proof of possession.

Heavy imports (web3) live in the submodules; importing this package stays cheap.
"""

from __future__ import annotations

from fieldproof.chain.errors import ChainError, ChainRevertError, ChainValueError

__all__ = ["ChainError", "ChainRevertError", "ChainValueError"]
