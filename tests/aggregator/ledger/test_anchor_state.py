"""The anchor state and leader lease the ledger keeps, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.errors import AggregatorError
from aggregator.ledger import EpochRecord, EpochStatus, SqlLedger, open_ledger

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'anchor.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def state(state_url: str) -> Iterator[SqlLedger]:
    state = open_ledger(state_url)
    yield state
    state.close()


def _closed(epoch: int, root: bytes, cumulative: dict[str, int] | None = None) -> EpochRecord:
    total = None if cumulative is None else sum(cumulative.values())
    return EpochRecord(
        epoch=epoch,
        start=epoch * 60,
        end=epoch * 60 + 60,
        status=EpochStatus.CLOSED,
        count=3,
        root=root,
        cid="bafkreitest",
        reward_root=None if cumulative is None else b"\x02" * 32,
        total_cumulative=total,
        cumulative=cumulative,
    )


def test_closed_epoch_is_recorded_once_and_moves_forward(state: SqlLedger) -> None:
    first = state.record_closed(_closed(7, b"\x01" * 32, {"0xA": 5}))
    assert first.status is EpochStatus.CLOSED
    # Closing again (a restart) keeps the root persisted first.
    again = state.record_closed(_closed(7, b"\x09" * 32, {"0xA": 6}))
    assert again == first
    state.mark(7, EpochStatus.ANCHORED, tx="0xabc")
    state.mark(7, EpochStatus.DONE, tx="0xdef")
    done = state.epoch(7)
    assert done is not None
    assert (done.status, done.anchor_tx, done.reward_tx) == (EpochStatus.DONE, "0xabc", "0xdef")
    assert done.root == b"\x01" * 32
    assert done.cumulative == {"0xA": 5}
    assert state.last_epoch() == done
    with pytest.raises(AggregatorError, match="never closed"):
        state.mark(8, EpochStatus.DONE)


def test_previous_cumulative_skips_epochs_without_rewards(state: SqlLedger) -> None:
    state.record_closed(_closed(1, b"\x01" * 32, {"0xA": 10**30, "0xB": 1}))
    state.record_closed(_closed(2, b"\x01" * 32, None))
    assert state.previous_cumulative(3) == {"0xA": 10**30, "0xB": 1}
    assert state.previous_cumulative(1) == {}


def test_first_epoch_is_fixed_by_the_first_start(state: SqlLedger) -> None:
    assert state.first_epoch(12) == 12
    assert state.first_epoch(40) == 12


def test_lease_is_held_by_one_holder_until_it_expires(state_url: str) -> None:
    one, two = open_ledger(state_url), open_ledger(state_url)
    try:
        assert one.acquire_lease("anchor", "one", 30, now=100)
        assert not two.acquire_lease("anchor", "two", 30, now=110)
        assert one.acquire_lease("anchor", "one", 30, now=120)  # renewal
        assert not two.acquire_lease("anchor", "two", 30, now=149)
        assert two.acquire_lease("anchor", "two", 30, now=151)  # expired: taken over
        assert not one.acquire_lease("anchor", "one", 30, now=152)
        assert one.lease_holder("anchor", now=152) == "two"
        two.release_lease("anchor", "two")
        assert one.acquire_lease("anchor", "one", 30, now=153)
    finally:
        one.close()
        two.close()


def test_racing_processes_never_both_hold_the_lease(state_url: str) -> None:
    states = [open_ledger(state_url) for _ in range(4)]
    winners: list[str] = []
    barrier = threading.Barrier(len(states))

    def race(index: int) -> None:
        barrier.wait()
        if states[index].acquire_lease("anchor", f"p{index}", 30, now=1_000):
            winners.append(f"p{index}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(states))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for state in states:
        state.close()
    assert len(winners) == 1


def test_a_version_one_ledger_gains_the_anchor_tables(
    state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.ledger import migrations, sql

    monkeypatch.setattr(sql, "MIGRATIONS", migrations.MIGRATIONS[:1])
    old = open_ledger(state_url)
    assert old.schema_version() == 1
    old.close()
    monkeypatch.setattr(sql, "MIGRATIONS", migrations.MIGRATIONS)
    ledger = open_ledger(state_url)
    try:
        assert ledger.schema_version() == migrations.LATEST_VERSION
        assert ledger.first_epoch(3) == 3
    finally:
        ledger.close()
