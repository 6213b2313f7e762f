"""A simulated fleet through the NATS cluster to two aggregators: connections held,
reports/s, latency from signing to the ledger's ack, lost and duplicated reports.

N devices (``--devices``, default 2,000), each its own ES256 key and its own login in the
cluster's permissions (rendered as ``fleet provision`` does), are MQTT 3.1.1 clients
spread over the three nodes of a cluster started from ``deploy/nats/nats-server.conf``.
They run in ``--procs`` child processes (paho, one network thread per client) and each
publishes one signed report every ``--interval`` seconds (QoS 1), staggered. Two
aggregator processes (``python -m aggregator run``, ``verify_workers: 0``) pull from the
one durable consumer into one PostgreSQL ledger. Latency is from signing a report to
receiving the ack that covers it, which the aggregator publishes after the commit: an
upper bound of signing → commit. The simulated devices keep no session (clean start) and
take acks at QoS 0, as the cluster delivers them; they do not resend, so any report the
transport dropped counts as lost.

The baseline in the same run is the offered load (devices / interval): ``reports_per_s``
over it says how much of it the network carried.

Usage: ``python bench/fleet.py [--json] [--devices N] [--interval S] [--duration S]``.
Needs nats-server and postgresql (``deploy/dev/install-test-services.sh``) and psutil.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


# -- the device side (child processes) ---------------------------------------------------


def run_devices(spec_file: Path, out: Path) -> None:
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from fieldproof.identity import DeviceKey
    from fieldproof.protocol import parse_ack
    from fieldproof.wire import Record, Report, sign_report

    spec = json.loads(spec_file.read_text())
    interval, duration, grace = spec["interval"], spec["duration"], spec["grace"]
    latencies: list[float] = []
    sent: dict[str, int] = {}
    connected = 0
    peak = 0
    lock = threading.Lock()

    class Sim:
        def __init__(self, device: dict[str, Any]) -> None:
            self.key = DeviceKey.from_secret(int(device["key"], 16))
            self.hex = device["id"]
            self.seq = 0
            self.signed_at: dict[int, float] = {}
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.hex,
                protocol=mqtt.MQTTv311,
                clean_session=True,
            )
            client.username_pw_set(self.hex, device["password"])
            client.on_connect = self.on_connect
            client.on_disconnect = self.on_disconnect
            client.on_message = self.on_ack
            client.connect_async("127.0.0.1", device["port"], keepalive=60)
            client.loop_start()
            self.client = client

        def on_connect(self, client: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
            nonlocal connected, peak
            if rc.is_failure:
                return
            client.subscribe(f"fp/v1/{self.hex}/ack", qos=0)
            with lock:
                connected += 1
                peak = max(peak, connected)

        def on_disconnect(self, client: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
            nonlocal connected
            with lock:
                connected -= 1

        def on_ack(self, client: Any, u: Any, message: Any) -> None:
            ack, now = parse_ack(message.payload), time.time()
            covered = [s for s in self.signed_at if s <= ack.through]
            covered += [s for a, b in ack.ranges for s in range(a, b + 1) if s in self.signed_at]
            with lock:
                for seq in set(covered):
                    latencies.append(now - self.signed_at.pop(seq))

        def publish(self) -> None:
            self.seq += 1
            now = time.time()
            start = int(now) - 1
            records = (Record(name="temp", value=20.0), Record(name="rh", value=50.0))
            payload = sign_report(
                Report(self.key.device_id, self.seq, start, start + 1, records), self.key
            )
            self.signed_at[self.seq] = time.time()
            self.client.publish(f"fp/v1/{self.hex}/report", payload, qos=1)

    sims = []
    for device in spec["devices"]:
        sims.append(Sim(device))
        time.sleep(spec["ramp_s"] / max(1, len(spec["devices"])))
    deadline = time.time() + 60
    while connected < len(sims) and time.time() < deadline:
        time.sleep(0.1)
    began = time.time()
    # Each device publishes at its own phase of the interval.
    offsets = [interval * i / len(sims) for i in range(len(sims))]
    due = [began + o for o in offsets]
    while time.time() < began + duration:
        now = time.time()
        for i, sim in enumerate(sims):
            if due[i] <= now:
                sim.publish()
                due[i] += interval
        time.sleep(0.005)
    held = connected
    end = time.time() + grace
    while time.time() < end and any(sim.signed_at for sim in sims):
        time.sleep(0.1)
    for sim in sims:
        sent[sim.hex] = sim.seq
        sim.client.disconnect()
        sim.client.loop_stop()
    out.write_text(
        json.dumps(
            {
                "sent": sent,
                "latencies": latencies,
                "held": held,
                "peak": peak,
                "seconds": duration,
                "unacked": sum(len(s.signed_at) for s in sims),
            }
        )
    )


# -- orchestration ------------------------------------------------------------------------


def _devices(count: int, ports: list[int]) -> list[dict[str, Any]]:
    from fieldproof.identity import DeviceKey

    devices = []
    for i in range(count):
        secret = secrets.randbits(255) | 1  # below the P-256 group order
        key = DeviceKey.from_secret(secret)
        devices.append(
            {
                "id": f"0x{bytes(key.device_id).hex()}",
                "key": f"{secret:x}",
                "password": secrets.token_urlsafe(18),
                "port": ports[i % len(ports)],
                "public": key.public_key,
            }
        )
    return devices


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between reports")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of publishing")
    parser.add_argument("--procs", type=int, default=4, help="device processes")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_devices(Path(args.child[0]), Path(args.child[1]))
        return 0

    import yaml

    from aggregator.ledger import open_ledger
    from aggregator.registry.allowlist import write_allowlist
    from edge_agent.provisioning.nats_auth import render_nats_auth
    from fieldproof.identity import did_key_from_public_key
    from tests.services.nats import start_cluster
    from tests.services.ports import free_port
    from tests.services.postgres import PostgresServer, _pg_bin_dir

    with tempfile.TemporaryDirectory(prefix="fieldproof-bench-fleet-") as tmp:
        work = Path(tmp)
        pg_dir = Path(tempfile.mkdtemp(prefix="fieldproof-bench-fleet-pg-"))
        postgres = PostgresServer(_pg_bin_dir(), pg_dir, free_port())
        postgres.start()
        cluster = None
        aggregators: list[subprocess.Popen[bytes]] = []
        children: list[subprocess.Popen[bytes]] = []
        try:
            ledger_url = postgres.create_database("bench_fleet")
            # Ports are known only once the cluster is up; logins must be in it first,
            # so devices are made with placeholder ports and pointed at nodes after.
            devices = _devices(args.devices, [0])
            agg_password = secrets.token_urlsafe(18)
            auth = render_nats_auth(
                [(d["id"], d["password"]) for d in devices], {"aggregator": agg_password}
            )
            cluster = start_cluster(work, auth)
            ports = [node.mqtt_port for node in cluster.nodes]
            for i, device in enumerate(devices):
                device["port"] = ports[i % len(ports)]
            allowlist = work / "devices.yaml"
            write_allowlist(
                allowlist, [(did_key_from_public_key(d.pop("public")), True) for d in devices]
            )
            for name in ("fleet-a", "fleet-b"):
                config = {
                    "roles": ["ingest"],
                    "mqtt": {
                        "url": cluster.url,
                        "client_id": name,
                        "username": "aggregator",
                        "password": agg_password,
                    },
                    "ledger": {"url": ledger_url},
                    "series": {"url": f"sqlite:///{work}/{name}-series.db"},
                    "registry": {"mode": "allowlist", "allowlist": {"path": str(allowlist)}},
                    "metrics": {"enabled": False},
                }
                path = work / f"{name}.yaml"
                path.write_text(yaml.safe_dump(config))
                log = (work / f"{name}.log").open("ab")
                aggregators.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "aggregator", "run", "--config", str(path)],
                        cwd=REPO,
                        env={**os.environ, "PYTHONPATH": str(REPO)},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            time.sleep(3)
            outs = []
            per = (len(devices) + args.procs - 1) // args.procs
            for p in range(args.procs):
                spec = {
                    "devices": devices[p * per : (p + 1) * per],
                    "interval": args.interval,
                    "duration": args.duration,
                    "grace": 30.0,
                    "ramp_s": 20.0,
                }
                spec_file, out = work / f"spec-{p}.json", work / f"out-{p}.json"
                spec_file.write_text(json.dumps(spec))
                outs.append(out)
                children.append(
                    subprocess.Popen(
                        [sys.executable, __file__, "--child", str(spec_file), str(out)],
                        cwd=REPO,
                        env={**os.environ, "PYTHONPATH": str(REPO)},
                    )
                )
            for child in children:
                child.wait(args.duration + 300)
            results = [json.loads(out.read_text()) for out in outs]
            # Let the aggregators commit what is in flight before counting.
            time.sleep(3)
            ledger = open_ledger(ledger_url, migrate=False)
            sent: dict[str, int] = {}
            for result in results:
                sent.update(result["sent"])
            lost = duplicated = stored = 0
            for hex_id, count in sent.items():
                device_id = bytes.fromhex(hex_id[2:])
                heads = ledger.device_reports(device_id, limit=count + 100)
                seqs = [h.seq for h in heads]
                distinct = set(seqs) & set(range(1, count + 1))
                stored += len(distinct)
                lost += count - len(distinct)
                duplicated += len(seqs) - len(set(seqs))
            ledger.close()
            latencies = [v for r in results for v in r["latencies"]]
            offered = len(devices) / args.interval
            summary = {
                "devices": len(devices),
                "connections_held": sum(r["held"] for r in results),
                "reports": sum(sent.values()),
                "reports_per_s": round(stored / args.duration, 1),
                "offered_per_s": round(offered, 1),
                "carried_vs_offered": round(stored / args.duration / offered, 3),
                "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                "latency_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
                "latency_mean_ms": round(statistics.fmean(latencies) * 1000, 1)
                if latencies
                else None,
                "lost": lost,
                "duplicated": duplicated,
                "unacked_at_end": sum(r["unacked"] for r in results),
                "cores": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
            for process in aggregators:
                process.send_signal(signal.SIGTERM)
            for process in aggregators:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            if cluster is not None:
                cluster.stop()
            postgres.stop()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
