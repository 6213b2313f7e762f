from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.cli.perception import parse_line
from edge_agent.errors import AgentValueError
from fieldproof.cli import main

VTEST = str(Path(__file__).resolve().parents[3] / "models" / "vtest.avi")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_detect_reports_people_per_class(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys, "agent", "detect", "--video", VTEST, "--max-frames", "40", "--json")
    assert result["frames"] == 40
    per_class = result["per_class"]
    assert isinstance(per_class, dict)
    assert per_class["person"]["frames_with"] >= 35
    assert per_class["person"]["max"] >= 3
    assert set(per_class) <= {"person", "bicycle", "car", "motorcycle", "bus", "truck"}
    assert isinstance(result["fps"], float)
    assert result["fps"] > 0


def test_count_reports_intervals_in_video_time(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["agent", "count", "--video", VTEST, "--line", "384,0,384,576"]
    argv += ["--interval", "4", "--max-frames", "100", "--json"]
    result = run_json(capsys, *argv)
    assert result["frames"] == 100
    intervals = result["intervals"]
    assert isinstance(intervals, list)
    assert [(i["start"], i["frames"]) for i in intervals] == [(0.0, 40), (4.0, 40), (8.0, 20)]
    assert intervals[-1]["end"] == pytest.approx(10.0)
    summed: dict[tuple[str, str, str], int] = {}
    for item in intervals:
        for line, by_class in item["counts"].items():
            assert line == "line1"
            assert all(set(dirs) == {"in", "out"} for dirs in by_class.values())
            for cls, dirs in by_class.items():
                for direction, n in dirs.items():
                    summed[(line, cls, direction)] = summed.get((line, cls, direction), 0) + n
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert {
        (line, cls, d): n
        for line, by_class in totals.items()
        for cls, dirs in by_class.items()
        for d, n in dirs.items()
    } == summed
    assert sum(summed.values()) >= 1  # people cross the middle of vtest.avi in 10 s


def test_missing_video_is_an_error_not_a_hang(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["agent", "count", "--video", "/nonexistent/clip.avi", "--line", "0,0,1,1"]
    assert main(argv) == 1
    assert "cannot open /nonexistent/clip.avi" in capsys.readouterr().err


def test_line_argument_is_checked() -> None:
    assert parse_line("1,2,3.5,4") == ((1.0, 2.0), (3.5, 4.0))
    with pytest.raises(AgentValueError, match="four numbers"):
        parse_line("1,2,3")
    with pytest.raises(AgentValueError, match="same"):
        parse_line("1,2,1,2")
