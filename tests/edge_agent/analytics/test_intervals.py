from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.analytics.intervals import IntervalAggregator
from edge_agent.analytics.lines import Crossing
from edge_agent.errors import AgentValueError

NAMES = {0: "person", 2: "car"}


def names(records: tuple[object, ...]) -> dict[str, float | None]:
    return {r.name: r.value for r in records}  # type: ignore[attr-defined]


def test_counts_per_interval_with_zero_rows_for_configured_classes() -> None:
    agg = IntervalAggregator("cam", 10.0, 1000.0, lines=["door"], classes=["person", "car"])
    for i in range(25):
        t = 1000.0 + i
        closed = agg.frame(t, processed=i % 5 != 0, dropped=1 if i == 3 else 0)
        assert len(closed) == (1 if i in (10, 20) else 0)
        if i in (2, 12, 13):
            agg.crossings([Crossing("door", i, 0, "in" if i != 13 else "out")], NAMES)
    first = agg.advance(1010.0)
    assert first == []
    last = agg.flush(1025.0)
    assert last is not None
    assert last.start == 1020.0
    assert last.end == 1025.0


def test_records_from_one_interval() -> None:
    agg = IntervalAggregator("cam", 10.0, 0.0, lines=["door"], zones=["kerb"], classes=["person"])
    for i in range(10):
        agg.frame(float(i), processed=i % 2 == 0, dropped=2 if i == 5 else 0)
        agg.occupancy("kerb", {"person": i % 3})
        agg.occupancy_sampled()
    agg.crossings([Crossing("door", 1, 0, "in"), Crossing("door", 2, 2, "out")], NAMES)
    (summary,) = agg.advance(10.0)
    rec = names(summary.records())
    assert rec["door/person/in"] == 1.0
    assert rec["door/person/out"] == 0.0
    assert rec["door/car/out"] == 1.0
    assert rec["kerb/person/occupancy_max"] == 2.0
    assert rec["kerb/person/occupancy_mean"] == pytest.approx(sum(i % 3 for i in range(10)) / 10)
    assert rec["cam/uptime"] == 10.0
    assert rec["cam/offline"] == 0.0
    assert rec["cam/frames"] == 10.0
    assert rec["cam/dropped_frames"] == 2.0
    assert rec["cam/motion_skipped"] == pytest.approx(0.5)
    units = {r.name: r.unit for r in summary.records()}
    assert units["door/person/in"] == "count"
    assert units["cam/uptime"] == "s"


def test_outage_is_split_over_intervals_and_never_reads_as_zero_traffic() -> None:
    agg = IntervalAggregator("cam", 10.0, 0.0, lines=["door"], classes=["person"])
    agg.frame(1.0, processed=True)
    closed = agg.offline(5.0, 27.0)
    assert [s.start for s in closed] == [0.0, 10.0]
    assert closed[0].offline_seconds == 5.0
    assert closed[1].offline_seconds == 10.0
    # Entirely offline: no count records at all, only the camera's health.
    rec = names(closed[1].records())
    assert "door/person/in" not in rec
    assert rec["cam/uptime"] == 0.0
    assert rec["cam/offline"] == 10.0
    agg.frame(28.0, processed=True)
    (third,) = agg.advance(30.0)
    assert third.offline_seconds == pytest.approx(7.0)
    assert names(third.records())["door/person/in"] == 0.0


def test_interval_must_be_positive() -> None:
    with pytest.raises(AgentValueError, match="cam"):
        IntervalAggregator("cam", 0.0, 0.0)


events = st.lists(
    st.one_of(
        st.tuples(st.just("frame"), st.floats(0.0, 5.0), st.sampled_from(["in", "out", None])),
        st.tuples(st.just("gap"), st.floats(0.0, 5.0), st.floats(0.0, 30.0)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(events, st.floats(0.5, 20.0))
def test_time_and_counts_are_conserved(steps: list[tuple], interval: float) -> None:
    agg = IntervalAggregator("cam", interval, 0.0, lines=["door"], classes=["person"])
    now, fed, gaps, summaries = 0.0, 0, 0.0, []
    for kind, advance, extra in steps:
        if kind == "frame":
            now += advance
            summaries += agg.frame(now, processed=True)
            if extra is not None:
                agg.crossings([Crossing("door", 1, 0, extra)], NAMES)
                fed += 1
        else:
            start, end = now + advance, now + advance + extra
            summaries += agg.offline(start, end)
            gaps += end - start
            now = end
    summaries += agg.advance(now + interval)
    assert sum(s.count("door", "person", d) for s in summaries for d in ("in", "out")) == fed
    # Uptime slivers under a microsecond are rounded into the outage, per interval.
    tolerance = 1e-6 * (len(summaries) + 1)
    assert sum(s.offline_seconds for s in summaries) == pytest.approx(gaps, abs=tolerance)
    for s in summaries:
        assert 0.0 <= s.offline_seconds <= s.end - s.start + 1e-9
        assert s.uptime_seconds + s.offline_seconds == pytest.approx(s.end - s.start)
    starts = [s.start for s in summaries]
    assert starts == sorted(starts)
    assert all(b - a == pytest.approx(interval) for a, b in itertools.pairwise(starts))


def test_records_survive_a_signed_report_round_trip() -> None:
    from fieldproof.identity import DeviceKey
    from fieldproof.wire import Report, decode_report, sign_report, verify_report

    agg = IntervalAggregator(
        "front-door", 60.0, 1_700_000_040.0, lines=["door-line"], zones=["kerb"], classes=["car"]
    )
    for i in range(30):
        agg.frame(1_700_000_040.0 + i, processed=i % 3 != 0, dropped=i % 7 == 0)
        agg.occupancy("kerb", {"car": i % 4})
        agg.occupancy_sampled()
    agg.crossings([Crossing("door-line", 1, 2, "in")], NAMES)
    (summary,) = agg.advance(1_700_000_100.0)
    key = DeviceKey.generate()
    report = Report(
        device_id=key.device_id,
        seq=1,
        start=int(summary.start),
        end=int(summary.end),
        records=summary.records(),
    )
    signed = decode_report(sign_report(report, key))
    verify_report(signed, key.public_key)
    assert signed.report.records == summary.records()
