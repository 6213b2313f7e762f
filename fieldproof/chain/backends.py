"""Chain backends chosen by URL scheme.

* ``eth-tester://`` — an in-process py-evm chain (ephemeral; prefunded test accounts);
* ``http://``, ``https://`` — any JSON-RPC node (anvil, a testnet, mainnet).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from web3 import Web3

from fieldproof.chain.errors import ChainError, ChainValueError

ETH_TESTER_SCHEME = "eth-tester"
HTTP_TIMEOUT_S = 30.0


def _eth_tester(url: str) -> Web3:
    from web3 import EthereumTesterProvider

    return Web3(EthereumTesterProvider())


def _http(url: str) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": HTTP_TIMEOUT_S}))


BACKENDS: dict[str, Callable[[str], Web3]] = {
    ETH_TESTER_SCHEME: _eth_tester,
    "http": _http,
    "https": _http,
}


def connect(url: str, *, check: bool = True) -> Web3:
    """A :class:`Web3` for ``url``; with ``check``, fails unless the node answers."""
    scheme = urlsplit(url).scheme
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise ChainValueError(f"chain URL {url!r}: unknown scheme {scheme!r} (known: {known})")
    w3 = factory(url)
    if check:
        try:
            w3.eth.chain_id  # noqa: B018  (a cheap round trip proves the node answers)
        except Exception as exc:
            raise ChainError(f"chain URL {url!r}: node does not answer ({exc})") from exc
    return w3


def is_eth_tester(w3: Web3) -> bool:
    from web3 import EthereumTesterProvider

    return isinstance(w3.provider, EthereumTesterProvider)


def prefunded_keys(w3: Web3) -> list[bytes]:
    """Private keys of the in-process chain's prefunded accounts."""
    from web3 import EthereumTesterProvider

    provider = w3.provider
    if not isinstance(provider, EthereumTesterProvider):
        raise ChainValueError("prefunded test accounts exist only on eth-tester://")
    tester = provider.ethereum_tester
    if tester is None:
        raise ChainValueError("the eth-tester provider has no chain")
    return [key.to_bytes() for key in tester.backend.account_keys]
