"""Aggregator ingest throughput against the raw paho receive rate, on one Mosquitto, and
against the raw JetStream consume rate, on a three-node NATS cluster.

Every phase uses the same broker and the same pre-signed reports. The reports are first
queued by the broker for the phase's (persistent, shared-subscription) session while the
consumer is away, then the consumer connects and drains them; the rate is reports over
the time from the first to the last delivery (raw) or commit (aggregator). So the load
generator's CPU does not compete with the consumer, and each phase measures what a
consumer can take, not what the publisher can give.

Phases: ``raw`` (paho v5 client that acknowledges and counts, the baseline), ``sqlite``
(``python -m aggregator run`` with ``ingest.verify_workers: auto``: one worker process
per core decodes and verifies (ES256), the aggregator process receives, checks
sequence, commits to SQLite WAL and acknowledges after the commit; the series
projection runs in its own process, not during the measurement), ``sqlite_inline``
(the same with ``verify_workers: 0``: decode and verify in the receiving thread),
``sqlite_projecting`` (as ``sqlite`` with the projection inside the ingest process),
``postgres`` (as ``sqlite_inline`` on PostgreSQL), ``two_process`` (two such
aggregator processes in one shared-subscription group on one PostgreSQL). Batch size
and receive window are the config defaults.

NATS phases, on a three-node cluster from ``deploy/nats/nats-server.conf`` (replicas 3,
file storage) on the same machine: the reports are published into the stream while no
consumer pulls, then ``nats_raw`` (a nats-py pull consumer that acknowledges and counts,
the baseline), ``nats_postgres`` and ``nats_two_process`` (one and two aggregator
processes on the durable consumer, ``verify_workers: 0``, PostgreSQL: the same as
``postgres`` and ``two_process`` on Mosquitto) drain them.

Usage: ``python bench/ingest.py [--json] [--reports N] [--phases a,b,…]``; ratios are
printed for the phases that ran with their baseline (``--phases
postgres,two_process,nats_raw,nats_postgres,nats_two_process`` compares the two
transports). Needs mosquitto, postgresql and
nats-server (Debian packages) and ``psutil`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEVICES = 50
GROUP_PREFIX = "bench"


# -- helpers run in child processes -----------------------------------------------------


def _publish(port: int, payload_file: Path) -> None:
    """Load generator: publish the pre-signed reports, QoS 1, as fast as the broker takes."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    messages: list[tuple[str, bytes]] = pickle.loads(payload_file.read_bytes())
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def _raw_subscribe(port: int, group: str, client_id: str, expect: int, out: Path) -> None:
    """Baseline consumer: paho v5, shared subscription, ack on receipt, count."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    done = threading.Event()
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(f"$share/{group}/fp/v1/+/report", qos=1)

    def on_subscribe(client: Any, userdata: Any, mid: Any, reasons: Any, props: Any) -> None:
        out.with_suffix(".subscribed").write_text("1")

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        now = time.perf_counter()
        if state["n"] == 0:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= expect:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 2000  # the aggregator's default window
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    if expect == 0:  # only create the session
        deadline = time.monotonic() + 10
        while not out.with_suffix(".subscribed").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        done.wait(300)
    client.disconnect()
    client.loop_stop()
    out.write_text(json.dumps({"n": state["n"], "seconds": state["last"] - state["first"]}))


async def _js_load(servers: list[str], payload_file: Path) -> None:
    """Publish the pre-signed reports into the stream, each acknowledged by it."""
    import asyncio

    import nats

    messages: list[tuple[str, bytes]] = pickle.loads(payload_file.read_bytes())
    nc = await nats.connect(servers, user="test", password="test")
    js = nc.jetstream(timeout=30)
    for start in range(0, len(messages), 500):
        chunk = messages[start : start + 500]
        await asyncio.gather(*(js.publish(t.replace("/", "."), p) for t, p in chunk))
    await nc.close()


async def _js_raw(servers: list[str], stream: str, expect: int, out: Path) -> None:
    """Baseline: pull from the durable consumer, acknowledge each message, count."""
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    nc = await nats.connect(servers, user="test", password="test")
    sub = await nc.jetstream().pull_subscribe_bind("aggregators", stream)
    n, first, last = 0, 0.0, 0.0
    deadline = time.monotonic() + 300
    while n < expect and time.monotonic() < deadline:
        try:
            batch = await sub.fetch(500, timeout=1)
        except NatsTimeout:
            continue
        for message in batch:
            await message.ack()
        now = time.perf_counter()
        first = first or now
        n, last = n + len(batch), now
    await nc.close()
    out.write_text(json.dumps({"n": n, "seconds": last - first}))


# -- orchestration ----------------------------------------------------------------------


def _rusage_cpu(process: subprocess.Popen[bytes]) -> float:
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return float(usage.ru_utime + usage.ru_stime)


def _process_tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of process ``pid`` and of all its descendants (verify workers)."""
    import psutil  # type: ignore[import-untyped]

    process = psutil.Process(pid)
    own = process.cpu_times()
    descendants = 0.0
    for child in process.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        descendants += times.user + times.system
    return float(own.user + own.system), descendants


class Bench:
    def __init__(self, reports: int, work: Path) -> None:
        import psutil

        from tests.services.mosquitto import MosquittoBroker

        self.reports = reports
        self.work = work
        broker_dir = work / "mosquitto"
        broker_dir.mkdir()
        from tests.services.ports import free_port

        binary = Path("/usr/sbin/mosquitto")
        if not binary.exists():
            raise SystemExit("mosquitto not found: apt-get install mosquitto")
        self.broker = MosquittoBroker(binary, broker_dir, free_port())
        self.broker.start()
        assert self.broker.process is not None
        self.broker_ps = psutil.Process(self.broker.process.pid)
        self.broker_cpu: dict[str, float] = {}
        self.loadgen_cpu: dict[str, float] = {}
        self.consumer_cpu: dict[str, float] = {}
        self.payload_file = work / "payloads.pickle"
        self.devices = self._sign()
        self.postgres: Any = None
        self.postgres_dir = Path()
        self.worker_cpu: dict[str, float] = {}
        self._startup_cpu = 0.0
        self._startup_worker_cpu = 0.0
        self.cluster: Any = None
        self._nats_phase = False

    def _sign(self) -> list[Any]:
        from fieldproof.identity import DeviceKey
        from fieldproof.wire import Record, Report, sign_report

        keys = [DeviceKey.generate() for _ in range(DEVICES)]
        now = int(time.time())
        messages = []
        for i in range(self.reports):
            key = keys[i % DEVICES]
            seq = i // DEVICES + 1
            start = now - 3600 + (seq % 3000)
            records = (
                Record(name="temp", value=18.0 + (i % 40) / 8, time=float(start)),
                Record(name="rh", value=40.0 + (i % 30), time=float(start)),
                Record(name="pres", value=101_325.0, time=float(start)),
                Record(name="pm25", value=float(i % 50), time=float(start)),
                Record(name="line1/car/in", unit="count", value=float(i % 9), time=float(start)),
                Record(name="line1/car/out", unit="count", value=float(i % 5), time=float(start)),
            )
            report = Report(bytes(key.device_id), seq, start, start + 60, records)
            topic = f"fp/v1/0x{bytes(key.device_id).hex()}/report"
            messages.append((topic, sign_report(report, key)))
        self.payload_file.write_bytes(pickle.dumps(messages))
        return keys

    def _child(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, __file__, *args],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
        )

    def _load(self, phase: str) -> None:
        """Publish every report into the broker's queue for the phase's sessions."""
        if self._nats_phase:
            servers = ",".join(self.cluster.servers)
            publisher = self._child("--child-js-load", servers, str(self.payload_file))
        else:
            port = str(self.broker.port)
            publisher = self._child("--child-publish", port, str(self.payload_file))
        self.loadgen_cpu[phase] = _rusage_cpu(publisher)
        if publisher.returncode != 0:
            raise SystemExit(f"load generator failed in phase {phase}")

    def _broker_cpu(self) -> float:
        if self._nats_phase:
            import psutil

            total = 0.0
            for node in self.cluster.nodes:
                times = psutil.Process(node.process.pid).cpu_times()
                total += times.user + times.system
            return total
        times = self.broker_ps.cpu_times()
        return float(times.user + times.system)

    def start_nats(self) -> None:
        from tests.services.nats import start_cluster

        self.cluster = start_cluster(self.work)
        self._nats_phase = True

    def fresh_stream(self) -> None:
        """Drop the stream (and its consumer): the next aggregator creates them anew."""
        import asyncio

        import nats
        from nats.js.errors import NotFoundError

        async def drop() -> None:
            nc = await nats.connect(self.cluster.servers, user="test", password="test")
            with contextlib.suppress(NotFoundError):
                await nc.jetstream().delete_stream("FIELDPROOF")
            await nc.close()

        asyncio.run(drop())

    def nats_raw(self) -> float:
        import asyncio

        import nats

        from aggregator.config import NatsConfig
        from aggregator.ingest.nats_consumer import consumer_config, stream_config

        async def create() -> None:
            nc = await nats.connect(self.cluster.servers, user="test", password="test")
            js = nc.jetstream()
            await js.add_stream(stream_config(NatsConfig.model_validate({})))
            await js.add_consumer("FIELDPROOF", consumer_config(NatsConfig.model_validate({})))
            await nc.close()

        self.fresh_stream()
        asyncio.run(create())
        self._load("nats_raw")
        out = self.work / "nats-raw.json"
        before = self._broker_cpu()
        args = (",".join(self.cluster.servers), str(self.reports), str(out))
        self.consumer_cpu["nats_raw"] = _rusage_cpu(self._child("--child-js-raw", *args))
        self.broker_cpu["nats_raw"] = self._broker_cpu() - before
        result = json.loads(out.read_text())
        if result["n"] < self.reports:
            raise SystemExit(f"raw JetStream consumer got {result['n']} of {self.reports}")
        return float(self.reports / result["seconds"])

    def raw(self) -> float:
        group, client_id = f"{GROUP_PREFIX}-raw", "raw-consumer"
        out = self.work / "raw.json"
        self._child("--child-raw", str(self.broker.port), group, client_id, "0", str(out)).wait(30)
        self._load("raw")
        before = self._broker_cpu()
        args = (str(self.broker.port), group, client_id, str(self.reports), str(out))
        self.consumer_cpu["raw"] = _rusage_cpu(self._child("--child-raw", *args))
        self.broker_cpu["raw"] = self._broker_cpu() - before
        result = json.loads(out.read_text())
        if result["n"] < self.reports:
            raise SystemExit(f"raw consumer got {result['n']} of {self.reports}")
        return float(self.reports / result["seconds"])

    def _allowlist(self) -> Path:
        from aggregator.registry.allowlist import write_allowlist
        from fieldproof.identity import did_key_from_public_key

        path = self.work / "devices.yaml"
        write_allowlist(path, [(did_key_from_public_key(k.public_key), True) for k in self.devices])
        return path

    def _config(
        self, name: str, group: str, ledger_url: str, projecting: bool, workers: int | str
    ) -> Path:
        import yaml

        mqtt: dict[str, Any] = {
            "url": f"mqtt://127.0.0.1:{self.broker.port}",
            "group": group,
            "client_id": name,
        }
        if self._nats_phase:
            mqtt = {**mqtt, "url": self.cluster.url, "username": "test", "password": "test"}
        data = {
            "mqtt": mqtt,
            # Batch size and window are the defaults (1,000 / 2,000).
            "ingest": {"verify_workers": workers},
            "ledger": {"url": ledger_url},
            "roles": ["ingest", "projection"] if projecting else ["ingest"],
            "series": {"url": f"sqlite:///{self.work}/{name}-series.db"},
            "registry": {"mode": "allowlist", "allowlist": {"path": str(self._allowlist())}},
            "metrics": {"enabled": False},
        }
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def _spawn(self, config: Path) -> subprocess.Popen[bytes]:
        log = (self.work / f"{config.stem}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", "run", "--config", str(config)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _stop(self, processes: list[subprocess.Popen[bytes]]) -> None:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)

    def aggregator(
        self,
        phase: str,
        ledger_url: str,
        processes: int,
        *,
        projecting: bool = False,
        workers: int | str = 0,
    ) -> float:
        from aggregator.ledger import open_ledger

        group = f"{GROUP_PREFIX}-{phase}"
        configs = [
            self._config(f"{phase}-{i}", group, ledger_url, projecting, workers)
            for i in range(processes)
        ]
        ledger = open_ledger(ledger_url)
        count: Callable[[], int] = ledger.count_reports
        if self._nats_phase:
            self.fresh_stream()
        # First run: create the persistent sessions (the stream and consumer), then leave.
        running = [self._spawn(c) for c in configs]
        for config in configs:
            self._wait_log(config, "aggregator running")
        time.sleep(0.5)

        idle = [_process_tree_cpu(p.pid) for p in running]
        self._startup_cpu = sum(own for own, _ in idle) / len(idle)
        self._startup_worker_cpu = sum(workers for _, workers in idle) / len(idle)
        self._stop(running)
        self._load(phase)
        before = self._broker_cpu()
        running = [self._spawn(c) for c in configs]
        first = last = 0.0
        seen = first_n = 0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            n = count()
            now = time.perf_counter()
            if n > seen and seen == 0:
                first, first_n = now, n
            if n > seen:
                last, seen = now, n
            if n >= self.reports:
                break
            time.sleep(0.01)
        self.broker_cpu[phase] = self._broker_cpu() - before
        self.consumer_cpu[phase], self.worker_cpu[phase] = self._cpu_of(running)
        self._stop(running)
        ledger.close()
        if seen < self.reports:
            raise SystemExit(f"phase {phase}: {seen} of {self.reports} stored")
        return float((seen - first_n) / (last - first))

    def _cpu_of(self, processes: list[subprocess.Popen[bytes]]) -> tuple[float, float]:
        """CPU seconds of the aggregator processes and of their verify workers, start-up
        (imports) excluded."""
        own = workers = 0.0
        for process in processes:
            process_cpu, workers_cpu = _process_tree_cpu(process.pid)
            own += process_cpu - self._startup_cpu
            workers += workers_cpu - self._startup_worker_cpu
        return own, workers

    def _wait_log(self, config: Path, text: str) -> None:
        log = self.work / f"{config.stem}.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and text in log.read_text():
                return
            time.sleep(0.05)
        raise SystemExit(f"{config.stem} did not start: {log.read_text() if log.exists() else ''}")

    def postgres_url(self, name: str) -> str:
        if self.postgres is None:
            from tests.services.ports import free_port
            from tests.services.postgres import PostgresServer, _pg_bin_dir

            self.postgres_dir = Path(tempfile.mkdtemp(prefix="fieldproof-bench-pg-"))
            self.postgres = PostgresServer(_pg_bin_dir(), self.postgres_dir, free_port())
            self.postgres.start()
        url: str = self.postgres.create_database(name)
        return url

    def close(self) -> None:
        self.broker.stop()
        if self.cluster is not None:
            self.cluster.stop()
        if self.postgres is not None:
            self.postgres.stop()
            shutil.rmtree(self.postgres_dir, ignore_errors=True)


# Every phase, in the order they run; ``--phases`` picks some.
PHASES = (
    "raw",
    "sqlite",
    "sqlite_inline",
    "sqlite_projecting",
    "postgres",
    "two_process",
    "nats_raw",
    "nats_postgres",
    "nats_two_process",
)
RATE_NAMES = {
    "raw": "raw_receive_per_s",
    "sqlite": "sqlite_per_s",
    "sqlite_inline": "sqlite_inline_per_s",
    "sqlite_projecting": "sqlite_projecting_per_s",
    "postgres": "postgres_per_s",
    "two_process": "two_process_per_s",
    "nats_raw": "nats_raw_consume_per_s",
    "nats_postgres": "nats_postgres_per_s",
    "nats_two_process": "nats_two_process_per_s",
}
# ratio -> (phase, baseline phase), printed when both ran.
RATIOS = {
    "sqlite_vs_raw": ("sqlite", "raw"),
    "sqlite_inline_vs_raw": ("sqlite_inline", "raw"),
    "two_vs_one": ("two_process", "postgres"),
    "nats_postgres_vs_raw": ("nats_postgres", "nats_raw"),
    "nats_two_vs_one": ("nats_two_process", "nats_postgres"),
    "nats_vs_mosquitto_one": ("nats_postgres", "postgres"),
    "nats_vs_mosquitto_two": ("nats_two_process", "two_process"),
}


def run_phase(bench: Bench, phase: str, tmp: str) -> float:
    if phase == "raw":
        return bench.raw()
    if phase == "nats_raw":
        return bench.nats_raw()
    if phase == "sqlite":
        return bench.aggregator(phase, f"sqlite:///{tmp}/ledger.db", 1, workers="auto")
    if phase == "sqlite_inline":
        return bench.aggregator(phase, f"sqlite:///{tmp}/ledger-i.db", 1)
    if phase == "sqlite_projecting":
        return bench.aggregator(
            phase, f"sqlite:///{tmp}/ledger-p.db", 1, projecting=True, workers="auto"
        )
    processes = 2 if phase.endswith("two_process") else 1
    return bench.aggregator(phase, bench.postgres_url(f"bench_{phase}"), processes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--reports", type=int, default=20_000, help="reports per phase")
    parser.add_argument(
        "--phases",
        help="comma-separated phases to run (default: all): " + ", ".join(PHASES),
    )
    parser.add_argument("--child-publish", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-raw", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--child-js-load", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-js-raw", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_js_load:
        import asyncio

        servers, payloads = args.child_js_load
        asyncio.run(_js_load(servers.split(","), Path(payloads)))
        return 0
    if args.child_js_raw:
        import asyncio

        servers, expect, out = args.child_js_raw
        asyncio.run(_js_raw(servers.split(","), "FIELDPROOF", int(expect), Path(out)))
        return 0
    if args.child_publish:
        _publish(int(args.child_publish[0]), Path(args.child_publish[1]))
        return 0
    if args.child_raw:
        port, group, client_id, expect, out = args.child_raw
        _raw_subscribe(int(port), group, client_id, int(expect), Path(out))
        return 0
    phases = PHASES if args.phases is None else args.phases.split(",")
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(unknown)}; known: {', '.join(PHASES)}")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="fieldproof-bench-ingest-") as tmp:
        bench = Bench(args.reports, Path(tmp))
        try:
            load_before = os.getloadavg()[0]
            for phase in PHASES:  # in this order: the NATS phases come last
                if phase not in phases:
                    continue
                if phase.startswith("nats_") and bench.cluster is None:
                    bench.start_nats()
                rates[phase] = run_phase(bench, phase, tmp)
            load_after = os.getloadavg()[0]
        finally:
            bench.close()
    result: dict[str, Any] = {"reports": args.reports, "phases": phases}
    for phase, name in RATE_NAMES.items():
        if phase in rates:
            result[name] = round(rates[phase])
    for name, (top, bottom) in RATIOS.items():
        if top in rates and bottom in rates:
            result[name] = round(rates[top] / rates[bottom], 3)
    result.update(
        {
            "cores": os.cpu_count(),
            "verify_workers": len(os.sched_getaffinity(0)),
            # Other work on the machine competes for the same cores: say how much there was.
            "load_average_1m": [round(load_before, 2), round(load_after, 2)],
            "broker_cpu_s": {k: round(v, 2) for k, v in bench.broker_cpu.items()},
            "loadgen_cpu_s": {k: round(v, 2) for k, v in bench.loadgen_cpu.items()},
            # CPU per report of the aggregator processes and, apart, of their verify
            # workers: steadier than the rates when other work shares the machine.
            "consumer_cpu_us_per_report": {
                k: round(v / args.reports * 1e6) for k, v in bench.consumer_cpu.items()
            },
            "verify_worker_cpu_us_per_report": {
                k: round(v / args.reports * 1e6) for k, v in bench.worker_cpu.items() if v > 0.05
            },
        }
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
