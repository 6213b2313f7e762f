"""Versioned schema of the ledger, one list of statements per version.

Type names are placeholders filled per dialect: ``{id}`` (auto-increasing primary key),
``{blob}``, ``{real}``. A version, once shipped, is never edited: add the next one.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE reports (
                id {id},
                device {blob} NOT NULL,
                seq BIGINT NOT NULL,
                received_at {real} NOT NULL,
                start_time BIGINT NOT NULL,
                end_time BIGINT NOT NULL,
                raw {blob} NOT NULL,
                digest {blob} NOT NULL,
                UNIQUE (device, seq)
            )""",
            "CREATE INDEX reports_received_at ON reports (received_at)",
            """CREATE TABLE dead_letters (
                id {id},
                received_at {real} NOT NULL,
                topic TEXT NOT NULL,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL,
                device {blob},
                seq BIGINT,
                size BIGINT NOT NULL,
                raw {blob} NOT NULL
            )""",
            "CREATE INDEX dead_letters_reason ON dead_letters (reason)",
            """CREATE TABLE sequence_gaps (
                id {id},
                device {blob} NOT NULL,
                after_seq BIGINT NOT NULL,
                seq BIGINT NOT NULL,
                received_at {real} NOT NULL
            )""",
            """CREATE TABLE devices (
                device {blob} PRIMARY KEY,
                state TEXT NOT NULL DEFAULT 'unknown',
                state_at {real},
                last_seen {real},
                health TEXT,
                health_at {real}
            )""",
            """CREATE TABLE health_log (
                id {id},
                device {blob} NOT NULL,
                at {real} NOT NULL,
                payload TEXT NOT NULL
            )""",
            "CREATE INDEX health_log_at ON health_log (at)",
            """CREATE TABLE cursors (
                name TEXT PRIMARY KEY,
                position BIGINT NOT NULL
            )""",
        ),
    ),
    (
        2,
        (
            # The anchorer's state: one row per closed epoch, written before anything is
            # sent, and the lease that elects the one process allowed to anchor. IF NOT
            # EXISTS: an anchor state that was kept in the ledger's database before has
            # these very tables already, and they carry over as they are.
            "CREATE TABLE IF NOT EXISTS anchor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS anchor_leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at {real} NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS anchor_epochs (
                epoch BIGINT PRIMARY KEY,
                start_at BIGINT NOT NULL,
                end_at BIGINT NOT NULL,
                status TEXT NOT NULL,
                count BIGINT NOT NULL,
                root {blob},
                cid TEXT,
                reward_root {blob},
                total_cumulative TEXT,
                cumulative TEXT,
                anchor_tx TEXT,
                reward_tx TEXT
            )""",
        ),
    ),
    (
        3,
        (
            # Points the series store refused for good (an InfluxDB 4xx: a field type
            # conflict, a line it cannot parse), kept so the projection can move on
            # without losing them. ``report_id`` is the ledger row they came from.
            """CREATE TABLE series_dead_points (
                id {id},
                report_id BIGINT NOT NULL,
                device {blob} NOT NULL,
                seq BIGINT NOT NULL,
                measurement TEXT NOT NULL,
                line TEXT NOT NULL,
                reason TEXT NOT NULL,
                at {real} NOT NULL
            )""",
            "CREATE INDEX series_dead_points_report ON series_dead_points (report_id)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1][0]
