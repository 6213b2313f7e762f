"""Chain backends chosen by URL scheme.

* ``eth-tester://`` — an in-process py-evm chain (ephemeral; prefunded test accounts);
* ``http://``, ``https://`` — any JSON-RPC node (anvil, a testnet, mainnet).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from web3 import Web3

from fieldproof.chain.errors import ChainError, ChainValueError

if TYPE_CHECKING:
    from fieldproof.chain.deploy import Deployment

ETH_TESTER_SCHEME = "eth-tester"
HTTP_TIMEOUT_S = 30.0


def _eth_tester(url: str) -> Web3:
    from web3 import EthereumTesterProvider

    try:
        import eth_tester  # noqa: F401
    except ImportError as exc:
        raise ChainValueError(
            f"chain URL {url!r}: the in-process chain needs the demo extra: "
            "pip install 'fieldproof[demo]'"
        ) from exc

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


def connect_deployment(rpc: str, deployment: Deployment) -> Web3:
    """A JSON-RPC node on the deployment's chain; eth-tester:// lives inside one process only."""
    if rpc.startswith(f"{ETH_TESTER_SCHEME}:"):
        raise ChainValueError(
            f"--rpc {rpc}: the in-process chain exists only inside the process that made it; "
            "give the URL of a node (anvil, a testnet, mainnet)"
        )
    w3 = connect(rpc)
    if int(w3.eth.chain_id) != deployment.chain_id:
        raise ChainValueError(
            f"--rpc {rpc} is chain {w3.eth.chain_id}, the deployment is on {deployment.chain_id}"
        )
    return w3
