"""Health readers on a fake sysfs/proc tree, snapshots, /metrics and sd_notify."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge_agent.health import readers
from edge_agent.health.snapshot import HealthCollector, health_registry, render_prometheus
from edge_agent.health.stats import StatsRegistry
from edge_agent.link.client import LinkState
from edge_agent.outbox import OutboxStats
from fieldproof.metrics_http import MetricsServer


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def jetson(tmp_path: Path) -> Path:
    """A Jetson Orin-like tree: GPU load, thermal zones, INA3221 rails, /proc."""
    root = tmp_path / "root"
    _write(root, "sys/devices/platform/17000000.ga10b/load", "437\n")
    _write(root, "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    _write(root, "sys/class/thermal/thermal_zone0/temp", "48500\n")
    _write(root, "sys/class/thermal/thermal_zone1/type", "gpu-thermal\n")
    _write(root, "sys/class/thermal/thermal_zone1/temp", "51250\n")
    hwmon = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    _write(root, f"{hwmon}/in1_label", "VDD_IN\n")
    _write(root, f"{hwmon}/in1_input", "5000\n")
    _write(root, f"{hwmon}/curr1_input", "1200\n")
    _write(root, f"{hwmon}/in2_label", "VDD_CPU_GPU_CV\n")
    _write(root, f"{hwmon}/in2_input", "4960\n")
    _write(root, f"{hwmon}/curr2_input", "500\n")
    _write(root, "proc/stat", "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n")
    _write(
        root,
        "proc/meminfo",
        "MemTotal:        7800000 kB\nMemFree:  1000 kB\nMemAvailable:    5000000 kB\n",
    )
    return root


def test_readers_on_fake_jetson(jetson: Path) -> None:
    assert readers.jetson_gpu_load(jetson) == pytest.approx(43.7)
    assert readers.thermal_zones(jetson) == {"cpu-thermal": 48.5, "gpu-thermal": 51.25}
    power = readers.ina3221_power(jetson)
    assert power["VDD_IN"] == pytest.approx(6.0)
    assert power["VDD_CPU_GPU_CV"] == pytest.approx(2.48)
    mem = readers.memory(jetson)
    assert mem == readers.MemoryInfo(7_800_000 * 1024, 5_000_000 * 1024)
    before = readers.cpu_times(jetson)
    assert before == readers.CpuTimes(busy=200, total=1000)
    _write(jetson, "proc/stat", "cpu  150 0 150 750 150 0 0 0 0 0\n")
    after = readers.cpu_times(jetson)
    assert readers.cpu_percent(before, after) == pytest.approx(50.0)


def test_readers_on_empty_tree(tmp_path: Path) -> None:
    assert readers.jetson_gpu_load(tmp_path) is None
    assert readers.thermal_zones(tmp_path) == {}
    assert readers.ina3221_power(tmp_path) == {}
    assert readers.cpu_times(tmp_path) is None
    assert readers.memory(tmp_path) is None
    assert readers.cpu_percent(None, None) is None
    assert readers.disk(tmp_path / "missing") is None
    assert readers.disk(tmp_path) is not None


def test_stats_registry_percentiles() -> None:
    stats = StatsRegistry(window=100, clock=lambda: 5.0)
    assert stats.inference_ms() == (None, None)
    for value in range(1, 101):
        stats.report_inference_ms(float(value))
    mean, p95 = stats.inference_ms()
    assert mean == pytest.approx(50.5)
    assert p95 == 95.0
    stats.report_camera("b", fps=9.5, dropped_frames=2, connected=True)
    stats.report_camera("a", fps=0.0, dropped_frames=0, connected=False)
    assert [c.name for c in stats.cameras()] == ["a", "b"]


def test_snapshot_and_prometheus(jetson: Path, tmp_path: Path) -> None:
    stats = StatsRegistry()
    stats.report_camera("door", fps=12.0, dropped_frames=3, connected=True)
    stats.report_inference_ms(14.0)
    collector = HealthCollector(
        "0xabc",
        root=jetson,
        disk_path=tmp_path,
        stats=stats,
        outbox=lambda: OutboxStats(depth=7, bytes=700, dropped=2, next_seq=40, oldest_created=90.0),
        link=lambda: LinkState(True, 3, 2, None),
        models=lambda: ("nanodet-m",),
        config_version=lambda: 4,
        clock=lambda: 100.0,
        gpus=lambda: [readers.GpuReading(0, 55.0, 61.0, 1 << 30, 8 << 30, 70.5)],
    )
    _write(jetson, "proc/stat", "cpu  200 0 200 800 100 0 0 0 0 0\n")
    snapshot = collector.collect()
    assert snapshot.outbox_depth == 7
    assert snapshot.outbox_oldest_age_s == 10.0
    assert snapshot.cpu_percent == pytest.approx(100.0 * 200 / 300)
    document = snapshot.to_json()
    assert document["cameras"][0]["name"] == "door"
    assert document["power_w"]["VDD_IN"] == pytest.approx(6.0)
    text = render_prometheus(snapshot)
    assert 'fieldproof_camera_fps{camera="door"} 12.0' in text
    assert 'fieldproof_camera_dropped_frames_total{camera="door"} 3.0' in text
    assert "fieldproof_outbox_depth 7.0" in text
    assert "fieldproof_outbox_dropped_total 2.0" in text
    assert 'fieldproof_power_watts{rail="gpu0"} 70.5' in text
    assert 'fieldproof_model_info{model="nanodet-m"} 1.0' in text
    assert "fieldproof_gpu_load_percent 43.7" in text
    assert "# TYPE fieldproof_link_connects_total counter" in text


def test_metrics_endpoint_reads_a_snapshot_per_scrape(tmp_path: Path) -> None:
    outbox = iter(range(1, 100))
    collector = HealthCollector(
        "0xab",
        root=tmp_path,
        disk_path=tmp_path,
        stats=StatsRegistry(),
        outbox=lambda: OutboxStats(
            depth=next(outbox), bytes=0, dropped=0, next_seq=0, oldest_created=None
        ),
        gpus=list,
    )
    # Two agents in one process each serve their own registry.
    servers = [MetricsServer(health_registry(collector.collect), "127.0.0.1", 0) for _ in "ab"]
    for server in servers:
        server.start()
    try:
        texts = []
        for server in (*servers, servers[0]):
            url = f"http://127.0.0.1:{server.port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.headers["Content-Type"].startswith("text/plain")
                texts.append(response.read().decode())
        assert "fieldproof_outbox_depth 1.0" in texts[0]
        assert "fieldproof_outbox_depth 3.0" in texts[2]
        assert "# TYPE fieldproof_outbox_dropped_total counter" in texts[1]
        # Readings the host lacks (no GPU, no thermal zones) are left out, not zero.
        assert "fieldproof_gpu_load_percent" not in texts[0]
    finally:
        for server in servers:
            server.stop()


def _fake_nvml() -> SimpleNamespace:
    """The few NVML calls the reader makes, answering like one discrete GPU."""
    state = SimpleNamespace(shut_down=False)

    def shutdown() -> None:
        state.shut_down = True

    return SimpleNamespace(
        state=state,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=lambda: None,
        nvmlShutdown=shutdown,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda index: f"gpu{index}",
        nvmlDeviceGetUtilizationRates=lambda handle: SimpleNamespace(gpu=37),
        nvmlDeviceGetMemoryInfo=lambda handle: SimpleNamespace(used=2 << 30, total=80 << 30),
        nvmlDeviceGetTemperature=lambda handle, sensor: 44,
        nvmlDeviceGetPowerUsage=lambda handle: 71_500,  # milliwatts
    )


def test_nvml_reader_maps_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert readers.nvml_gpus() == [readers.GpuReading(0, 37.0, 44.0, 2 << 30, 80 << 30, 71.5)]
    assert fake.state.shut_down


def test_nvml_reader_without_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    assert readers.nvml_gpus() == []
