"""A simulated fleet through the NATS cluster to two aggregators: connections held,
reports/s, latency from signing to the ledger's ack, lost and duplicated reports.

N devices (``--devices``, default 2,000), each its own ES256 key and its own login in the
cluster's permissions (rendered as ``fleet provision`` does), are MQTT 3.1.1 clients
spread over the three nodes of a cluster started from ``deploy/nats/nats-server.conf``.
They run in child processes of at most 250 devices each (paho, one network thread per
client, waiting with select(), which takes descriptors below 1,024 only). At most
``--connect-concurrency`` connections open at once (shared out among the processes): a
slot is freed when the device's ack subscription is in place or after 15 s, and a
device that fails keeps trying with paho's backoff (1 s doubling to 16 s). Connected
devices publish one signed report every ``--interval`` seconds (QoS 1), staggered.

Devices keep each report as the agent's outbox does, until an aggregator's ack on
``fp/v1/<device>/ack`` (``{"through": N, "ranges": [...]}``) covers its seq; one with no
ack after ``--ack-timeout`` seconds is sent again, each further try waiting twice as long
(up to 4 × the timeout). After ``--duration`` seconds no new reports are made and the
devices keep resending until every report is acknowledged or ``--drain`` seconds pass.
``lost`` is then every seq a device allocated that the ledger does not hold;
``duplicated`` is rows beyond one per (device, seq).

Two aggregator processes (``python -m aggregator run``, ``verify_workers: 0``) pull from
the one durable consumer into one PostgreSQL ledger. Latency is from signing a report to
receiving the first ack that covers it (resends included), which the aggregator
publishes after the commit: an upper bound of signing → commit. With ``--single-node``
every device connects to the first node (the others still hold the stream's replicas).
Each node's connections, messages in and out, and CPU are read from its monitoring
port (``/varz``) through the publishing window.

The baseline in the same run is the offered load (devices / interval): ``reports_per_s``
(reports the ledger gained during the publishing window, over its length) over it says
how much of it the network carried.

Usage: ``python bench/fleet.py [--json] [--devices N] [--interval S] [--duration S]
[--single-node]``. Needs nats-server and postgresql (``deploy/dev/install-test-services.sh``).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


# -- the device side (child processes) ---------------------------------------------------


class Pending:
    """A report kept until an ack covers it."""

    __slots__ = ("due", "payload", "sends", "signed_at")

    def __init__(self, payload: bytes, signed_at: float) -> None:
        self.payload = payload
        self.signed_at = signed_at
        self.due = 0.0  # 0: not sent yet
        self.sends = 0


def run_devices(spec_file: Path, out: Path) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from fieldproof.identity import DeviceKey
    from fieldproof.protocol import parse_ack
    from fieldproof.protocol.payloads import PayloadError
    from fieldproof.wire import Record, Report, sign_report

    spec = json.loads(spec_file.read_text())
    interval, duration, drain = spec["interval"], spec["duration"], spec["drain"]
    ack_timeout = spec["ack_timeout"]
    max_wait = 4 * ack_timeout
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(spec["concurrency"])
    stats = {"connects": 0, "connect_failures": 0, "disconnects": 0, "resent": 0}
    latencies: list[float] = []
    closing = threading.Event()  # disconnects from here on are ours

    class Sim:
        def __init__(self, device: dict[str, Any]) -> None:
            self.key = DeviceKey.from_secret(int(device["key"], 16))
            self.hex = device["id"]
            self.port = device["port"]
            self.seq = 0
            self.pending: dict[int, Pending] = {}
            self.ready = threading.Event()  # connected and subscribed to its acks
            self.ever = threading.Event()
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.hex,
                protocol=mqtt.MQTTv311,
                clean_session=True,
            )
            client.username_pw_set(self.hex, device["password"])
            client.reconnect_delay_set(1, 16)
            client.connect_timeout = 10.0
            client.on_connect = self.on_connect
            client.on_connect_fail = self.on_connect_fail
            client.on_subscribe = self.on_subscribe
            client.on_disconnect = self.on_disconnect
            client.on_message = self.on_ack
            self.client = client

        def start(self) -> None:
            # keepalive bounds the wait for a CONNACK that never comes.
            self.client.connect_async("127.0.0.1", self.port, keepalive=20)
            self.client.loop_start()

        def on_connect(self, client: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
            if rc.is_failure:
                with lock:
                    stats["connect_failures"] += 1
                return
            client.subscribe(f"fp/v1/{self.hex}/ack", qos=0)

        def on_connect_fail(self, client: Any, u: Any) -> None:
            with lock:
                stats["connect_failures"] += 1

        def on_subscribe(self, client: Any, u: Any, mid: Any, reasons: Any, p: Any) -> None:
            now = time.time()
            with lock:
                stats["connects"] += 1
                # Acks sent while away may be lost: whatever waits is due one timeout on.
                for item in self.pending.values():
                    if item.sends:
                        item.due = now + ack_timeout
                        item.sends = 1
            self.ready.set()
            self.ever.set()

        def on_disconnect(self, client: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
            if self.ready.is_set() and not closing.is_set():
                with lock:
                    stats["disconnects"] += 1
            self.ready.clear()

        def on_ack(self, client: Any, u: Any, message: Any) -> None:
            try:
                ack = parse_ack(message.payload)
            except PayloadError:
                return
            now = time.time()
            with lock:
                for seq in [s for s in self.pending if ack.covers(s)]:
                    latencies.append(now - self.pending.pop(seq).signed_at)

        def make(self) -> None:
            self.seq += 1
            start = int(time.time()) - 1
            records = (Record(name="temp", value=20.0), Record(name="rh", value=50.0))
            payload = sign_report(
                Report(self.key.device_id, self.seq, start, start + 1, records), self.key
            )
            with lock:
                self.pending[self.seq] = Pending(payload, time.time())

        def send_due(self, now: float) -> None:
            """Send what was never sent and resend what waited past its timeout."""
            if not self.ready.is_set():
                return
            with lock:
                due = [item for item in self.pending.values() if item.due <= now]
                for item in due:
                    if item.sends:
                        stats["resent"] += 1
                    item.sends += 1
                    item.due = now + min(ack_timeout * 2 ** (item.sends - 1), max_wait)
            for item in due:
                self.client.publish(f"fp/v1/{self.hex}/report", item.payload, qos=1)

    sims = [Sim(device) for device in spec["devices"]]

    def ramp() -> None:
        for sim in sims:
            slots.acquire()
            sim.start()

            def release(sim: Sim = sim) -> None:
                sim.ever.wait(spec["connect_window"])
                slots.release()

            threading.Thread(target=release, daemon=True).start()

    ramp_started = time.time()
    threading.Thread(target=ramp, daemon=True).start()
    # Publishing starts when all are connected or the ramp's deadline passes; a device
    # still connecting by then starts when it is.
    deadline = time.time() + spec["ramp_deadline"]
    while time.time() < deadline and not all(s.ready.is_set() for s in sims):
        time.sleep(0.1)
    ramp_s = time.time() - ramp_started
    connected_at_start = sum(s.ready.is_set() for s in sims)
    spec_out = out.with_suffix(".ramped")
    spec_out.write_text(json.dumps({"ramp_s": ramp_s, "connected": connected_at_start}))
    # The orchestrator waits for every process to be ramped before the window opens.
    go = out.with_suffix(".go")
    while not go.exists():
        time.sleep(0.05)
    began = float(go.read_text())
    # Each device makes its reports at its own phase of the interval.
    makes = [(began + interval * i / len(sims), i) for i in range(len(sims))]
    heapq.heapify(makes)
    held_min = len(sims)
    next_check = 0.0
    while time.time() < began + duration:
        now = time.time()
        while makes and makes[0][0] <= now:
            when, i = heapq.heappop(makes)
            sims[i].make()
            heapq.heappush(makes, (when + interval, i))
        if now >= next_check:
            for sim in sims:
                sim.send_due(now)
            held_min = min(held_min, sum(s.ready.is_set() for s in sims))
            next_check = now + 0.05
        time.sleep(0.005)
    held = sum(s.ready.is_set() for s in sims)
    end = time.time() + drain
    while time.time() < end:
        with lock:
            waiting = sum(len(s.pending) for s in sims)
        if not waiting:
            break
        now = time.time()
        for sim in sims:
            sim.send_due(now)
        time.sleep(0.1)
    drained_s = time.time() - began - duration
    closing.set()
    for sim in sims:
        sim.client.disconnect()
    for sim in sims:
        sim.client.loop_stop()
    out.write_text(
        json.dumps(
            {
                "sent": {sim.hex: sim.seq for sim in sims},
                "latencies": latencies,
                "held": held,
                "held_min": held_min,
                "connected_at_start": connected_at_start,
                "ever_connected": sum(s.ever.is_set() for s in sims),
                "ramp_s": ramp_s,
                "drain_s": drained_s,
                "unacked": sum(len(s.pending) for s in sims),
                **stats,
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


# paho waits on its sockets with select(), which takes descriptors below 1,024 only; each
# client holds three (its socket and a wake-up pair), so a process keeps to this many.
DEVICES_PER_PROC = 250


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class NodeSampler:
    """Reads every node's ``/varz`` once a second: connections, messages, CPU."""

    def __init__(self, monitor_ports: list[int]) -> None:
        self.ports = monitor_ports
        self.samples: list[tuple[float, list[dict[str, Any]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def read(self) -> list[dict[str, Any]]:
        nodes = []
        for port in self.ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/varz", timeout=2) as r:
                    nodes.append(json.load(r))
            except (OSError, ValueError):
                nodes.append({})
        return nodes

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.read()))
            self._stop.wait(1.0)

    def window(self, begin: float, end: float) -> dict[str, Any]:
        """Per node over [begin, end]: most connections, messages in/out per second,
        mean CPU (% of one core)."""
        inside = [(t, nodes) for t, nodes in self.samples if begin <= t <= end]
        if len(inside) < 2:
            return {}
        (t0, first), (t1, last) = inside[0], inside[-1]
        out: dict[str, Any] = {"connections_max": [], "in_msgs_per_s": [], "out_msgs_per_s": []}
        out["cpu_percent_mean"] = []
        for index in range(len(self.ports)):
            out["connections_max"].append(
                max(nodes[index].get("connections", 0) for _, nodes in inside)
            )
            for key in ("in_msgs", "out_msgs"):
                delta = last[index].get(key, 0) - first[index].get(key, 0)
                out[f"{key}_per_s"].append(round(delta / (t1 - t0)))
            cpus = [nodes[index].get("cpu", 0.0) for _, nodes in inside]
            out["cpu_percent_mean"].append(round(statistics.fmean(cpus), 1))
        return out


def _wait_log(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"{path.stem} did not start: {path.read_text() if path.exists() else ''}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between reports")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of publishing")
    parser.add_argument(
        "--procs",
        type=int,
        default=0,
        help=f"device processes (default: one per {DEVICES_PER_PROC} devices)",
    )
    parser.add_argument(
        "--connect-concurrency", type=int, default=64, help="connections opening at once"
    )
    parser.add_argument(
        "--ack-timeout", type=float, default=10.0, help="seconds before a report is resent"
    )
    parser.add_argument(
        "--drain", type=float, default=120.0, help="most seconds to wait for the last acks"
    )
    parser.add_argument(
        "--single-node",
        action="store_true",
        help="every device on the first node (per-node connections and messages/s)",
    )
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

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fieldproof-bench-fleet-") as tmp:
        work = Path(tmp)
        pg_dir = Path(tempfile.mkdtemp(prefix="fieldproof-bench-fleet-pg-"))
        postgres = PostgresServer(_pg_bin_dir(), pg_dir, free_port())
        postgres.start()
        cluster = None
        sampler = None
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
            if args.single_node:
                ports = ports[:1]
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
                    "ingest": {"verify_workers": 0},
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
            for name in ("fleet-a", "fleet-b"):
                _wait_log(work / f"{name}.log", "aggregator running", 120)
            sampler = NodeSampler([node.monitor_port for node in cluster.nodes])
            sampler.start()
            outs = []
            procs = args.procs or -(-len(devices) // DEVICES_PER_PROC)
            per = -(-len(devices) // procs)
            if per > DEVICES_PER_PROC:
                raise SystemExit(f"more than {DEVICES_PER_PROC} devices a process: raise --procs")
            concurrency = max(1, args.connect_concurrency // procs)
            for p in range(procs):
                spec = {
                    "devices": devices[p * per : (p + 1) * per],
                    "interval": args.interval,
                    "duration": args.duration,
                    "drain": args.drain,
                    "ack_timeout": args.ack_timeout,
                    "concurrency": concurrency,
                    "connect_window": 15.0,
                    "ramp_deadline": 180.0,
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
            while not all(out.with_suffix(".ramped").exists() for out in outs):
                if any(child.poll() is not None for child in children):
                    raise SystemExit("a device process ended before its ramp did")
                time.sleep(0.1)
            ramps = [json.loads(out.with_suffix(".ramped").read_text()) for out in outs]
            ledger = open_ledger(ledger_url, migrate=False)
            began = time.time() + 0.5
            for out in outs:
                out.with_suffix(".go").write_text(repr(began))
            while time.time() < began:
                time.sleep(0.01)
            stored_at_begin = ledger.count_reports()
            while time.time() < began + args.duration:
                time.sleep(0.05)
            stored_in_window = ledger.count_reports() - stored_at_begin
            nodes = sampler.window(began, began + args.duration)
            for child in children:
                child.wait(args.duration + args.drain + 120)
            results = [json.loads(out.read_text()) for out in outs]
            # Every ack is sent after its commit: what a device saw acked is stored. What
            # was never acked may still be on its way; wait until the count stops moving.
            last, steady_since = -1, time.monotonic()
            while time.monotonic() - steady_since < 3.0:
                count = ledger.count_reports()
                if count != last:
                    last, steady_since = count, time.monotonic()
                time.sleep(0.25)
            allocated: dict[str, int] = {}
            for result in results:
                allocated.update(result["sent"])
            lost = duplicated = 0
            for hex_id, count in allocated.items():
                device_id = bytes.fromhex(hex_id[2:])
                seqs = [h.seq for h in ledger.device_reports(device_id, limit=count + 100)]
                distinct = set(seqs) & set(range(1, count + 1))
                lost += count - len(distinct)
                duplicated += len(seqs) - len(set(seqs))
            ledger.close()
            latencies = [v for r in results for v in r["latencies"]]
            offered = len(devices) / args.interval
            summary = {
                "devices": len(devices),
                "device_nodes": len(ports),
                "connections_held": sum(r["held"] for r in results),
                "connections_held_min": sum(r["held_min"] for r in results),
                "connected_before_window": sum(r["connected"] for r in ramps),
                "ramp_s": round(max(r["ramp_s"] for r in ramps), 1),
                "connects": sum(r["connects"] for r in results),
                "connect_failures": sum(r["connect_failures"] for r in results),
                "disconnects": sum(r["disconnects"] for r in results),
                "reports": sum(allocated.values()),
                "reports_per_s": round(stored_in_window / args.duration, 1),
                "offered_per_s": round(offered, 1),
                "carried_vs_offered": round(stored_in_window / args.duration / offered, 3),
                "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                "latency_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
                "latency_mean_ms": round(statistics.fmean(latencies) * 1000, 1)
                if latencies
                else None,
                "lost": lost,
                "duplicated": duplicated,
                "resent": sum(r["resent"] for r in results),
                "unacked_at_end": sum(r["unacked"] for r in results),
                "drain_s": round(max(r["drain_s"] for r in results), 1),
                "nodes": nodes,
                "cores": os.cpu_count(),
                "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        finally:
            if sampler is not None:
                sampler.stop()
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait(10)
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
            shutil.rmtree(pg_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
