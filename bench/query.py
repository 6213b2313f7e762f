"""Query latency of the HTTP API on both series backends (SQLite and InfluxDB 1.x).

Data, written straight into each store (no ingest), with generation time kept bounded:

* ``device_day``: one device's raw ``temp`` readings, one per minute for a day (1,440
  points), asked for as raw points of that device and day;
* ``aggregate``: a sparse metric on 1,000 devices for 30 days: ``no2`` every 6 hours
  per device, staggered so every hour holds ~167 devices (120,000 points), asked for as
  the fleet-wide hourly mean over the 30 days (``every=1h&agg=mean&group=fleet``: 720
  buckets);
* ``aggregate_dense`` (extra): the same query over hourly pre-aggregated ``pm25`` values
  of all 1,000 devices (720,000 points).

Queries start once the store's server has settled after the bulk write (InfluxDB
compacts for a while afterwards). Each query goes through the API over HTTP (uvicorn in
this process, one keep-alive connection) and, as the baseline in the same run, straight
to the store in-process (no HTTP, no JSON); the ratio is API time over store time.

Usage: ``python bench/query.py [--json] [--repeat N]``. Needs ``influxd`` (Debian
``influxdb``) on PATH or in /usr/bin.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.broker import free_port  # noqa: E402 - after the path is set

DEVICES = 1_000
DAYS = 30
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a day boundary
DAY = 86_400


class Influxd:
    """A throw-away influxd on free loopback ports."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not Path(binary).exists():
            raise SystemExit("influxd not found; install it with: apt-get install influxdb")
        self.port = free_port()
        config = directory / "influxdb.conf"
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{directory}/meta"\n'
            f'[data]\n  dir = "{directory}/data"\n  wal-dir = "{directory}/wal"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
        )
        self.process = subprocess.Popen(
            [binary, "-config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(directory / "influxd.log").open("ab"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("influxd did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def device_hex(index: int) -> str:
    return "0x" + index.to_bytes(32, "big").hex()


def generate(store: Any) -> dict[str, float]:
    """Write the two data sets; returns seconds spent on each."""
    from aggregator.series import Point

    began = time.perf_counter()
    day = [
        Point("temp", (), device_hex(0), (T0 + 60 * i) * 1000, 15.0 + (i % 240) / 16)
        for i in range(1440)
    ]
    store.write(day)
    device_day_s = time.perf_counter() - began
    began = time.perf_counter()
    batch: list[Any] = []
    for hour in range(DAYS * 24):
        t_ms = (T0 + hour * 3600) * 1000
        for device in range(DEVICES):
            value = float((hour + device) % 50)
            batch.append(Point("pm25", (), device_hex(device), t_ms, value))
            if (hour + device) % 6 == 0:
                batch.append(Point("no2", (), device_hex(device), t_ms, value / 2))
        if len(batch) >= 50_000:
            store.write(batch)
            batch = []
    store.write(batch)
    return {"device_day_s": device_day_s, "fleet_s": time.perf_counter() - began}


QUERIES: dict[str, dict[str, Any]] = {
    "device_day": {
        "params": {
            "metric": "temp",
            "device": device_hex(0),
            "start": T0,
            "end": T0 + DAY,
            "limit": 10_000,
        },
        "expect": 1440,
    },
    "aggregate": {
        "params": {
            "metric": "no2",
            "start": T0,
            "end": T0 + DAYS * DAY,
            "every": "1h",
            "agg": "mean",
            "group": "fleet",
            "limit": 10_000,
        },
        "expect": DAYS * 24,
    },
    "aggregate_dense": {
        "params": {
            "metric": "pm25",
            "start": T0,
            "end": T0 + DAYS * DAY,
            "every": "1h",
            "agg": "mean",
            "group": "fleet",
            "limit": 10_000,
        },
        "expect": DAYS * 24,
    },
}


def store_call(store: Any, name: str) -> Callable[[], int]:
    if name == "device_day":
        return lambda: len(store.series("temp", [device_hex(0)], T0, T0 + DAY))
    metric = QUERIES[name]["params"]["metric"]
    return lambda: len(store.fleet(metric, None, T0, T0 + DAYS * DAY, every=3600, agg="mean"))


def timings(call: Callable[[], int], expect: int, repeat: int) -> list[float]:
    assert call() == expect  # warm-up, and a check that the answer is complete
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        got = call()
        out.append((time.perf_counter() - began) * 1000)
        assert got == expect, (got, expect)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def settle(pid: int | None, limit_s: float = 90.0) -> float:
    """Wait until the store's server has finished digesting the bulk write (InfluxDB
    compacts its cache into TSM files for a while afterwards): until its CPU use drops
    below a fifth of a core, at most ``limit_s``. Returns the seconds waited."""
    if pid is None:
        return 0.0
    try:
        import psutil
    except ImportError:  # the bench extra is missing: a fixed pause instead
        time.sleep(15)
        return 15.0
    began = time.monotonic()
    process = psutil.Process(pid)
    process.cpu_percent(None)
    while time.monotonic() - began < limit_s:
        if process.cpu_percent(interval=2.0) < 20:
            break
    return time.monotonic() - began


def run_backend(
    store: Any, ledger_url: str, repeat: int, server_pid: int | None = None
) -> dict[str, Any]:
    from aggregator.api import ApiConfig, ApiServer, ApiSources, create_app
    from aggregator.ledger import open_ledger

    generated = generate(store)
    generated["settle_s"] = settle(server_pid)
    ledger = open_ledger(ledger_url)
    config = ApiConfig(anonymous_rate_per_s=1e9, anonymous_burst=10**9)
    server = ApiServer(create_app(ApiSources(ledger=ledger, series=store), config))
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def api_call(params: dict[str, Any]) -> Callable[[], int]:
        path = "/v1/series?" + urllib.parse.urlencode(params)

        def call() -> int:
            try:
                connection.request("GET", path)
                response = connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closes idle keep-alive connections (after 5 s); reconnect.
                connection.close()
                connection.request("GET", path)
                response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}: {body[:300]!r}")
            return len(json.loads(body)["points"])

        return call

    result: dict[str, Any] = {"generate_s": {k: round(v, 2) for k, v in generated.items()}}
    try:
        for name, query in QUERIES.items():
            runs = {"device_day": repeat, "aggregate": max(5, repeat // 2)}.get(name, 5)
            api = timings(api_call(query["params"]), query["expect"], runs)
            direct = timings(store_call(store, name), query["expect"], runs)
            result[f"{name}_p50_ms"] = pct(api, 0.5)
            result[f"{name}_p95_ms"] = pct(api, 0.95)
            result[f"{name}_store_p50_ms"] = pct(direct, 0.5)
            result[f"{name}_api_over_store"] = round(pct(api, 0.5) / max(pct(direct, 0.5), 1e-3), 2)
    finally:
        connection.close()
        server.stop()
        ledger.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--repeat", type=int, default=40, help="timed runs of the device-day query")
    args = parser.parse_args()
    from aggregator.series import open_series

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        sqlite = open_series(f"sqlite:///{directory / 'series.db'}")
        results["sqlite"] = run_backend(
            sqlite, f"sqlite:///{directory / 'ledger1.db'}", args.repeat
        )
        sqlite.close()
        (directory / "influx").mkdir()
        influxd = Influxd(directory / "influx")
        try:
            influx = open_series(f"influx://127.0.0.1:{influxd.port}/bench")
            results["influx"] = run_backend(
                influx, f"sqlite:///{directory / 'ledger2.db'}", args.repeat, influxd.process.pid
            )
        finally:
            influxd.stop()
    results["data"] = {
        "device_day_points": 1440,
        "fleet_devices": DEVICES,
        "sparse_points": DEVICES * DAYS * 4,
        "dense_points": DEVICES * DAYS * 24,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for backend in ("sqlite", "influx"):
            r = results[backend]
            for name in QUERIES:
                print(
                    f"{backend:7} {name:16} p50 {r[name + '_p50_ms']:9} ms  "
                    f"p95 {r[name + '_p95_ms']:9} ms  store p50 {r[name + '_store_p50_ms']} ms"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
