"""The fault matrix: each case breaks one part of a running network, lets it recover, and
counts every seq each device allocated against the ledger.

``recovery_s`` is measured from the moment the fault ends (broker back, aggregator back,
worker killed, rogue refused) until the ledger holds every seq allocated up to then; for
three kills in a row, after each restart, and the slowest counts.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.aggregator.runtime import wait_for
from tests.deploy.broker import ProductionBroker
from tests.faults.network import B, FaultNetwork, NetworkSettings, start_network

SHARED_REPORTS = "$share/aggregators/fp/v1/+/report"


@dataclass(frozen=True)
class Timing:
    """How long the network runs before the fault, and how long the fault lasts."""

    warm_s: float = 3.0
    outage_s: float = 3.0


@dataclass
class CaseResult:
    allocated: int
    stored: int
    lost: int
    duplicated: int
    recovery_s: float
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


Network = FaultNetwork[ProductionBroker]
Fault = Callable[[Network, Timing], dict[str, Any]]


def no_fault(network: Network, timing: Timing) -> dict[str, Any]:
    """The baseline: the same network and measurement with nothing broken."""
    return {}


def broker_kill_connected(network: Network, timing: Timing) -> dict[str, Any]:
    network.broker.kill()
    time.sleep(timing.outage_s)
    network.broker.start()
    return {}


def broker_kill_aggregator_stopped(network: Network, timing: Timing) -> dict[str, Any]:
    aggregator = network.aggregators[0]
    aggregator.stop()
    time.sleep(timing.outage_s)  # the broker queues for the absent aggregator, then dies
    network.broker.kill()
    network.broker.start()
    aggregator.start()
    return {}


def broker_restart_clean(network: Network, timing: Timing) -> dict[str, Any]:
    network.broker.stop()
    time.sleep(1.0)
    network.broker.start()
    return {}


def aggregator_past_session_expiry(network: Network, timing: Timing) -> dict[str, Any]:
    aggregator = network.aggregators[0]
    aggregator.stop()
    away = 3 * network.settings.session_expiry_s
    time.sleep(away)  # the broker forgets the session and what it queued for it
    aggregator.start()
    return {"away_s": away}


def verify_worker_killed(network: Network, timing: Timing) -> dict[str, Any]:
    aggregator = network.aggregators[0]
    wait_for(lambda: bool(aggregator.workers()), 30, "a verify worker")
    victim = aggregator.workers()[0]
    os.kill(victim, 9)
    return {"killed_worker": victim}


def aggregator_sigkill_three_times(network: Network, timing: Timing) -> dict[str, Any]:
    aggregator = network.aggregators[0]
    recoveries = []
    for _ in range(3):
        aggregator.kill()
        time.sleep(0.5)
        aggregator.start()
        recoveries.append(round(network.recovery(120), 2))
        time.sleep(timing.warm_s)
    return {"kills": 3, "recovery_each_s": recoveries, "recovery_s": max(recoveries)}


def rogue_device(network: Network, timing: Timing) -> dict[str, Any]:
    """The fifth device tries to join the aggregators' group and to take their client id."""
    bundle = network.rogue
    username = bundle.identity.device_id
    password = (bundle.directory / "secrets" / "mqtt-password").read_text()
    detail: dict[str, Any] = {}

    # Over TLS, as itself: the shared subscription is refused at SUBACK.
    client = _client(username, password, username)
    context = ssl.create_default_context(cafile=str(bundle.directory / "ca.crt"))
    context.load_cert_chain(bundle.directory / "client.crt", bundle.directory / "client.key")
    client.tls_set_context(context)
    granted: list[Any] = []
    client.on_subscribe = lambda c, u, mid, codes, p: granted.extend(codes)
    client.connect("127.0.0.1", network.broker.tls_port)
    client.loop_start()
    try:
        client.subscribe(SHARED_REPORTS, qos=1)
        wait_for(lambda: bool(granted), 10, "the SUBACK")
        detail["share_refused"] = all(code.is_failure for code in granted)
    finally:
        client.disconnect()
        client.loop_stop()

    # On the plain listener with the aggregator's client id: refused at CONNECT.
    results: list[Any] = []
    impostor = _client(username, password, "fp-aggregator-a")
    impostor.on_connect = lambda c, u, flags, rc, p: results.append(rc)
    impostor.connect("127.0.0.1", network.broker.plain_port)
    impostor.loop_start()
    try:
        wait_for(lambda: bool(results), 10, "the CONNACK")
        detail["client_id_refused"] = results[0].is_failure
    finally:
        impostor.disconnect()
        impostor.loop_stop()
    return detail


def aggregator_of_two_killed(network: Network, timing: Timing) -> dict[str, Any]:
    network.aggregators[1].kill()
    return {"survivor": "fp-aggregator-a"}


@dataclass(frozen=True)
class Case:
    fault: Fault
    settings: Callable[[NetworkSettings], NetworkSettings] = lambda s: s
    aggregators: tuple[str, ...] = ("fp-aggregator-a",)
    needs_postgres: bool = False


BASELINE = "no_fault"

CASES: dict[str, Case] = {
    "broker_sigkill_aggregator_connected": Case(broker_kill_connected),
    "broker_sigkill_aggregator_stopped": Case(broker_kill_aggregator_stopped),
    "broker_clean_restart_shared_subscription": Case(broker_restart_clean),
    "aggregator_down_3x_session_expiry": Case(
        aggregator_past_session_expiry, lambda s: replace(s, session_expiry_s=3)
    ),
    "verify_worker_killed": Case(verify_worker_killed, lambda s: replace(s, verify_workers=1)),
    "aggregator_sigkill_x3": Case(aggregator_sigkill_three_times),
    "rogue_device": Case(rogue_device),
    "two_aggregators_postgres_one_killed": Case(
        aggregator_of_two_killed,
        aggregators=("fp-aggregator-a", "fp-aggregator-b"),
        needs_postgres=True,
    ),
}


BASELINE_CASE = Case(no_fault)


def run_case(
    name: str,
    folder: Path,
    settings: NetworkSettings,
    timing: Timing,
    *,
    postgres_url: str | None = None,
) -> CaseResult:
    """Run one case of :data:`CASES` in ``folder`` and count every allocated seq."""
    case = BASELINE_CASE if name == BASELINE else CASES[name]
    settings = case.settings(settings)
    if case.needs_postgres:
        if postgres_url is None:
            raise ValueError(f"{name}: needs a PostgreSQL URL")
        settings = replace(settings, ledger_url=postgres_url)
    network = start_network(folder, settings, case.aggregators)
    return run_fault(network, case.fault, timing)


def run_fault(
    network: FaultNetwork[B],
    fault: Callable[[FaultNetwork[B], Timing], dict[str, Any]],
    timing: Timing,
) -> CaseResult:
    """Warm up, break, measure the recovery, drain and count; closes ``network``."""
    try:
        time.sleep(timing.warm_s)
        detail = fault(network, timing)
        # A fault of several steps measures each; the slowest is the case's figure.
        recovery_s = max(network.recovery(180), detail.pop("recovery_s", 0.0))
        time.sleep(timing.warm_s)  # keep producing after the recovery
        network.drain(180)
        tallies = network.tally()
    finally:
        network.close()
    detail["devices"] = len(tallies)
    return CaseResult(
        allocated=sum(t.allocated for t in tallies.values()),
        stored=sum(t.stored for t in tallies.values()),
        lost=sum(t.lost for t in tallies.values()),
        duplicated=sum(t.duplicated for t in tallies.values()),
        recovery_s=round(recovery_s, 2),
        detail=detail,
    )


def _client(username: str, password: str, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    return client
