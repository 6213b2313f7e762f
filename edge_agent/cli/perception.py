"""``fieldproof agent detect`` and ``fieldproof agent count``: perception on a video file."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from edge_agent.errors import AgentValueError


def register_agent(agent: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    detect = agent.add_parser(
        "detect",
        help="Run the object detector over a video file and summarise what it saw.",
        description="Run the object detector over a video file and summarise what it saw.",
    )
    _common(detect)
    detect.set_defaults(handler=_detect)

    count = agent.add_parser(
        "count",
        help="Track objects in a video file and count line crossings per interval.",
        description=(
            "Track objects in a video file and count line crossings per interval "
            "(video time). A crossing to the right of the line's direction, as seen "
            "on screen, is 'in'."
        ),
    )
    _common(count)
    count.add_argument(
        "--line",
        action="append",
        required=True,
        metavar="X1,Y1,X2,Y2",
        help="Counting segment in source pixels; repeat for more lines (line1, line2, ...).",
    )
    count.add_argument(
        "--interval", type=float, default=60.0, help="Interval length in seconds of video time."
    )
    count.add_argument(
        "--no-motion-gate",
        action="store_true",
        help="Run the detector on every frame instead of only on frames with motion.",
    )
    count.set_defaults(handler=_count)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", required=True, help="Video file to read.")
    parser.add_argument(
        "--model", default="nanodet", help="Detector: 'nanodet' (default) or an ONNX model path."
    )
    parser.add_argument(
        "--score-threshold", type=float, default=0.35, help="Minimum detection score."
    )
    parser.add_argument("--max-frames", type=int, default=None, help="Stop after this many frames.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")


def parse_line(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """``"x1,y1,x2,y2"`` → the segment's two end points."""
    try:
        x1, y1, x2, y2 = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise AgentValueError(f"--line {text!r}: expected four numbers X1,Y1,X2,Y2") from exc
    if (x1, y1) == (x2, y2):
        raise AgentValueError(f"--line {text!r}: the two end points are the same")
    return (x1, y1), (x2, y2)


def _camera(args: argparse.Namespace, **extra: Any) -> Any:
    from edge_agent.sources import CameraConfig

    if args.max_frames is not None and args.max_frames < 1:
        raise AgentValueError("--max-frames must be at least 1")
    return CameraConfig.model_validate(
        {
            "name": "video",
            "url": args.video,
            # A file that is missing now will not appear: fail at once, no retries.
            "reconnect": {"max_attempts": 1, "jitter": 0.0},
            **extra,
        }
    )


def _frames(args: argparse.Namespace, camera: Any) -> Any:
    """Frames of the file in video time, decoded one ahead of inference."""
    import itertools

    from edge_agent.sources import open_camera

    events = open_camera(camera, video_time=True).events()
    if args.max_frames is not None:
        return itertools.islice(events, args.max_frames)
    return events


def _detect(args: argparse.Namespace) -> int:
    from edge_agent.detectors import create_detector
    from edge_agent.sources import Frame

    camera = _camera(args, motion={"enabled": False})
    detector = create_detector(args.model, score_threshold=args.score_threshold)
    frames = 0
    per_class: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    for event in _frames(args, camera):
        if not isinstance(event, Frame):
            continue
        frames += 1
        names = detector.detect(event.image).class_names()
        for name in set(names):
            stats = per_class.setdefault(name, {"frames_with": 0, "max": 0})
            stats["frames_with"] += 1
            stats["max"] = max(stats["max"], names.count(name))
    elapsed = time.perf_counter() - started
    result = {
        "frames": frames,
        "per_class": dict(sorted(per_class.items())),
        "fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
        "model": detector.model_id,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{frames} frames at {result['fps']} fps with {detector.model_id}")
        for name, stats in result["per_class"].items():  # type: ignore[attr-defined]
            print(f"  {name}: in {stats['frames_with']} frames, at most {stats['max']} at once")
    return 0


def _count(args: argparse.Namespace) -> int:
    from edge_agent.camera_pipeline import PerceptionPipeline
    from edge_agent.detectors import create_detector

    lines = []
    for i, text in enumerate(args.line, start=1):
        start, end = parse_line(text)
        lines.append({"name": f"line{i}", "start": start, "end": end})
    if not args.interval > 0:
        raise AgentValueError("--interval must be positive")
    camera = _camera(
        args,
        lines=lines,
        interval_s=args.interval,
        motion={"enabled": not args.no_motion_gate},
    )
    detector = create_detector(args.model, score_threshold=args.score_threshold)
    pipeline = PerceptionPipeline(camera, detector, origin=0.0)
    started = time.perf_counter()
    intervals = []
    totals: dict[str, dict[str, dict[str, int]]] = {}
    for summary in pipeline.run(_frames(args, camera)):
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for line, cls, direction, n in summary.counts:
            if n:
                counts.setdefault(line, {}).setdefault(cls, {"in": 0, "out": 0})[direction] = n
                total = totals.setdefault(line, {}).setdefault(cls, {"in": 0, "out": 0})
                total[direction] += n
        intervals.append(
            {
                "start": summary.start,
                "end": summary.end,
                "frames": summary.frames,
                "processed": summary.processed,
                "counts": counts,
            }
        )
    elapsed = time.perf_counter() - started
    timings = pipeline.timings
    result = {
        "frames": timings.frames,
        "processed": timings.processed,
        "fps": round(timings.frames / elapsed, 2) if elapsed > 0 else 0.0,
        "model": detector.model_id,
        "stage_ms": {k: round(v, 3) for k, v in timings.per_frame_ms().items()},
        "totals": totals,
        "intervals": intervals,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{timings.frames} frames at {result['fps']} fps with {detector.model_id}")
        for item in intervals:
            print(
                f"  [{item['start']:.1f}s, {item['end']:.1f}s): {item['counts'] or 'no crossings'}"
            )
        print(f"  total: {totals or 'no crossings'}")
    return 0
