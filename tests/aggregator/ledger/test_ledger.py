"""One ledger behaviour suite, run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.errors import AggregatorValueError
from aggregator.ledger import (
    Batch,
    DeadLetter,
    DeadPoint,
    Gap,
    HealthUpdate,
    IncomingReport,
    SqlLedger,
    StatusUpdate,
    open_ledger,
)
from aggregator.ledger.migrations import LATEST_VERSION


def incoming(device: bytes, seq: int, received_at: float = 1000.0) -> IncomingReport:
    raw = b"report-" + device[:4] + seq.to_bytes(8, "big")
    return IncomingReport(
        device, seq, received_at, 900 + seq, 960 + seq, raw, hashlib.sha256(raw).digest()
    )


DEV_A = b"\xaa" * 32
DEV_B = b"\xbb" * 32


class LedgerSuite:
    """Behaviour every ledger backend must show; subclasses provide ``url``."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[SqlLedger]:
        ledger = open_ledger(url)
        yield ledger
        ledger.close()

    def test_migrations_are_versioned_and_idempotent(self, ledger: SqlLedger, url: str) -> None:
        assert ledger.schema_version() == LATEST_VERSION
        again = open_ledger(url)
        try:
            assert again.migrate() == LATEST_VERSION
        finally:
            again.close()

    def test_insert_is_idempotent_on_device_and_seq(self, ledger: SqlLedger) -> None:
        batch = Batch(reports=[incoming(DEV_A, 1), incoming(DEV_A, 2), incoming(DEV_B, 1)])
        assert ledger.write_batch(batch) == 3
        redelivered = Batch(reports=[incoming(DEV_A, 2, 2000.0), incoming(DEV_A, 3)])
        assert ledger.write_batch(redelivered) == 1
        assert ledger.count_reports() == 4
        stored = ledger.report(DEV_A, 2)
        assert stored is not None
        assert stored.received_at == 1000.0  # the first copy stays
        assert stored.raw == incoming(DEV_A, 2).raw
        assert ledger.report(DEV_B, 9) is None
        assert ledger.device_heads() == {DEV_A: 3, DEV_B: 1}

    def test_row_ids_are_a_monotonic_cursor(self, ledger: SqlLedger) -> None:
        for seq in range(1, 26):
            ledger.write_batch(Batch(reports=[incoming(DEV_A, seq)]))
        seen: list[int] = []
        position = 0
        while True:
            rows = ledger.reports_after(position, limit=7)
            if not rows:
                break
            seen.extend(row.row_id for row in rows)
            position = rows[-1].row_id
        assert len(seen) == 25
        assert seen == sorted(seen)
        assert ledger.max_row_id() == seen[-1]

    def test_reports_by_receive_time_range(self, ledger: SqlLedger) -> None:
        ledger.write_batch(Batch(reports=[incoming(DEV_A, s, 100.0 * s) for s in range(1, 11)]))
        window = ledger.reports_received_between(300.0, 700.0)
        assert [r.seq for r in window] == [3, 4, 5, 6]
        paged = ledger.reports_received_between(300.0, 700.0, after_id=window[1].row_id, limit=1)
        assert [r.seq for r in paged] == [5]

    def test_dead_letters_keep_reason_and_bytes(self, ledger: SqlLedger) -> None:
        letters = [
            DeadLetter(5.0, "fp/v1/x/report", "malformed", "payload: not a map", b"\x00\x01", 2),
            DeadLetter(6.0, "fp/v1/y/report", "bad_signature", "no", b"\xff" * 10, 10, DEV_A, 4),
        ]
        ledger.write_batch(Batch(dead_letters=letters))
        stored = ledger.dead_letters()
        assert [(d.reason, d.raw, d.device_id, d.seq) for d in stored] == [
            ("malformed", b"\x00\x01", None, None),
            ("bad_signature", b"\xff" * 10, DEV_A, 4),
        ]
        assert ledger.dead_letter_counts() == {"malformed": 1, "bad_signature": 1}

    def test_device_status_health_and_last_seen(self, ledger: SqlLedger) -> None:
        ledger.write_batch(Batch(reports=[incoming(DEV_A, 1, 50.0)]))
        ledger.write_batch(
            Batch(
                statuses=[StatusUpdate(DEV_A, "online", 40.0)],
                healths=[HealthUpdate(DEV_A, '{"cpu": 0.5}', 60.0)],
            )
        )
        # An older status arriving late does not overwrite a newer one.
        ledger.write_batch(Batch(statuses=[StatusUpdate(DEV_A, "offline", 30.0)]))
        status = ledger.device_status(DEV_A)
        assert status is not None
        assert (status.state, status.state_at) == ("online", 40.0)
        assert (status.health, status.health_at, status.last_seen) == ('{"cpu": 0.5}', 60.0, 60.0)
        ledger.write_batch(Batch(statuses=[StatusUpdate(DEV_A, "offline", 70.0)]))
        status = ledger.device_status(DEV_A)
        assert status is not None
        assert status.state == "offline"
        assert ledger.device_status(DEV_B) is None

    def test_gaps_are_recorded(self, ledger: SqlLedger) -> None:
        ledger.write_batch(Batch(gaps=[Gap(DEV_A, 3, 7, 1.0)]))
        assert ledger.gaps(DEV_A) == [Gap(DEV_A, 3, 7, 1.0)]
        assert ledger.gaps(DEV_B) == []

    def test_cursor_compare_and_set(self, ledger: SqlLedger) -> None:
        assert ledger.get_cursor("series") == 0
        assert ledger.set_cursor("series", 0, 10)
        assert not ledger.set_cursor("series", 0, 20)
        assert ledger.get_cursor("series") == 10

    def test_dead_points_are_recorded_with_the_cursor_move(self, ledger: SqlLedger) -> None:
        point = DeadPoint(7, DEV_A, 3, "temp", "temp,device=0xaa value=1.0 1000", "HTTP 400", 5.0)
        assert ledger.set_cursor_with_dead_points("series", 0, 10, [point])
        # The cursor had moved: nothing is recorded twice.
        assert not ledger.set_cursor_with_dead_points("series", 0, 10, [point])
        assert ledger.set_cursor_with_dead_points("series", 10, 12, [])
        assert ledger.get_cursor("series") == 12
        (stored,) = ledger.dead_points()
        assert stored.row_id is not None
        assert stored == dataclasses.replace(point, row_id=stored.row_id)
        assert ledger.dead_points(after_id=stored.row_id) == []
        assert ledger.count_dead_points() == 1

    def test_a_version_two_ledger_gains_the_dead_point_table(
        self, url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from aggregator.ledger import migrations, sql

        monkeypatch.setattr(sql, "MIGRATIONS", migrations.MIGRATIONS[:2])
        old = open_ledger(url)
        assert old.schema_version() == 2
        old.write_batch(Batch(reports=[incoming(DEV_A, 1)]))
        old.close()
        monkeypatch.setattr(sql, "MIGRATIONS", migrations.MIGRATIONS)
        ledger = open_ledger(url)
        try:
            assert ledger.schema_version() == LATEST_VERSION == 3
            assert ledger.count_reports() == 1
            assert ledger.count_dead_points() == 0
        finally:
            ledger.close()

    def test_health_purge_in_chunks(self, ledger: SqlLedger) -> None:
        ledger.write_batch(Batch(healths=[HealthUpdate(DEV_A, "{}", float(t)) for t in range(25)]))
        assert ledger.purge_health(20.0, 8) == 8
        assert ledger.purge_health(20.0, 8) == 8
        assert ledger.purge_health(20.0, 8) == 4
        assert ledger.purge_health(20.0, 8) == 0
        assert ledger.count_health() == 5

    def test_concurrent_writers_store_each_report_once(self, url: str) -> None:
        ledgers = [open_ledger(url) for _ in range(2)]
        try:

            def write(ledger: SqlLedger) -> None:
                for start in range(0, 200, 20):
                    ledger.write_batch(
                        Batch(reports=[incoming(DEV_A, s) for s in range(start, start + 20)])
                    )

            threads = [threading.Thread(target=write, args=(lg,)) for lg in ledgers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert ledgers[0].count_reports() == 200
            ids = [r.row_id for r in ledgers[0].reports_after(0, 1000)]
            assert ids == sorted(ids)
        finally:
            for lg in ledgers:
                lg.close()


class TestSqliteLedger(LedgerSuite):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/ledger.db"


class TestPostgresLedger(LedgerSuite):
    @pytest.fixture
    def url(self, postgres_url: str) -> str:
        return postgres_url


def test_unknown_scheme_is_named() -> None:
    with pytest.raises(AggregatorValueError, match="'mysql'"):
        open_ledger("mysql://localhost/x")
