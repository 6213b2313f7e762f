"""Chain URLs pick the backend; unknown schemes and dead nodes are named."""

from __future__ import annotations

import pytest

from fieldproof.chain.backends import connect, is_eth_tester, prefunded_keys
from fieldproof.chain.errors import ChainError, ChainValueError
from tests.services.ports import free_port


def test_eth_tester_is_in_process_with_funded_accounts() -> None:
    w3 = connect("eth-tester://")
    assert is_eth_tester(w3)
    keys = prefunded_keys(w3)
    assert len(keys) >= 3
    assert w3.eth.get_balance(w3.eth.accounts[0]) > 0


def test_http_reaches_anvil(anvil_url: str) -> None:
    w3 = connect(anvil_url)
    assert not is_eth_tester(w3)
    assert w3.eth.chain_id == 31337
    with pytest.raises(ChainValueError, match="eth-tester"):
        prefunded_keys(w3)


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8546", "ipc:///tmp/x", "mainnet"])
def test_unknown_scheme_is_named(url: str) -> None:
    with pytest.raises(ChainValueError, match="unknown scheme") as excinfo:
        connect(url)
    assert repr(url) in str(excinfo.value)


def test_dead_node_is_reported() -> None:
    with pytest.raises(ChainError, match="does not answer"):
        connect(f"http://127.0.0.1:{free_port()}")
