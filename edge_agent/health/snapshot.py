"""One health snapshot: collected from the readers and stats, rendered as JSON or Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge_agent.health import readers
from edge_agent.health.stats import CameraHealth, SensorFault, StatsRegistry
from edge_agent.link.client import LinkState
from edge_agent.outbox import OutboxStats


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """Everything the heartbeat and /metrics show."""

    device: str
    at: float
    uptime_s: float
    cameras: tuple[CameraHealth, ...] = ()
    inference_ms_mean: float | None = None
    inference_ms_p95: float | None = None
    gpu_load_percent: float | None = None
    gpus: tuple[readers.GpuReading, ...] = ()
    temperatures_c: dict[str, float] = field(default_factory=dict)
    power_w: dict[str, float] = field(default_factory=dict)
    cpu_percent: float | None = None
    memory_total: int | None = None
    memory_available: int | None = None
    disk_total: int | None = None
    disk_free: int | None = None
    outbox_depth: int = 0
    outbox_bytes: int = 0
    outbox_dropped: int = 0
    outbox_oldest_age_s: float | None = None
    link_connected: bool = False
    link_connects: int = 0
    reports_refused: int = 0
    models: tuple[str, ...] = ()
    config_version: int = 0
    sensor_faults: tuple[SensorFault, ...] = ()
    stale_sensors: tuple[str, ...] = ()
    # Acknowledged reports the audit did not find in an anchored root (their seqs).
    audit_missing: tuple[int, ...] = ()
    audit_runs: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class HealthCollector:
    """Builds snapshots; CPU load is the busy share since the previous snapshot."""

    def __init__(
        self,
        device: str,
        *,
        root: Path,
        disk_path: Path,
        stats: StatsRegistry,
        outbox: Callable[[], OutboxStats] | None = None,
        link: Callable[[], LinkState] | None = None,
        refused: Callable[[], int] = int,
        models: Callable[[], tuple[str, ...]] = tuple,
        config_version: Callable[[], int] = int,
        clock: Callable[[], float] = time.time,
        gpus: Callable[[], list[readers.GpuReading]] = readers.nvml_gpus,
        audit: Callable[[], tuple[tuple[int, ...], int]] | None = None,
    ) -> None:
        self.device = device
        self.root = root
        self.disk_path = disk_path
        self.stats = stats
        self._outbox = outbox
        self._link = link
        self._refused = refused
        self._models = models
        self._config_version = config_version
        self._clock = clock
        self._gpus = gpus
        self._audit = audit
        self._started = time.monotonic()
        self._cpu = readers.cpu_times(root)

    def collect(self) -> HealthSnapshot:
        now = self._clock()
        cpu = readers.cpu_times(self.root)
        cpu_percent = readers.cpu_percent(self._cpu, cpu)
        self._cpu = cpu
        mem = readers.memory(self.root)
        disk = readers.disk(self.disk_path)
        mean, p95 = self.stats.inference_ms()
        outbox = self._outbox() if self._outbox is not None else None
        link = self._link() if self._link is not None else None
        audit_missing, audit_runs = ((), 0) if self._audit is None else self._audit()
        return HealthSnapshot(
            device=self.device,
            at=now,
            uptime_s=time.monotonic() - self._started,
            cameras=self.stats.cameras(),
            inference_ms_mean=mean,
            inference_ms_p95=p95,
            gpu_load_percent=readers.jetson_gpu_load(self.root),
            gpus=tuple(self._gpus()),
            temperatures_c=readers.thermal_zones(self.root),
            power_w=readers.ina3221_power(self.root),
            cpu_percent=cpu_percent,
            memory_total=None if mem is None else mem.total,
            memory_available=None if mem is None else mem.available,
            disk_total=None if disk is None else disk.total,
            disk_free=None if disk is None else disk.free,
            outbox_depth=0 if outbox is None else outbox.depth,
            outbox_bytes=0 if outbox is None else outbox.bytes,
            outbox_dropped=0 if outbox is None else outbox.dropped,
            outbox_oldest_age_s=None
            if outbox is None or outbox.oldest_created is None
            else max(0.0, now - outbox.oldest_created),
            link_connected=False if link is None else link.connected,
            link_connects=0 if link is None else link.connects,
            reports_refused=self._refused(),
            models=self._models(),
            config_version=self._config_version(),
            sensor_faults=self.stats.sensor_faults(),
            stale_sensors=self.stats.stale_sensors(),
            audit_missing=audit_missing,
            audit_runs=audit_runs,
        )


Samples = list[tuple[dict[str, str], float | None]]


def _family(
    kind: str, name: str, help_text: str, samples: Samples
) -> GaugeMetricFamily | CounterMetricFamily | None:
    """One metric family of the samples that have a value; None when none has."""
    present = [(labels, value) for labels, value in samples if value is not None]
    if not present:
        return None
    labelnames = list(present[0][0])
    full = f"fieldproof_{name}"
    family: GaugeMetricFamily | CounterMetricFamily
    if kind == "counter":
        family = CounterMetricFamily(full, help_text, labels=labelnames)
    else:
        family = GaugeMetricFamily(full, help_text, labels=labelnames)
    for labels, value in present:
        family.add_metric([labels[key] for key in labelnames], value)
    return family


def snapshot_metrics(snapshot: HealthSnapshot) -> Iterator[Metric]:
    """The snapshot as Prometheus metric families (absent readings are left out)."""
    cams = snapshot.cameras
    faults = snapshot.sensor_faults
    gpus = snapshot.gpus
    table: list[tuple[str, str, str, Samples]] = [
        (
            "gauge",
            "camera_fps",
            "Frames per second read.",
            [({"camera": c.name}, c.fps) for c in cams],
        ),
        (
            "counter",
            "camera_dropped_frames_total",
            "Frames dropped since start.",
            [({"camera": c.name}, float(c.dropped_frames)) for c in cams],
        ),
        (
            "gauge",
            "camera_connected",
            "1 when the camera stream is open.",
            [({"camera": c.name}, 1.0 if c.connected else 0.0) for c in cams],
        ),
        (
            "gauge",
            "inference_ms_mean",
            "Mean inference time over recent frames.",
            [({}, snapshot.inference_ms_mean)],
        ),
        (
            "gauge",
            "inference_ms_p95",
            "95th percentile inference time.",
            [({}, snapshot.inference_ms_p95)],
        ),
        ("gauge", "gpu_load_percent", "Jetson GPU load.", [({}, snapshot.gpu_load_percent)]),
        (
            "gauge",
            "gpu_utilisation_percent",
            "NVML GPU utilisation.",
            [({"gpu": str(g.index)}, g.utilisation) for g in gpus],
        ),
        (
            "gauge",
            "gpu_temperature_celsius",
            "NVML GPU temperature.",
            [({"gpu": str(g.index)}, g.temperature_c) for g in gpus],
        ),
        (
            "gauge",
            "gpu_memory_used_bytes",
            "NVML GPU memory in use.",
            [({"gpu": str(g.index)}, float(g.memory_used)) for g in gpus],
        ),
        (
            "gauge",
            "temperature_celsius",
            "Thermal zone temperature.",
            [({"zone": k}, v) for k, v in sorted(snapshot.temperatures_c.items())],
        ),
        (
            "gauge",
            "power_watts",
            "Rail power (INA3221) or GPU board power (NVML).",
            [({"rail": k}, v) for k, v in sorted(snapshot.power_w.items())]
            + [({"rail": f"gpu{g.index}"}, g.power_w) for g in gpus],
        ),
        (
            "gauge",
            "cpu_percent",
            "CPU busy share since the previous sample.",
            [({}, snapshot.cpu_percent)],
        ),
        ("gauge", "memory_total_bytes", "Memory size.", [({}, _num(snapshot.memory_total))]),
        (
            "gauge",
            "memory_available_bytes",
            "Memory available.",
            [({}, _num(snapshot.memory_available))],
        ),
        (
            "gauge",
            "disk_total_bytes",
            "Size of the data filesystem.",
            [({}, _num(snapshot.disk_total))],
        ),
        (
            "gauge",
            "disk_free_bytes",
            "Free space on the data filesystem.",
            [({}, _num(snapshot.disk_free))],
        ),
        (
            "gauge",
            "sensor_fault",
            "1 while a sensor's quality windows have stayed faulty (fault: the model's guess).",
            [({"sensor": f.sensor, "fault": f.fault or "unknown"}, 1.0) for f in faults],
        ),
        (
            "gauge",
            "sensor_stale",
            "1 while a sensor has sent no sample for health.sensor_stale_intervals intervals.",
            [({"sensor": name}, 1.0) for name in snapshot.stale_sensors],
        ),
        (
            "gauge",
            "outbox_depth",
            "Reports stored and not yet acknowledged.",
            [({}, float(snapshot.outbox_depth))],
        ),
        ("gauge", "outbox_bytes", "Bytes of stored reports.", [({}, float(snapshot.outbox_bytes))]),
        (
            "counter",
            "outbox_dropped_total",
            "Reports dropped past the outbox cap (oldest first).",
            [({}, float(snapshot.outbox_dropped))],
        ),
        (
            "gauge",
            "outbox_oldest_age_seconds",
            "Age of the oldest stored report.",
            [({}, snapshot.outbox_oldest_age_s)],
        ),
        (
            "gauge",
            "link_connected",
            "1 while connected to the broker.",
            [({}, 1.0 if snapshot.link_connected else 0.0)],
        ),
        (
            "counter",
            "link_connects_total",
            "Successful broker connects.",
            [({}, float(snapshot.link_connects))],
        ),
        (
            "counter",
            "reports_refused_total",
            "Reports the broker refused (kept in the outbox, retried per connection).",
            [({}, float(snapshot.reports_refused))],
        ),
        (
            "gauge",
            "audit_missing_reports",
            "Acknowledged reports the audit did not find in an anchored epoch's root.",
            [({}, float(len(snapshot.audit_missing)))],
        ),
        (
            "counter",
            "audit_runs_total",
            "Audits of the anchored epochs run to a conclusion.",
            [({}, float(snapshot.audit_runs))],
        ),
        ("gauge", "uptime_seconds", "Agent uptime.", [({}, snapshot.uptime_s)]),
        (
            "gauge",
            "config_version",
            "Version of the applied remote config.",
            [({}, float(snapshot.config_version))],
        ),
        ("gauge", "model_info", "Models in use.", [({"model": m}, 1.0) for m in snapshot.models]),
    ]
    for kind, name, help_text, samples in table:
        family = _family(kind, name, help_text, samples)
        if family is not None:
            yield family


class SnapshotCollector(Collector):
    """Takes one snapshot per scrape and exposes it (see :func:`snapshot_metrics`)."""

    def __init__(self, read: Callable[[], HealthSnapshot]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        return snapshot_metrics(self._read())


def health_registry(read: Callable[[], HealthSnapshot]) -> CollectorRegistry:
    """A registry of its own that reads a fresh snapshot on each scrape."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(read))
    return registry


def render_prometheus(snapshot: HealthSnapshot) -> str:
    """One snapshot in the Prometheus text format."""
    return generate_latest(health_registry(lambda: snapshot)).decode()


def _num(value: int | None) -> float | None:
    return None if value is None else float(value)
