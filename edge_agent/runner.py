"""``fieldproof agent run``: the agent, one perception worker per camera, and the sensors.

Each camera worker turns frames into interval summaries and hands their records to
:meth:`Agent.submit`; it also fills the health stats (fps, dropped frames, connection
state, inference time). A model update is warmed up on a fresh detector before any
worker switches to it; a camera change from a signed remote config restarts the workers.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, load_agent_config
from edge_agent.detectors.types import Detector
from edge_agent.errors import AgentError
from edge_agent.health.stats import StatsRegistry
from edge_agent.sensors.registry import SensorConfig
from edge_agent.sources.config import CameraConfig
from edge_agent.sources.events import Frame, Offline
from fieldproof.identity import DeviceKey, load_key
from fieldproof.wire import ModelRef, Record

if TYPE_CHECKING:
    from edge_agent.quality import QualityScorer
    from edge_agent.sensors import Reading, SensorInterval

log = logging.getLogger(__name__)

STATS_EVERY_S = 1.0
# Kept below systemd's default stop timeout (90 s) with room to spare.
DRAIN_ON_STOP_S = 10.0
WARM_UP_SHAPE = (480, 640, 3)


class CameraWorker:
    """One camera's perception loop in its own thread."""

    def __init__(
        self,
        camera: CameraConfig,
        detector: Callable[[], Detector],
        agent: Agent,
        stats: StatsRegistry,
    ) -> None:
        self.camera = camera
        self._detector = detector
        self._agent = agent
        self._stats = stats
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        from edge_agent.pipeline import PerceptionPipeline
        from edge_agent.sources import open_camera

        source = open_camera(self.camera, stop=self._stop)
        detector = self._detector()
        model = ModelRef.from_sha256_hex(detector.model_id, detector.sha256)
        pipeline = PerceptionPipeline(self.camera, detector)
        last_frames, last_detect, last_processed = 0, 0.0, 0
        last_at = time.monotonic()
        connected = False
        try:
            for event in source.events():
                if self._stop.is_set():
                    break
                current = self._detector()
                if current is not detector:
                    detector = current
                    model = ModelRef.from_sha256_hex(detector.model_id, detector.sha256)
                    pipeline.detector = current
                connected = isinstance(event, Frame)
                for summary in pipeline.process(event):
                    self._agent.submit(
                        int(summary.start), int(summary.end), summary.records(), model
                    )
                now = time.monotonic()
                if now - last_at >= STATS_EVERY_S or isinstance(event, Offline):
                    timings = pipeline.timings
                    processed = timings.processed - last_processed
                    if processed:
                        ms = 1000.0 * (timings.detect_s - last_detect) / processed
                        self._stats.report_inference_ms(ms)
                    self._stats.report_camera(
                        self.camera.name,
                        fps=(timings.frames - last_frames) / max(now - last_at, 1e-9),
                        dropped_frames=source.stats.dropped,
                        connected=connected,
                    )
                    last_frames, last_detect = timings.frames, timings.detect_s
                    last_processed, last_at = timings.processed, now
        except Exception:
            log.exception("camera %s stopped", self.camera.name)
        finally:
            self._stats.report_camera(
                self.camera.name, fps=0.0, dropped_frames=source.stats.dropped, connected=False
            )
            source.close()


class SensorHub:
    """All sensors' readings gathered into one report per interval.

    Readings arrive on each sensor's poller thread; a ticker closes intervals when no
    reading comes, so a silent sensor still yields a report saying it sent nothing.
    Each report carries a quality score per sensor (``<sensor>/qc``, 0..1) from the
    shipped quality model, and that model's id and hash.
    """

    def __init__(
        self,
        sensors: tuple[SensorConfig, ...],
        agent: Agent,
        interval_s: float,
        quality: QualityWindows | None = None,
    ) -> None:
        from edge_agent.sensors import SensorAggregator

        now = time.time()
        self._agent = agent
        self._quality = quality
        self._lock = threading.Lock()
        self._aggregator = SensorAggregator(
            interval_s, math.floor(now / interval_s) * interval_s, [s.name for s in sensors]
        )
        self._configs = sensors
        self._pollers: list[Any] = []
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="sensor-ticker", daemon=True)

    def start(self) -> None:
        from edge_agent.sensors import SensorPoller, create_sensor

        for config in self._configs:
            driver = create_sensor(config)
            poller = SensorPoller(driver, self._on_readings, stop=self._stop)
            self._pollers.append(poller)
            poller.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        for poller in self._pollers:
            poller.close()
        self._ticker.join(5)

    def _on_readings(self, name: str, readings: Sequence[Reading]) -> None:
        stats = next(p.driver.stats for p in self._pollers if p.driver.name == name)
        with self._lock:
            closed = self._aggregator.add(readings, (name, stats))
        self._submit(closed)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                closed = self._aggregator.advance(time.time())
            self._submit(closed)

    def _submit(self, intervals: Sequence[SensorInterval]) -> None:
        for interval in intervals:
            records = interval.records()
            model = None
            if self._quality is not None:
                records += self._quality.score(interval)
                model = self._quality.model
            self._agent.submit(int(interval.start), int(interval.end), records, model)


class QualityWindows:
    """Recent readings per metric, scored by the quality model at each interval's end.

    The model was trained on windows of 8 to 48 consecutive readings, so each metric
    keeps its last 48 and is scored once it has 8; a sensor's score is the lowest of its
    metrics' scores (one faulty metric makes the interval suspect).
    """

    WINDOW = 48
    MIN_READINGS = 8

    def __init__(self, scorer: QualityScorer) -> None:
        self._scorer = scorer
        self._history: dict[str, deque[float]] = {}
        self.model = ModelRef.from_sha256_hex(scorer.model_id, scorer.sha256)

    def score(self, interval: SensorInterval) -> tuple[Record, ...]:
        from edge_agent.quality.features import limits_for

        windows: dict[str, list[tuple[str, np.ndarray]]] = {}
        for series in interval.series:
            try:
                limits_for(series.name)
            except AgentError:
                continue  # a metric the model knows nothing about
            history = self._history.setdefault(series.name, deque(maxlen=self.WINDOW))
            history.extend(series.values)
            if len(history) >= self.MIN_READINGS:
                sensor = series.name.rsplit("/", 1)[0]
                windows.setdefault(sensor, []).append((series.name, np.array(history)))
        records = []
        for sensor, metric_windows in sorted(windows.items()):
            scores = self._scorer.score_many(metric_windows)
            records.append(Record(name=f"{sensor}/qc", value=min(scores)))
        return tuple(records)


class Runtime:
    """The agent with its cameras and the detector they share."""

    def __init__(self, config: AgentConfig, key: DeviceKey) -> None:
        self.config = config
        self.stats = StatsRegistry()
        self._detector: Detector | None = None
        self._staged: Detector | None = None
        self._lock = threading.Lock()
        self.agent = Agent(
            config,
            key,
            stats=self.stats,
            warm_up=self._warm_up,
            activate=self._activate,
            model_ids=self._model_ids,
        )
        self.workers: list[CameraWorker] = []
        self.sensors: SensorHub | None = None
        if config.sensors:
            from edge_agent.quality import QualityScorer

            self.sensors = SensorHub(
                config.sensors,
                self.agent,
                config.settings.report_interval_s,
                QualityWindows(QualityScorer()),
            )
        self.agent.remote.on_cameras(self._replace_cameras)

    def _build(self, model_path: Path | None = None) -> Detector:
        from edge_agent.detectors import create_detector_from_config
        from edge_agent.detectors.config import NanoDetConfig

        section = self.config.detector or NanoDetConfig(type="nanodet")
        if model_path is None:
            installed = self.agent.remote.models.current()
            model_path = None if installed is None else installed.path
        if model_path is not None:
            section = section.model_copy(update={"model": str(model_path)})
        return create_detector_from_config(section)

    def detector(self) -> Detector:
        with self._lock:
            if self._detector is None:
                self._detector = self._build()
            return self._detector

    def _model_ids(self) -> tuple[str, ...]:
        with self._lock:
            return () if self._detector is None else (self._detector.model_id,)

    def _warm_up(self, path: Path) -> None:
        staged = self._build(path)
        staged.detect(np.zeros(WARM_UP_SHAPE, dtype=np.uint8))
        self._staged = staged

    def _activate(self, path: Path, model_id: str) -> None:
        staged, self._staged = self._staged, None
        if staged is None:
            raise RuntimeError("no warmed-up model to activate")
        with self._lock:
            self._detector = staged

    def _replace_cameras(self, cameras: tuple[CameraConfig, ...]) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = [CameraWorker(c, self.detector, self.agent, self.stats) for c in cameras]
        for worker in self.workers:
            worker.start()

    def start(self) -> None:
        self.agent.start()
        if self.config.cameras:
            self.detector()  # load once up front so a broken model fails at start-up
            self._replace_cameras(self.config.cameras)
        if self.sensors is not None:
            self.sensors.start()

    def stop(self, drain_s: float = DRAIN_ON_STOP_S) -> None:
        """Stop producing, give the link ``drain_s`` to publish what is stored, then stop.

        What is still unpublished after that stays in the outbox for the next start.
        """
        for worker in self.workers:
            worker.stop()
        if self.sensors is not None:
            self.sensors.stop()
        self.agent.link.pump.wait_drained(drain_s)
        self.agent.stop()


def load_device_key(config: AgentConfig) -> DeviceKey:
    passphrase = None
    if config.identity.passphrase_file is not None:
        passphrase = config.identity.passphrase_file.read_bytes().strip()
    return load_key(config.identity.key_file, passphrase)


def run_agent(config_path: Path, stop: threading.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit status."""
    config = load_agent_config(config_path)
    key = load_device_key(config)
    stop = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    runtime = Runtime(config, key)
    runtime.start()
    log.info("agent %s running", runtime.agent.device)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runtime.stop()
    return 0
