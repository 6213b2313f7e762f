"""The aggregator configs shipped in deploy/aggregator/ pass check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import load_aggregator_config
from fieldproof.config import SECRETS_DIR_ENV

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "aggregator"


@pytest.mark.parametrize(
    "name", ["aggregator.yaml", "aggregator-compose.yaml", "aggregator-single.yaml"]
)
def test_shipped_config_is_valid(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for secret in ("mqtt-password", "postgres-password", "influx-password"):
        (tmp_path / secret).write_text("s3cret\n")
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("FIELDPROOF_AGGREGATOR_INSTANCE", "1")
    monkeypatch.setenv("FIELDPROOF_AGGREGATOR_METRICS_PORT", "9465")
    monkeypatch.setenv("FIELDPROOF_CHAIN_URL", "http://127.0.0.1:8545")
    monkeypatch.setenv("FIELDPROOF_DEVICE_REGISTRY", "0x" + "11" * 20)
    monkeypatch.setenv("FIELDPROOF_API_PORT", "8081")
    config = load_aggregator_config(DEPLOY / name)
    assert config.mqtt.client_id
    assert config.mqtt.password == "s3cret"
    assert config.ingest.batch_size <= config.mqtt.receive_maximum
    if name != "aggregator-single.yaml":
        # The complete aggregator: epochs anchored and rewards published, no flag needed.
        assert set(config.roles) == {"ingest", "projection", "anchoring", "api"}
        assert config.anchoring is not None
        assert config.anchoring.key == f"keystore:{tmp_path}/anchor-keystore"
        assert config.api.port == 8081


def test_compose_and_systemd_run_the_configured_roles() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    assert '"aggregator", "run", "--config"' in compose
    assert "anchor-keystore" in compose
    unit = (DEPLOY / "fieldproof-aggregator@.service").read_text()
    assert "aggregator run --config /etc/fieldproof/aggregator.yaml" in unit
    # The unit hears READY and feeds on WATCHDOG (fieldproof.runloop sends both).
    assert "Type=notify" in unit
    assert "WatchdogSec=" in unit
