"""DeviceRegistry.isValidCell agrees with H3 itself on random indexes (eth-tester)."""

from __future__ import annotations

import h3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldproof.chain.location import CELL_RESOLUTION
from tests.chain.conftest import ChainEnv, Deployed, make_chain

PENTAGONS_RES7 = [h3.str_to_int(cell) for cell in h3.get_pentagons(CELL_RESOLUTION)]


@pytest.fixture(scope="module")
def chain(request: pytest.FixtureRequest) -> ChainEnv:
    """eth-tester only: a pure function, many calls."""
    return make_chain("eth-tester", request)


def _expected(cell: int) -> bool:
    text = h3.int_to_str(cell)
    return bool(h3.is_valid_cell(text)) and h3.get_resolution(text) == CELL_RESOLUTION


def _cells() -> st.SearchStrategy[int]:
    latlng = st.tuples(st.floats(-90, 90), st.floats(-180, 180))
    located = latlng.map(lambda p: h3.str_to_int(h3.latlng_to_cell(p[0], p[1], CELL_RESOLUTION)))
    # Near-valid indexes: a valid cell with a few bits flipped, including the deleted
    # sub-sequence of pentagons (digit 1 after the leading zeros).
    around = st.tuples(
        st.one_of(located, st.sampled_from(PENTAGONS_RES7)), st.integers(0, 63), st.integers(0, 63)
    ).map(lambda t: t[0] ^ (1 << t[1]) ^ (1 << t[2]))
    return st.one_of(located, around, st.integers(0, 2**64 - 1), st.sampled_from(PENTAGONS_RES7))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cell=_cells())
def test_contract_matches_h3(deployed: Deployed, cell: int) -> None:
    assert deployed.registry.is_valid_cell(cell) == _expected(cell)


def test_pentagon_deleted_subsequence_is_refused(deployed: Deployed) -> None:
    pentagon = PENTAGONS_RES7[0]
    # Replace the first digit of the pentagon (all zeros) with 1: the deleted K axis.
    shift = 3 * (15 - 1)
    deleted = (pentagon & ~(7 << shift)) | (1 << shift)
    assert not h3.is_valid_cell(h3.int_to_str(deleted))
    assert not deployed.registry.is_valid_cell(deleted)
    assert deployed.registry.is_valid_cell(pentagon)
    assert deployed.registry.cell_resolution() == CELL_RESOLUTION
