"""One series behaviour suite, run on SQLite and on a real InfluxDB (v1 HTTP API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.errors import AggregatorValueError
from aggregator.series import Point, SeriesPoint, SeriesStore, open_series, series_key

D1 = "0x" + "11" * 32
D2 = "0x" + "22" * 32
T0 = 1_699_999_980  # a multiple of 60: a bucket boundary for the steps used below


def temp(device: str, t: float, value: float, path: str = "") -> Point:
    measurement, tags = series_key(f"{path}/temp" if path else "temp")
    return Point(measurement, tags, device, round(t * 1000), value)


class SeriesSuite:
    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, url: str) -> Iterator[SeriesStore]:
        store = open_series(url)
        yield store
        store.close()

    def test_raw_points_round_trip_sorted(self, store: SeriesStore) -> None:
        store.write([temp(D2, T0 + 5, 3.5), temp(D1, T0 + 10, 1.25), temp(D1, T0, 1.0)])
        got = store.series("temp", None, T0, T0 + 60)
        assert got == [
            SeriesPoint(D1, T0, 1.0),
            SeriesPoint(D1, T0 + 10, 1.25),
            SeriesPoint(D2, T0 + 5, 3.5),
        ]
        assert store.series("temp", [D2], T0, T0 + 60) == [SeriesPoint(D2, T0 + 5, 3.5)]
        assert store.series("temp", [D1], T0 + 1, T0 + 10) == []
        assert store.series("temp", [], T0, T0 + 60) == []

    def test_same_point_twice_is_stored_once(self, store: SeriesStore) -> None:
        store.write([temp(D1, T0, 1.0)])
        store.write([temp(D1, T0, 1.0), temp(D1, T0 + 1, 2.0)])
        assert len(store.series("temp", [D1], T0, T0 + 60)) == 2

    def test_paths_and_traffic_tags_are_distinct_series(self, store: SeriesStore) -> None:
        store.write([temp(D1, T0, 1.0), temp(D1, T0, 9.0, path="bme280")])
        for name, value in (("line1/car/in", 4.0), ("line1/car/out", 2.0), ("line2/car/in", 7.0)):
            measurement, tags = series_key(name)
            store.write([Point(measurement, tags, D1, T0 * 1000, value)])
        assert [p.value for p in store.series("temp", None, T0, T0 + 1)] == [1.0]
        assert [p.value for p in store.series("bme280/temp", None, T0, T0 + 1)] == [9.0]
        assert [p.value for p in store.series("line1/car/out", None, T0, T0 + 1)] == [2.0]
        assert [p.value for p in store.series("line2/car/in", None, T0, T0 + 1)] == [7.0]

    @pytest.mark.parametrize(
        ("agg", "expected"),
        [
            ("mean", [2.0, 10.0, 5.0]),
            ("min", [1.0, 10.0, 5.0]),
            ("max", [3.0, 10.0, 5.0]),
            ("sum", [6.0, 10.0, 5.0]),
            ("count", [3.0, 1.0, 1.0]),
        ],
    )
    def test_bucketed_aggregates(self, store: SeriesStore, agg: str, expected: list[float]) -> None:
        store.write(
            [
                temp(D1, T0 + 0, 1.0),
                temp(D1, T0 + 20, 2.0),
                temp(D1, T0 + 59, 3.0),
                temp(D1, T0 + 120, 10.0),
                temp(D2, T0 + 61, 5.0),
            ]
        )
        got = store.series("temp", None, T0, T0 + 600, every=60, agg=agg)  # type: ignore[arg-type]
        assert [(p.device, p.time) for p in got] == [(D1, T0), (D1, T0 + 120), (D2, T0 + 60)]
        assert [p.value for p in got] == pytest.approx(expected)

    def test_bad_aggregate_is_refused(self, store: SeriesStore) -> None:
        with pytest.raises(AggregatorValueError, match="agg"):
            store.series("temp", None, T0, T0 + 60, every=60, agg="median")  # type: ignore[arg-type]

    def test_purge_removes_old_points_only(self, store: SeriesStore) -> None:
        store.write([temp(D1, T0 + i, float(i)) for i in range(10)])
        removed = store.purge(T0 + 5, chunk=3)
        while removed > 0:
            removed = store.purge(T0 + 5, chunk=3)
        assert [p.value for p in store.series("temp", None, T0 - 100, T0 + 100)] == [
            5.0, 6.0, 7.0, 8.0, 9.0,
        ]  # fmt: skip

    @pytest.mark.parametrize(
        ("agg", "expected"),
        [("mean", [2.5, 6.0]), ("min", [1.0, 6.0]), ("max", [4.0, 6.0]), ("count", [4.0, 1.0])],
    )
    def test_fleet_aggregates_over_the_selected_devices(
        self, store: SeriesStore, agg: str, expected: list[float]
    ) -> None:
        store.write(
            [
                temp(D1, T0, 1.0),
                temp(D1, T0 + 10, 2.0),
                temp(D2, T0 + 20, 3.0),
                temp(D2, T0 + 30, 4.0),
                temp(D1, T0 + 60, 6.0),
                temp(D2, T0 + 70, 100.0, path="other"),  # another series: not counted
            ]
        )
        points = store.fleet("temp", None, T0, T0 + 120, every=60, agg=agg)  # type: ignore[arg-type]
        assert [(p.device, p.time) for p in points] == [("fleet", T0), ("fleet", T0 + 60)]
        assert [p.value for p in points] == pytest.approx(expected)
        only = store.fleet("temp", [D2], T0, T0 + 120, every=60, agg="sum")
        assert [(p.time, p.value) for p in only] == [(T0, 7.0)]
        assert store.fleet("temp", [], T0, T0 + 120, every=60, agg="sum") == []
        with pytest.raises(AggregatorValueError):
            store.fleet("temp", None, T0, T0 + 120, every=0, agg="sum")


class TestSqliteSeries(SeriesSuite):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/series.db"


class TestInfluxSeries(SeriesSuite):
    @pytest.fixture
    def url(self, influxdb_url: str) -> str:
        return influxdb_url


def test_unknown_scheme_is_named() -> None:
    with pytest.raises(AggregatorValueError, match="'redis'"):
        open_series("redis://localhost/0")
