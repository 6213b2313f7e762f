"""Edge inference throughput: model only, the full pipeline, and Ultralytics' predict().

All three run in one process on the same ONNX file (a YOLOv8n exported by
Ultralytics from ``yolov8n.yaml``, random weights, cached in a temp directory) and
the same frames of ``models/vtest.avi``:

- ``model_only_fps``: ONNX Runtime on an already prepared input, nothing else (the limit);
- ``pipeline_fps``: decode → letterbox → infer → NMS → track → count, with decoding and
  pre-processing overlapped with inference (``edge_agent.detectors.stream``);
- ``ultralytics_fps``: ``YOLO(onnx).predict(frame)`` on the same decoded frames (the peer).

NanoDet-m (the shipped default) figures are printed beside them. The YOLOv8n and
Ultralytics figures need the ``bench`` extra (torch, ultralytics); without it they are
skipped and said so.

Multi-camera phase (``multi_camera`` in the JSON): 1, 2 and 4 cameras, each a thread
running the agent's camera pipeline on its own capture of the video, either with an
inference session each (``sessions``) or batched into one inference call per round of
frames (``batched``, ``cameras.batching``); aggregate frames per second and the
process's CPU time per frame of both, in alternating rounds. ``model_batch_N_vs_single_calls``
is the bound on what batching can give here: the batch-free model alone on N stacked
prepared frames against the same frames in N calls.

Usage: ``python bench/edge.py [--json] [--frames N] [--rounds R] [--only single|multi]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.analytics.config import LineConfig, TrackerConfig  # noqa: E402
from edge_agent.analytics.lines import LineCounter  # noqa: E402
from edge_agent.analytics.tracker import ByteTracker  # noqa: E402
from edge_agent.camera_pipeline import PerceptionPipeline  # noqa: E402
from edge_agent.detectors import create_detector  # noqa: E402
from edge_agent.detectors.base import OnnxDetector  # noqa: E402
from edge_agent.detectors.batching import batched_runner  # noqa: E402
from edge_agent.detectors.stream import detect_stream  # noqa: E402
from edge_agent.detectors.types import Detector  # noqa: E402
from edge_agent.inference.runner import OnnxRunner  # noqa: E402
from edge_agent.sources import CameraConfig, Frame  # noqa: E402
from edge_agent.sources.prefetch import prefetched  # noqa: E402

VIDEO = ROOT / "models" / "vtest.avi"
CACHE = Path(tempfile.gettempdir()) / "fieldproof-bench"
SCORE = 0.35


def export_yolov8n() -> Path:
    """YOLOv8n ONNX exported by Ultralytics (random weights, offline), cached."""
    target = CACHE / "yolov8n.onnx"
    if target.exists():
        return target
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE / "ultralytics"))
    CACHE.mkdir(parents=True, exist_ok=True)
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    previous = Path.cwd()
    os.chdir(CACHE)  # a model built from YAML exports into the working directory
    try:
        exported = Path(YOLO("yolov8n.yaml").export(format="onnx", imgsz=640, opset=18))
    finally:
        os.chdir(previous)
    exported = exported if exported.is_absolute() else CACHE / exported
    if exported != target:
        exported.replace(target)
    return target


def frames(count: int) -> Iterator[npt.NDArray[np.uint8]]:
    """Decode the first ``count`` frames of the sample video (decoding is part of the cost)."""
    capture = cv2.VideoCapture(str(VIDEO))
    try:
        for _ in range(count):
            ok, frame = capture.read()
            if not ok:
                return
            yield np.asarray(frame, dtype=np.uint8)
    finally:
        capture.release()


def model_only(detector: OnnxDetector, count: int) -> float:
    """Frames per second of the bare model on a prepared input."""
    prepared = detector.prepare(next(frames(1)))
    start = time.perf_counter()
    for _ in range(count):
        detector.runner.run(prepared.tensor)
    return count / (time.perf_counter() - start)


def pipeline(detector: OnnxDetector, count: int) -> dict[str, float]:
    """Frames per second of decode → prepare → infer → NMS → track → count."""
    tracker = ByteTracker(TrackerConfig())
    # A vertical line across the pavement of vtest.avi: pedestrians cross it both ways.
    counter = LineCounter(LineConfig(name="line1", start=(384.0, 0.0), end=(384.0, 576.0)))
    detector.runner.reset_stats()
    crossings = detections = done = 0
    start = time.perf_counter()
    for _, dets in detect_stream(detector, frames(count), depth=2):
        tracks = tracker.update(dets)
        crossings += len(counter.update(tracks))
        counter.forget(tracker.live_ids)
        detections += len(dets)
        done += 1
    elapsed = time.perf_counter() - start
    stats = detector.runner.stats()
    return {
        "fps": done / elapsed,
        "frames": float(done),
        "detections": float(detections),
        "crossings": float(crossings),
        "p50_ms": stats.p50_ms,
        "p95_ms": stats.p95_ms,
    }


def serial_spinning(detector: OnnxDetector, spinning: OnnxRunner, count: int) -> float:
    """Frames per second of decode → prepare → infer → NMS in one thread on a session
    whose idle pool threads spin (ONNX Runtime's default, as the peer's session runs):
    the peer's threading without the peer, to tell the two effects apart."""
    done = 0
    start = time.perf_counter()
    for frame in frames(count):
        prepared = detector.prepare(frame)
        detector.finish(spinning.run(prepared.tensor), prepared)
        done += 1
    return done / (time.perf_counter() - start)


class UltralyticsPeer:
    """Ultralytics' own predict() on the same ONNX file."""

    def __init__(self, model_path: Path) -> None:
        from ultralytics import YOLO

        self.model = YOLO(str(model_path), task="detect")
        overrides = {"conf": SCORE, "imgsz": 640, "verbose": False, "mode": "predict"}
        self.model.predictor = self.model._smart_load("predictor")(overrides=overrides)
        self.model.predictor.setup_model(model=self.model.model, verbose=False)
        # Ultralytics' own warm-up imports torchvision, whose PyPI wheel is built against
        # CUDA torch and cannot load beside the CPU torch; warm up with predict() instead.
        self.model.predictor.done_warmup = True
        warm = next(frames(1))
        for _ in range(3):
            self.predict(warm)

    def predict(self, frame: npt.NDArray[np.uint8]) -> int:
        results = self.model.predict(frame, imgsz=640, conf=SCORE, verbose=False)
        return len(results[0].boxes)

    def fps(self, count: int) -> float:
        """Frames per second of predict() on the same decoded frames as the pipeline."""
        done = 0
        start = time.perf_counter()
        for frame in frames(count):
            self.predict(frame)
            done += 1
        return done / (time.perf_counter() - start)


def camera_thread_fps(
    detectors: list[Detector], count: int, *, batched: bool, max_wait_ms: float = 20.0
) -> tuple[float, int, float]:
    """Aggregate frames per second of one camera thread per detector, crossings, and
    the process's CPU seconds per frame (all threads; other processes' load does not
    enter it, so it compares the modes' work where wall-clock rates carry the noise).

    Each camera decodes its own capture of the sample video on a reader thread and
    runs the agent's camera pipeline (tracker and a counting line of its own); only
    the inference call differs between the modes.
    """
    config = CameraConfig.model_validate(
        {
            "name": "cam",
            "url": str(VIDEO),
            "motion": {"enabled": False},
            "lines": [{"name": "line1", "start": [384, 0], "end": [384, 576]}],
            "batching": {"enabled": batched, "max_wait_ms": max_wait_ms},
        }
    )
    crossings = [0] * len(detectors)
    pipelines = [PerceptionPipeline(config, d, origin=0.0) for d in detectors]
    start = threading.Barrier(len(detectors) + 1)

    def camera(i: int) -> None:
        pipeline = pipelines[i]
        start.wait()
        # Decoded ahead on a reader thread, as the agent's camera sources do.
        decoded = prefetched(frames(count), depth=2, name=f"decode-{i}")
        for index, frame in enumerate(decoded):
            pipeline.process(Frame(frame, index, index / 10.0))
            crossings[i] += len(pipeline.last_crossings)
        pipeline.close()  # the others stop waiting for this camera

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(len(detectors))]
    for thread in threads:
        thread.start()
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    done = len(detectors) * count
    return (
        done / (time.perf_counter() - began),
        sum(crossings),
        (time.process_time() - cpu) / done,
    )


def model_batch_fps(detector: OnnxDetector, n: int, calls: int) -> tuple[float, float]:
    """The batch-free model alone: frames per second of one call on ``n`` stacked
    prepared frames, and of the same frames in ``n`` single calls.

    Their ratio bounds what batching can give the whole pipeline on this machine:
    decoding, tracking and counting are the same work in both modes.
    """
    runner = batched_runner(
        detector.runner.path, detector.runner.sha256, providers=detector.runner.providers
    )
    prepared = [detector.prepare(frame).tensor for frame in frames(n)]
    stacked = np.concatenate(prepared)
    runner.run(stacked)
    runner.run(prepared[0])
    began = time.perf_counter()
    for _ in range(calls):
        runner.run(stacked)
    together = calls * n / (time.perf_counter() - began)
    began = time.perf_counter()
    for _ in range(calls):
        for tensor in prepared:
            runner.run(tensor)
    alone = calls * n / (time.perf_counter() - began)
    return together, alone


def multi_camera(
    count: int,
    rounds: int,
    sizes: tuple[int, ...],
    *,
    provider: str | None = None,
    max_wait_ms: float = 20.0,
) -> dict[str, float]:
    """N cameras with a session each against N cameras batched into one call, per N."""
    providers = [provider] if provider else None  # names as the agent's config takes them
    sessions = [
        create_detector("nanodet", score_threshold=SCORE, providers=providers)
        for _ in range(max(sizes))
    ]
    shared = sessions[0]
    per: dict[str, list[float]] = {}
    for _ in range(rounds):
        for n in sizes:
            if n > 1:
                together, alone = model_batch_fps(shared, n, calls=max(1, count // n))
                per.setdefault(f"model_batch_{n}_vs_single_calls", []).append(together / alone)
            alone, _, alone_cpu = camera_thread_fps(list(sessions[:n]), count, batched=False)
            together, _, together_cpu = camera_thread_fps(
                [shared] * n, count, batched=True, max_wait_ms=max_wait_ms
            )
            per.setdefault(f"sessions_{n}_fps", []).append(alone)
            per.setdefault(f"batched_{n}_fps", []).append(together)
            per.setdefault(f"batched_vs_sessions_{n}", []).append(together / alone)
            per.setdefault(f"sessions_{n}_cpu_ms_per_frame", []).append(1000 * alone_cpu)
            per.setdefault(f"batched_{n}_cpu_ms_per_frame", []).append(1000 * together_cpu)
            # Frames per CPU-second, batched over sessions: the throughput ratio a
            # CPU-bound machine with no other load would show.
            per.setdefault(f"batched_vs_sessions_{n}_cpu", []).append(alone_cpu / together_cpu)
    result = {key: round(float(np.median(values)), 3) for key, values in per.items()}
    for n in sizes:
        ratios = per[f"batched_vs_sessions_{n}"]
        if n > 1:
            bound = per[f"model_batch_{n}_vs_single_calls"]
            result[f"model_batch_{n}_vs_single_calls_range"] = [  # type: ignore[assignment]
                round(min(bound), 3),
                round(max(bound), 3),
            ]
        result[f"batched_vs_sessions_{n}_range"] = [round(min(ratios), 3), round(max(ratios), 3)]  # type: ignore[assignment]
    result["frames_per_camera"] = count
    result["rounds"] = rounds
    result["provider"] = shared.runner.provider  # type: ignore[assignment]
    result["max_wait_ms"] = max_wait_ms
    return result


def have_ultralytics() -> bool:
    return importlib.util.find_spec("ultralytics") is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--frames", type=int, default=100, help="frames per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per mode")
    parser.add_argument(
        "--camera-frames", type=int, default=40, help="frames per camera, multi-camera phase"
    )
    parser.add_argument(
        "--only",
        choices=("all", "single", "multi"),
        default="all",
        help="run one phase: single camera (model, pipeline, peer) or multi-camera",
    )
    parser.add_argument(
        "--provider",
        default=None,
        help="multi-camera phase: execution provider (cpu, cuda, tensorrt; default: best offered)",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=20.0,
        help="multi-camera phase: cameras.batching.max_wait_ms (0: run whatever is waiting)",
    )
    args = parser.parse_args()
    result: dict[str, Any] = {"frames": args.frames, "rounds": args.rounds}
    if args.only in ("all", "single"):
        result.update(single_camera(args.frames, args.rounds))
    if args.only in ("all", "multi"):
        result["multi_camera"] = multi_camera(
            args.camera_frames,
            args.rounds,
            (1, 2, 4),
            provider=args.provider,
            max_wait_ms=args.max_wait_ms,
        )
    # Linux reports ru_maxrss in KiB; this includes torch when the peer was loaded.
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


def single_camera(count: int, rounds_n: int) -> dict[str, Any]:
    """Model only, pipeline and (when Ultralytics is installed) its predict(), one camera."""
    nanodet = create_detector("nanodet", score_threshold=SCORE)
    spinning = OnnxRunner(nanodet.runner.path, allow_spinning=True)
    yolo: OnnxDetector | None = None
    peer: UltralyticsPeer | None = None
    if have_ultralytics():
        yolo_path = export_yolov8n()
        yolo = create_detector(f"yolo:{yolo_path}", score_threshold=SCORE)
        peer = UltralyticsPeer(yolo_path)

    # The machine is shared: the modes alternate over several rounds and each figure
    # is the median of its rounds, so a burst of other load hits every mode alike.
    rounds: dict[str, list[float]] = {
        k: []
        for k in (
            *("model", "pipe", "peer", "p50", "p95", "pipe_cpu", "peer_cpu"),
            *("nmodel", "npipe", "np50", "np95", "npipe_cpu", "nspin", "nspin_cpu"),
        )
    }
    nano_pipe: dict[str, float] = {}
    for _ in range(rounds_n):
        if yolo is not None and peer is not None:
            rounds["model"].append(model_only(yolo, count))
            cpu = time.process_time()
            yolo_pipe = pipeline(yolo, count)
            rounds["pipe_cpu"].append(1000 * (time.process_time() - cpu) / count)
            rounds["pipe"].append(yolo_pipe["fps"])
            rounds["p50"].append(yolo_pipe["p50_ms"])
            rounds["p95"].append(yolo_pipe["p95_ms"])
            cpu = time.process_time()
            rounds["peer"].append(peer.fps(count))
            rounds["peer_cpu"].append(1000 * (time.process_time() - cpu) / count)
        rounds["nmodel"].append(model_only(nanodet, count))
        cpu = time.process_time()
        nano_pipe = pipeline(nanodet, count)
        rounds["npipe_cpu"].append(1000 * (time.process_time() - cpu) / count)
        cpu = time.process_time()
        rounds["nspin"].append(serial_spinning(nanodet, spinning, count))
        rounds["nspin_cpu"].append(1000 * (time.process_time() - cpu) / count)
        rounds["npipe"].append(nano_pipe["fps"])
        rounds["np50"].append(nano_pipe["p50_ms"])
        rounds["np95"].append(nano_pipe["p95_ms"])
    med = {k: float(np.median(v)) for k, v in rounds.items() if v}
    result: dict[str, Any] = {"provider": nanodet.runner.provider}
    if yolo is not None:
        result.update(
            {
                "model": "yolov8n (Ultralytics export, random weights) 640x640",
                "model_only_fps": round(med["model"], 2),
                "pipeline_fps": round(med["pipe"], 2),
                "ultralytics_fps": round(med["peer"], 2),
                "pipeline_vs_model_only": _median_ratio(rounds["pipe"], rounds["model"]),
                "pipeline_vs_ultralytics": _median_ratio(rounds["pipe"], rounds["peer"]),
                "pipeline_vs_ultralytics_range": _ratio_range(rounds["pipe"], rounds["peer"]),
                "p50_ms": round(med["p50"], 2),
                "p95_ms": round(med["p95"], 2),
                # CPU time of the whole process per frame (all threads): what each mode
                # costs, whatever else the machine runs; spinning pool threads count.
                "pipeline_cpu_ms_per_frame": round(med["pipe_cpu"], 1),
                "ultralytics_cpu_ms_per_frame": round(med["peer_cpu"], 1),
            }
        )
    else:
        result["ultralytics"] = "not installed: YOLOv8n and the peer were skipped"
    result.update(
        {
            "nanodet_model_only_fps": round(med["nmodel"], 2),
            "nanodet_pipeline_fps": round(med["npipe"], 2),
            "nanodet_pipeline_vs_model_only": _median_ratio(rounds["npipe"], rounds["nmodel"]),
            "nanodet_p50_ms": round(med["np50"], 2),
            "nanodet_p95_ms": round(med["np95"], 2),
            "nanodet_pipeline_cpu_ms_per_frame": round(med["npipe_cpu"], 1),
            "nanodet_serial_spinning_fps": round(med["nspin"], 2),
            "nanodet_serial_spinning_cpu_ms_per_frame": round(med["nspin_cpu"], 1),
            "nanodet_pipeline_vs_serial_spinning": _median_ratio(rounds["npipe"], rounds["nspin"]),
            "nanodet_pipeline_vs_serial_spinning_range": _ratio_range(
                rounds["npipe"], rounds["nspin"]
            ),
            "nanodet_detections_last_round": int(nano_pipe["detections"]),
            "nanodet_line_crossings_last_round": int(nano_pipe["crossings"]),
        }
    )
    return result


def _median_ratio(a: list[float], b: list[float]) -> float:
    return round(float(np.median(np.divide(a, b))), 3)


def _ratio_range(a: list[float], b: list[float]) -> list[float]:
    ratios = np.divide(a, b)
    return [round(float(ratios.min()), 3), round(float(ratios.max()), 3)]


if __name__ == "__main__":
    raise SystemExit(main())
