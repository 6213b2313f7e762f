"""Model-only and pipeline frames per second per execution provider and batch size.

Run through ``bench/gpu.sh`` on a CUDA machine. For each provider (CUDA; TensorRT
with FP16 engines) and batch size B:

- ``model_fps``: the batch-free NanoDet-m copy on B already prepared frames per
  call, through the runner (IO binding on the GPU providers);
- ``pipeline_fps``: B cameras batched into one inference call by the camera
  batcher, each decoding, preparing, tracking and counting on its own thread
  (B = 1: one camera, no batcher).

Each (provider, batch) is warmed before it is timed (TensorRT builds one engine
per batch size, kept in the engine cache). A budget stops the run before the
prepared time is spent; what was not measured is listed. ``--dry-run`` runs the
same code on the CPU provider with a few frames, so the script cannot rot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from edge import camera_thread_fps, frames  # noqa: E402

from edge_agent.detectors import create_detector  # noqa: E402
from edge_agent.detectors.base import OnnxDetector  # noqa: E402
from edge_agent.detectors.multicam import shared_batcher  # noqa: E402
from edge_agent.inference.providers import available_providers, normalise_provider  # noqa: E402


def model_fps(detector: OnnxDetector, batch: int, count: int) -> float:
    """Frames per second of the batch-free model on ``batch`` prepared frames per call."""
    runner = shared_batcher(detector).runner
    images = list(frames(batch))
    tensor = np.concatenate([detector.prepare(image).tensor for image in images], axis=0)
    for _ in range(3):  # engine build / kernel choice for this shape, not timed
        runner.run(tensor)
    calls = max(1, count // batch)
    started = time.perf_counter()
    for _ in range(calls):
        runner.run(tensor)
    return calls * batch / (time.perf_counter() - started)


def measure(provider: str, fp16: bool, batch: int, count: int) -> dict[str, Any]:
    detector = create_detector("nanodet", providers=[provider], fp16=fp16)
    model = model_fps(detector, batch, count)
    camera_thread_fps([detector] * batch, max(2, count // batch), batched=batch > 1)  # warm
    pipeline, _, _ = camera_thread_fps(
        [detector] * batch, max(2, count // batch), batched=batch > 1
    )
    bound = shared_batcher(detector).runner
    return {
        "provider": detector.runner.provider,
        "fp16": fp16,
        "batch": batch,
        "io_binding": bool(getattr(bound, "uses_io_binding", False)),
        "model_fps": round(model, 1),
        "pipeline_fps": round(pipeline, 1),
        "pipeline_vs_model": round(pipeline / model, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", default="cuda,tensorrt-fp16")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--frames", type=int, default=200, help="frames per measurement")
    parser.add_argument("--budget-s", type=float, default=540.0)
    parser.add_argument("--dry-run", action="store_true", help="CPU provider, a few frames")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.dry_run:
        args.providers, args.batches, args.frames = "cpu", "1,2", 4
    offered = available_providers()
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in args.providers.split(","):
        name, _, variant = item.partition("-")
        provider = normalise_provider(name)
        if provider not in offered:
            skipped.append(f"{item}: not offered by this onnxruntime build ({', '.join(offered)})")
            continue
        for batch in (int(b) for b in args.batches.split(",")):
            if time.monotonic() - started > args.budget_s:
                skipped.append(f"{item} batch {batch}: over the time budget")
                continue
            rows.append(measure(provider, variant == "fp16", batch, args.frames))
            if not args.json:
                print(json.dumps(rows[-1]), flush=True)
    result = {"dry_run": args.dry_run, "results": rows, "skipped": skipped}
    result["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(result))
    else:
        for line in skipped:
            print("skipped:", line)
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
