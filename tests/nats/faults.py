"""The fault network of ``tests/faults/`` on a three-node NATS cluster: the shipped
deploy/nats config with the fleet's logins, agents speaking MQTT 3.1.1 to a list of all
three nodes, aggregators pulling from the JetStream consumer.

Cases: a node SIGKILLed mid-stream and started again later; one of two aggregator
processes SIGKILLed; the whole cluster stopped and started again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edge_agent.provisioning.fleet import FleetResult
from edge_agent.provisioning.nats_auth import fleet_logins, render_nats_auth
from tests.faults.cases import CaseResult, Timing, run_fault
from tests.faults.network import FaultNetwork, NetworkSettings, Transport, start_network_on
from tests.services.nats import NatsCluster, start_cluster

# Short enough that a killed aggregator's unacknowledged deliveries come back quickly.
ACK_WAIT_S = 3.0

Network = FaultNetwork[NatsCluster]


def nats_transport(folder: Path, fleet: FleetResult) -> Transport[NatsCluster]:
    """The cluster with the fleet's logins; devices get every node's MQTT URL."""
    devices, services = fleet_logins(fleet.broker_dir.parent)
    cluster = start_cluster(folder, render_nats_auth(devices, services))
    return Transport(
        cluster,
        {"url": cluster.mqtt_urls, "protocol": "3.1.1"},
        {"mqtt": {"url": cluster.url}, "nats": {"ack_wait_s": ACK_WAIT_S}},
    )


def node_sigkill_restarted(network: Network, timing: Timing) -> dict[str, Any]:
    """SIGKILL the node every device starts on (the first of their list), restart it
    after the outage; the devices move to the other nodes meanwhile."""
    node = network.broker.nodes[0]
    node.kill()
    # With the node still dead, everything allocated so far reaches the ledger.
    while_down = network.recovery(90)
    time.sleep(timing.outage_s)
    # Back on its listeners (start waits for them). Its JetStream may take a while longer
    # to catch up after a SIGKILL; the ledger count after the drain is what this case asserts.
    node.start(network.broker.config)
    return {
        "killed_node": node.name,
        "caught_up_with_node_down_s": round(while_down, 2),
        "healthy_after_restart": node.healthy(),
    }


def aggregator_of_two_killed(network: Network, timing: Timing) -> dict[str, Any]:
    network.aggregators[1].kill()
    return {"survivor": "fp-aggregator-a"}


def cluster_restarted(network: Network, timing: Timing) -> dict[str, Any]:
    """Every node stopped, then all started again on their stores."""
    network.broker.stop()
    time.sleep(timing.outage_s)
    network.broker.start()
    return {"nodes": len(network.broker.nodes)}


@dataclass(frozen=True)
class NatsCase:
    fault: Callable[[Network, Timing], dict[str, Any]]
    aggregators: tuple[str, ...] = ("fp-aggregator-a",)
    needs_postgres: bool = False


NATS_CASES: dict[str, NatsCase] = {
    "nats_node_sigkill_restarted": NatsCase(node_sigkill_restarted),
    "nats_two_aggregators_one_killed": NatsCase(
        aggregator_of_two_killed,
        aggregators=("fp-aggregator-a", "fp-aggregator-b"),
        needs_postgres=True,
    ),
    "nats_cluster_restarted": NatsCase(cluster_restarted),
}


def run_nats_case(
    name: str,
    folder: Path,
    settings: NetworkSettings,
    timing: Timing,
    *,
    postgres_url: str | None = None,
) -> CaseResult:
    case = NATS_CASES[name]
    if case.needs_postgres:
        if postgres_url is None:
            raise ValueError(f"{name}: needs a PostgreSQL URL")
        settings = replace(settings, ledger_url=postgres_url)
    network = start_network_on(folder, settings, nats_transport, case.aggregators)
    return run_fault(network, case.fault, timing)
