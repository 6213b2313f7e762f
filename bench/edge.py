"""Edge inference throughput: model only, the full pipeline, and Ultralytics' predict().

All three run in one process on the same ONNX file (a YOLOv8n exported by
Ultralytics from ``yolov8n.yaml``, random weights, cached in a temp directory) and
the same frames of ``models/vtest.avi``:

- ``model_only_fps``: ONNX Runtime on an already prepared input, nothing else (the limit);
- ``pipeline_fps``: decode → letterbox → infer → NMS → track → count, with decoding and
  pre-processing overlapped with inference (``edge_agent.detectors.stream``);
- ``ultralytics_fps``: ``YOLO(onnx).predict(frame)`` on the same decoded frames (the peer).

NanoDet-m (the shipped default) figures are printed beside them. Needs the ``bench``
extra (torch, ultralytics). Usage: ``python bench/edge.py [--json] [--frames N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.analytics.config import LineConfig, TrackerConfig  # noqa: E402
from edge_agent.analytics.lines import LineCounter  # noqa: E402
from edge_agent.analytics.tracker import ByteTracker  # noqa: E402
from edge_agent.detectors import create_detector  # noqa: E402
from edge_agent.detectors.base import OnnxDetector  # noqa: E402
from edge_agent.detectors.stream import detect_stream  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--frames", type=int, default=100, help="frames per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per mode")
    args = parser.parse_args()

    yolo_path = export_yolov8n()
    yolo = create_detector(f"yolo:{yolo_path}", score_threshold=SCORE)
    nanodet = create_detector("nanodet", score_threshold=SCORE)
    peer = UltralyticsPeer(yolo_path)

    # The machine is shared: the modes alternate over several rounds and each figure
    # is the median of its rounds, so a burst of other load hits every mode alike.
    rounds: dict[str, list[float]] = {
        k: [] for k in ("model", "pipe", "peer", "p50", "p95", "nmodel", "npipe", "np50", "np95")
    }
    nano_pipe: dict[str, float] = {}
    for _ in range(args.rounds):
        rounds["model"].append(model_only(yolo, args.frames))
        yolo_pipe = pipeline(yolo, args.frames)
        rounds["pipe"].append(yolo_pipe["fps"])
        rounds["p50"].append(yolo_pipe["p50_ms"])
        rounds["p95"].append(yolo_pipe["p95_ms"])
        rounds["peer"].append(peer.fps(args.frames))
        rounds["nmodel"].append(model_only(nanodet, args.frames))
        nano_pipe = pipeline(nanodet, args.frames)
        rounds["npipe"].append(nano_pipe["fps"])
        rounds["np50"].append(nano_pipe["p50_ms"])
        rounds["np95"].append(nano_pipe["p95_ms"])
    med = {k: float(np.median(v)) for k, v in rounds.items()}
    ratios = {
        "pipe_model": float(np.median(np.divide(rounds["pipe"], rounds["model"]))),
        "pipe_peer": float(np.median(np.divide(rounds["pipe"], rounds["peer"]))),
        "npipe_nmodel": float(np.median(np.divide(rounds["npipe"], rounds["nmodel"]))),
    }

    result = {
        "model": "yolov8n (Ultralytics export, random weights) 640x640",
        "provider": yolo.runner.provider,
        "frames": args.frames,
        "rounds": args.rounds,
        "model_only_fps": round(med["model"], 2),
        "pipeline_fps": round(med["pipe"], 2),
        "ultralytics_fps": round(med["peer"], 2),
        "pipeline_vs_model_only": round(ratios["pipe_model"], 3),
        "pipeline_vs_ultralytics": round(ratios["pipe_peer"], 3),
        "p50_ms": round(med["p50"], 2),
        "p95_ms": round(med["p95"], 2),
        "nanodet_model_only_fps": round(med["nmodel"], 2),
        "nanodet_pipeline_fps": round(med["npipe"], 2),
        "nanodet_pipeline_vs_model_only": round(ratios["npipe_nmodel"], 3),
        "nanodet_p50_ms": round(med["np50"], 2),
        "nanodet_p95_ms": round(med["np95"], 2),
        "nanodet_detections_last_round": int(nano_pipe["detections"]),
        "nanodet_line_crossings_last_round": int(nano_pipe["crossings"]),
        # Linux reports ru_maxrss in KiB; this includes torch, loaded for the peer.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
