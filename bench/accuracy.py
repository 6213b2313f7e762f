"""Perception accuracy on vtest.avi (PETS2009 S2L1 view 1) against its manual person tracks.

Frames 0–399 go through the agent's own camera pipeline (NanoDet-m, tracker,
counting lines, interval aggregation) with motion gating off, so every frame
is scored. Printed: detector precision and recall for persons at IoU ≥ 0.5,
tracker MOTA and IDF1, and per line the counted against the true crossings
(from the manual tracks through the same counting rule), by direction.

    python bench/accuracy.py --json               # the agent's defaults
    python bench/accuracy.py --far-field --json   # with the far-field tiles below
    python bench/accuracy.py --far-field --speed 100 --json   # plus throughput
    python bench/accuracy.py --hysteresis 16 --confirm-frames 5 --json   # line rule
    python bench/accuracy.py --hysteresis 16 --confirm-frames 5 --appearance --json

``--appearance`` turns on the tracker's appearance matching and re-linking
(``cameras.tracker.appearance``). ``miscounted_by_half`` splits the miscounted
crossings between frames 0–199 and 200–399, by the frame each crossing was made in:
a setting chosen on these 400 frames should help in both halves, not in one.

The line rule (hysteresis band, frames a crossing must persist) is set on every
line, and the true crossings are counted through the same lines, so the rule
changes what both sides count, never one side alone.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_agent.analytics.groundtruth import PERSON, crossing_frames, parse_cvml, true_crossings
from edge_agent.analytics.scoring import LineScore, TrackFrame, score_detections, tracking_scores
from edge_agent.camera_pipeline import PerceptionPipeline, camera_detector
from edge_agent.detectors import create_detector
from edge_agent.sources import CameraConfig, Frame, open_camera

ROOT = Path(__file__).resolve().parents[1]
VTEST = ROOT / "models" / "vtest.avi"
TRUTH = Path(
    os.environ.get(
        "PETS2009_CVML",
        ROOT.parent / "shared" / "data" / "pets2009" / "PETS2009-S2L1-frames-0-399.xml",
    )
)
FRAMES = 400
SIZE = (768, 576)
# Horizontal lines across the frame, from the near field (y 380, people ~110 px
# tall) to the upper half (y 180, people ~55 px tall); ground points lie in y 154–409.
LINE_YS = (380, 340, 300, 260, 220, 180)
# The far-field setting: two overlapping tiles over the band where people are
# smallest, batched with the whole frame into one inference call.
FAR_FIELD: dict[str, Any] = {
    "enabled": True,
    "region": [0, 60, 768, 360],
    "columns": 2,
    "rows": 1,
    "overlap": 0.25,
}


# Target of the count: every line's total within 5 %, each direction within 10 %.
TOTAL_TARGET = 0.05
DIRECTION_TARGET = 0.10


def camera(
    far_field: bool,
    hysteresis: float = 4.0,
    confirm_frames: int = 1,
    appearance: bool = False,
    tracker: dict[str, str] | None = None,
) -> CameraConfig:
    rule = {"hysteresis": hysteresis, "confirm_frames": confirm_frames}
    section: dict[str, Any] = {
        "name": "vtest",
        "url": str(VTEST),
        "interval_s": 3600.0,
        "reconnect": {"max_attempts": 1},
        "motion": {"enabled": False},
        "tracker": {"appearance": appearance, **(tracker or {})},
        "lines": [{"name": f"y{y}", "start": [0, y], "end": [SIZE[0], y], **rule} for y in LINE_YS],
    }
    if far_field:
        section["tiling"] = FAR_FIELD
    return CameraConfig.model_validate(section)


def accuracy(cfg: CameraConfig) -> dict[str, Any]:
    truth = parse_cvml(TRUTH.read_text(), frames=range(FRAMES), clip_to=SIZE)
    pipeline = PerceptionPipeline(cfg, create_detector("nanodet"), origin=0.0)
    events = open_camera(cfg, video_time=True).events()
    track_frames: list[TrackFrame] = []
    counted: dict[str, dict[str, int]] = {line.name: {"in": 0, "out": 0} for line in cfg.lines}
    summaries = []
    made: list[tuple[int, str, str]] = []
    detected: list[npt.NDArray[np.float32]] = []
    for index, event in zip(range(FRAMES), events, strict=False):
        summaries += pipeline.process(event)
        made += [
            (index, c.line, c.direction) for c in pipeline.last_crossings if c.class_id == PERSON
        ]
        found = pipeline.last_detections
        detected.append(found.boxes[found.class_ids == PERSON])
        objects = truth.get(index, ())
        tracks = [t for t in pipeline.last_tracks if t.class_id == PERSON]
        track_frames.append(
            TrackFrame(
                truth_ids=tuple(o.track_id for o in objects),
                truth_boxes=np.array([o.box for o in objects], dtype=np.float64).reshape(-1, 4),
                track_ids=tuple(t.track_id for t in tracks),
                track_boxes=np.array([t.box for t in tracks], dtype=np.float64).reshape(-1, 4),
            )
        )
    last = pipeline.finish()
    if last is not None:
        summaries.append(last)
    for summary in summaries:
        for line, cls, direction, n in summary.counts:
            if cls == "person":
                counted[line][direction] += n
    detections = score_detections(
        (frame.truth_boxes, boxes) for frame, boxes in zip(track_frames, detected, strict=True)
    )
    tracking = tracking_scores(track_frames)
    true = true_crossings(truth, cfg.lines)
    scores = {name: LineScore(true=true[name], counted=counted[name]) for name in true}  # type: ignore[arg-type]
    return {
        "frames": len(track_frames),
        "precision": round(detections.precision, 4),
        "recall": round(detections.recall, 4),
        "mota": round(tracking["mota"], 4),
        "idf1": round(tracking["idf1"], 4),
        "line_rule": {
            "hysteresis": cfg.lines[0].hysteresis,
            "confirm_frames": cfg.lines[0].confirm_frames,
        },
        "tracker": cfg.tracker.model_dump(),
        "lines": {name: score.as_dict() for name, score in scores.items()},
        "count_target_met": all(
            score.total_error <= TOTAL_TARGET and score.direction_error <= DIRECTION_TARGET
            for score in scores.values()
        ),
        "miscounted": sum(
            abs(score.counted[d] - score.true[d])
            for score in scores.values()
            for d in ("in", "out")
        ),
        "miscounted_by_half": [
            miscounted(made, crossing_frames(truth, cfg.lines), half)
            for half in (range(0, FRAMES // 2), range(FRAMES // 2, FRAMES))
        ],
    }


def miscounted(
    counted: Sequence[tuple[int, str, str]], true: Sequence[tuple[int, str, str]], frames: range
) -> int:
    """Sum over lines and directions of |counted − true| among crossings made in ``frames``."""
    ours = Counter((line, d) for frame, line, d in counted if frame in frames)
    theirs = Counter((line, d) for frame, line, d in true if frame in frames)
    return sum(abs(ours[key] - theirs[key]) for key in ours.keys() | theirs.keys())


def speed(cfg: CameraConfig, frames: int, rounds: int) -> dict[str, Any]:
    """Model-only (the inference call on prepared input) against the whole pipeline."""
    detector = create_detector("nanodet")
    staged: Any = camera_detector(cfg, detector)  # the detector, or its tiled wrapper
    events = open_camera(cfg, video_time=True).events()
    images = [e.image for e, _ in zip(events, range(frames), strict=False) if isinstance(e, Frame)]
    prepared = [staged.prepare(image) for image in images]
    model_fps, pipeline_fps = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in prepared:
            staged.infer(item)
        model_fps.append(len(prepared) / (time.perf_counter() - started))
        pipeline = PerceptionPipeline(cfg, detector, origin=0.0)
        events = open_camera(cfg, video_time=True).events()
        started = time.perf_counter()
        for event, _ in zip(events, range(frames), strict=False):
            pipeline.process(event)
        pipeline_fps.append(frames / (time.perf_counter() - started))
    ratios = [p / m for p, m in zip(pipeline_fps, model_fps, strict=True)]
    return {
        "model_only_fps": round(float(np.median(model_fps)), 2),
        "pipeline_fps": round(float(np.median(pipeline_fps)), 2),
        "pipeline_vs_model_only": round(float(np.median(ratios)), 3),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--far-field", action="store_true", help="tile the far field")
    parser.add_argument("--speed", type=int, default=0, metavar="N", help="also time N frames")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--hysteresis", type=float, default=4.0, help="every line's band half-width, pixels"
    )
    parser.add_argument(
        "--confirm-frames", type=int, default=1, help="frames a crossing must persist"
    )
    parser.add_argument(
        "--appearance", action="store_true", help="tracker appearance matching and re-linking"
    )
    parser.add_argument(
        "--tracker",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a cameras.tracker setting, e.g. relink_speed=0.1 (repeatable)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.tracker)
    cfg = camera(args.far_field, args.hysteresis, args.confirm_frames, args.appearance, overrides)
    result = accuracy(cfg)
    if args.speed:
        result["speed"] = speed(cfg, args.speed, args.rounds)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
