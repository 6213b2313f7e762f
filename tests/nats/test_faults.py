"""The fault cases on a three-node NATS cluster (shipped config, provisioned fleet's
logins), three agent processes and a load generator: after each fault every seq each
device allocated is in the ledger exactly once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.faults.cases import Timing
from tests.faults.network import NetworkSettings
from tests.nats.faults import NATS_CASES, run_nats_case
from tests.services.postgres import PostgresServer

SETTINGS = NetworkSettings(agents=3, report_interval_s=0.25, load_per_s=20.0, ack_timeout_s=2.0)
TIMING = Timing(warm_s=2.0, outage_s=2.0)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", sorted(NATS_CASES))
def test_every_allocated_seq_is_stored_once(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    postgres_url = None
    if NATS_CASES[name].needs_postgres:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        postgres_url = server.create_database(f"nats_{uuid.uuid4().hex[:12]}")
    result = run_nats_case(name, tmp_path, SETTINGS, TIMING, postgres_url=postgres_url)
    assert result.detail["devices"] == SETTINGS.agents + 1
    # Every device produced through the fault (agents at 4/s, the generator at 20/s).
    assert result.allocated >= (SETTINGS.agents * 4 + 20) * 2 * TIMING.warm_s
    assert (result.lost, result.duplicated) == (0, 0), result
    assert result.stored == result.allocated
