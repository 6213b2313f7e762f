"""The agent runtime: reports → sign → outbox → link, heartbeat, remote control, watchdog.

Producers (camera workers, sensor loops, tests) call :meth:`Agent.submit` with one
interval's records; it allocates the sequence number, signs and commits the report in
one outbox transaction and wakes the publisher. Nothing on that path touches the
network, so a dead broker never slows inference.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from edge_agent.audit.auditor import AuditLoop, Auditor
from edge_agent.audit.journal import AckJournal
from edge_agent.config import AgentConfig
from edge_agent.health.snapshot import (
    HealthCollector,
    HealthSnapshot,
    health_registry,
    render_prometheus,
)
from edge_agent.health.stats import StatsRegistry
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox
from edge_agent.remote.control import RemoteControl, UpdateOutcome
from edge_agent.remote.models import Activate, ModelUpdater, WarmUp
from edge_agent.remote.shadow import ShadowModels
from edge_agent.reporting import BeaconHolder, RpcBeaconPoller
from fieldproof.identity import Signer, device_id_hex
from fieldproof.metrics_http import MetricsServer
from fieldproof.protocol import DeviceTopics
from fieldproof.protocol.topics import BEACON_TOPIC
from fieldproof.wire import ModelRef, Record, Report, sign_report

log = logging.getLogger(__name__)
# How late a heartbeat may be, beyond three intervals, before the agent is not alive.
HEARTBEAT_SLACK_S = 10.0


def _no_warm_up(path: Any) -> None:
    return None


def _no_activate(path: Any, model_id: str) -> None:
    return None


def _nothing_else_to_watch() -> bool:
    return True


class Agent:
    """One device's agent. ``start()`` returns at once; every part runs in its own thread."""

    def __init__(
        self,
        config: AgentConfig,
        signer: Signer,
        *,
        stats: StatsRegistry | None = None,
        warm_up: WarmUp = _no_warm_up,
        activate: Activate = _no_activate,
        model_ids: Callable[[], tuple[str, ...]] = tuple,
        liveness: Callable[[], bool] = _nothing_else_to_watch,
        shadow: ShadowModels | None = None,
        health_extra: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.config = config
        self.signer = signer
        self.device_id = bytes(signer.device_id)
        self.device = device_id_hex(self.device_id)
        self.topics = DeviceTopics(self.device)
        self.stats = stats or StatsRegistry()
        self.started_at = time.time()
        self._model_ids = model_ids
        self._liveness = liveness
        self._health_extra = health_extra
        self.outbox = Outbox(config.outbox)
        # What the audit needs of each acknowledged report outlives its outbox row.
        self.journal = AckJournal(self.outbox.connection)
        self.outbox.retire = self.journal.retire
        self.beacons = BeaconHolder(config.beacon.max_age_s)
        self._beacon_poller: RpcBeaconPoller | None = None
        if config.beacon.rpc is not None:
            from fieldproof.chain.backends import connect

            w3 = connect(config.beacon.rpc, check=False)
            self._beacon_poller = RpcBeaconPoller(w3, self.beacons, config.beacon.poll_s)
        self.auditor: Auditor | None = None
        self._audit_loop: AuditLoop | None = None
        if config.audit.api is not None:
            self.auditor = build_auditor(config, self.device_id, self.journal)
            self._audit_loop = AuditLoop(self.auditor, config.audit.interval_s)
        self.remote = RemoteControl(
            config.remote,
            self.device,
            config.settings,
            models=ModelUpdater(config.remote.models_dir, warm_up=warm_up, activate=activate),
            shadow=shadow,
            on_outcome=self._on_outcome,
        )
        self.link = ReportLink(
            config.link,
            self.outbox,
            self.topics,
            signer=signer,
            status=self.status_document,
            on_message=self._on_message,
            subscribe=() if config.beacon.rpc is not None else (BEACON_TOPIC,),
        )
        self.health = HealthCollector(
            self.device,
            root=config.health.sysfs_root,
            disk_path=config.health.disk_path,
            stats=self.stats,
            outbox=self.outbox.stats,
            link=self.link.state,
            refused=lambda: self.link.pump_stats().refused,
            models=self.models_in_use,
            config_version=lambda: self.remote.version,
            audit=self._audit_health,
        )
        self.metrics: MetricsServer | None = None
        if config.health.metrics_port:
            self.metrics = MetricsServer(
                health_registry(self.health.collect),
                config.health.metrics_bind,
                config.health.metrics_port,
            )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._last_beat = time.monotonic()
        self.remote.on_settings(lambda settings: self._wake.set())

    # -- producers -----------------------------------------------------------------

    def submit(
        self, start: int, end: int, records: Sequence[Record], model: ModelRef | None = None
    ) -> int:
        """Sign and store one interval report; returns its sequence number."""
        frozen = tuple(records)
        beacon = self.beacons.current()

        def build(seq: int) -> bytes:
            report = Report(self.device_id, seq, start, end, frozen, model, beacon)
            return sign_report(report, self.signer)

        entry = self.outbox.append(build)
        self.link.notify()
        return entry.seq

    # -- status, health ----------------------------------------------------------------

    def models_in_use(self) -> tuple[str, ...]:
        installed = self.remote.models.current()
        ids = list(self._model_ids())
        if installed is not None and installed.model_id not in ids:
            ids.append(installed.model_id)
        return tuple(ids)

    def status_document(self) -> dict[str, Any]:
        """The retained ``online`` status with the outcome of the latest updates."""
        return {
            "state": "online",
            "device": self.device,
            "started_at": self.started_at,
            **self.remote.status(),
        }

    def snapshot(self) -> HealthSnapshot:
        return self.health.collect()

    def health_document(self) -> dict[str, Any]:
        """The heartbeat: the snapshot plus what other parts add (shadow-mode figures)."""
        return {**self.snapshot().to_json(), **self._health_extra()}

    def render_metrics(self) -> str:
        return render_prometheus(self.health.collect())

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.config:
            self.remote.submit(payload)
        elif topic == BEACON_TOPIC:
            self.beacons.offer_payload(payload)

    def _audit_health(self) -> tuple[tuple[int, ...], int]:
        if self.auditor is None:
            return (), 0
        return self.auditor.status.missing, self.auditor.status.runs

    def _on_outcome(self, outcome: UpdateOutcome) -> None:
        log.info("%s update %s (%s)", outcome.kind, outcome.outcome, outcome.reason or "ok")
        self.link.publish_status()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.remote.restore()
        self.remote.start()
        self.link.start()
        if self._beacon_poller is not None:
            self._beacon_poller.start()
        if self._audit_loop is not None:
            self._audit_loop.start()
        if self.metrics is not None:
            self.metrics.start()
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._heartbeat.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._heartbeat is not None:
            self._heartbeat.join(5)
        self.remote.stop()
        if self._audit_loop is not None:
            self._audit_loop.stop()
        if self._beacon_poller is not None:
            self._beacon_poller.stop()
        self.link.stop()
        if self.metrics is not None:
            self.metrics.stop()

    def alive(self) -> bool:
        """True while the agent's threads run and ``liveness`` (its producers) holds."""
        beating = self._heartbeat is not None and self._heartbeat.is_alive()
        # A heartbeat thread wedged in a reader is alive but silent: that is not liveness.
        bound = 3 * self.remote.settings.heartbeat_s + HEARTBEAT_SLACK_S
        recent = time.monotonic() - self._last_beat <= bound
        return beating and recent and self.link.running and self._liveness()

    def _beat(self) -> None:
        next_heartbeat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_heartbeat:
                try:
                    self.link.publish_health(self.health_document())
                except Exception:  # a broken reader must not stop the heartbeat
                    log.exception("health snapshot failed")
                self._last_beat = time.monotonic()
                next_heartbeat = now + self.remote.settings.heartbeat_s
            wait = next_heartbeat - time.monotonic()
            if self._wake.wait(max(0.0, wait)):
                self._wake.clear()
                next_heartbeat = min(
                    next_heartbeat, time.monotonic() + self.remote.settings.heartbeat_s
                )


def build_auditor(config: AgentConfig, device_id: bytes, journal: AckJournal) -> Auditor:
    """The auditor of ``config.audit``: proofs from the API, roots from DataAnchor."""
    from edge_agent.audit.auditor import HttpProofSource
    from fieldproof.chain.backends import connect_deployment
    from fieldproof.chain.deploy import Deployment

    audit = config.audit
    assert audit.api is not None
    assert audit.rpc is not None
    assert audit.deployment is not None
    deployment = Deployment.load(audit.deployment)
    anchor = deployment.anchor(connect_deployment(audit.rpc, deployment))
    proofs = HttpProofSource(audit.api, audit.api_key_env)
    return Auditor(device_id, journal, proofs, anchor, skew_s=audit.skew_s)
