"""Train the sensor quality model on real stations' data with real and injected faults.

Data (see ``models/README.md`` for provenance and licences):

- hourly: the twelve Beijing air-quality stations (temperature, dew point, pressure,
  PM2.5, PM10, wind speed; 2013-2017), three typical-year files shipped in pvlib
  (TMY3 723170 Greensboro NC, TMY3 703165 Sand Point AK, TMY2 12839 Miami FL);
- one-minute: the measurement samples in pvlib's source distribution (BSRN Payerne
  June 2016, SURFRAD Alamosa 2016-01-01 and two NREL MIDC days).

Real faults are labelled by rules (``label_readings``): a missing reading is a gap,
a reading outside the metric's physical range is out of range, a run of identical
readings lasting at least six hours is a flat run (a stuck sensor), a reading that
leaves both neighbours the same way by more than ten local typical steps and twenty
resolutions is a spike. Runs at the physical floor (calm wind, clean air) are not
flat-run faults. Hours a TMY file flags as not measured (interpolated, gap-filled or
modelled) make their window "filled": reported apart, never trained on. Windows with
none of these are clean; on clean windows one fault is injected (stuck, spike,
drift, out of range, noise burst, dropout).

The model is a multi-class gradient-boosted tree ensemble (clean and four fault
kinds; drift is only injected for the evaluation) exported with skl2onnx; P(clean)
is the quality score and the most likely other class names the fault.
``--evaluate`` runs the leave-one-station-out evaluation (a station's whole
meteorological group is left out) and writes it as JSON.

Usage (build time only; needs the ``models`` extra)::

    pip download pvlib==0.16.1 --no-binary :all: --no-deps -d /tmp/pvlib-sdist
    python models/train_quality.py models/sensor-quality.onnx \\
        --pvlib-sdist /tmp/pvlib-sdist/pvlib-0.16.1.tar.gz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.quality.features import (  # noqa: E402
    FEATURE_NAMES,
    FEATURE_VERSION,
    FLAT_TOLERANCE,
    MetricLimits,
    batch_features,
    limits_for,
)
from edge_agent.quality.scorer import MODEL_CLASSES  # noqa: E402

SEED = 20240611
PVLIB_SDIST_SHA256 = "58c435f93be516bcedf53dc3a49b2079e9e00af373f5c052cb7cf8d2b973ce62"
DEFAULT_BEIJING = ROOT.parent / "shared" / "data" / "stations" / "beijing"
HOUR, MINUTE = 3600.0, 60.0
# Windows as the agent scores them: a day of hourly readings, 48 one-minute readings.
EVAL_WINDOW = {HOUR: 24, MINUTE: 48}
EVAL_STRIDE = {HOUR: 24, MINUTE: 24}
TRAIN_LENGTHS = (8, 48)
FLAT_HOURS = 6.0
INJECTED = ("stuck", "spike", "drift", "out_of_range", "noise", "dropout")
# Faults the hard rules catch (non-finite or out of range) never reach the model.
MODEL_FAULTS = MODEL_CLASSES[1:]
TRAIN_WINDOWS = {"beijing": 600, "tmy": 1500, "minute": 3000}
# Clean windows weigh more so the flag rate on real clean data stays low; more so at
# one-minute sampling, where gusts and sensor dither are common and data scarce.
HOLDOUT_STATION = "Wanshouxigong"
SAMPLE_FAULTS = ("injected_stuck", "injected_spike", "injected_out_of_range", "injected_dropout")
SAMPLE_PER_KIND = 25
CLEAN_WEIGHT = {"beijing": 2.0, "tmy": 2.0, "minute": 3.0}


@dataclass(frozen=True)
class Series:
    """One metric of one station; windows never cross a ``segment`` boundary."""

    station: str
    group: str
    source: str
    metric: str
    interval_s: float
    values: np.ndarray
    segment: np.ndarray
    # Readings the source marks as filled (interpolated or modelled), not measured.
    filled: np.ndarray | None = None


# --------------------------------------------------------------------------- data


BEIJING_COLUMNS = {
    "TEMP": ("temp", 1.0),
    "DEWP": ("dew", 1.0),
    "PRES": ("pres", 100.0),  # hPa → Pa
    "PM2.5": ("pm25", 1.0),
    "PM10": ("pm10", 1.0),
    "WSPM": ("wspd", 1.0),
}


def load_beijing(directory: Path) -> list[Series]:
    import pandas as pd

    frames = {}
    for path in sorted(directory.glob("PRSA_*.csv.gz")):
        frame = pd.read_csv(path)
        frames[str(frame["station"].iloc[0])] = frame
    if len(frames) != 12:
        raise SystemExit(f"{directory}: expected 12 Beijing station files, found {len(frames)}")
    # Several sites take their meteorology from the same weather station: sites whose
    # temperature series agree almost everywhere form one group, left out together.
    names = sorted(frames)
    group = {name: name for name in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ta, tb = frames[a]["TEMP"].to_numpy(), frames[b]["TEMP"].to_numpy()
            if np.mean(np.abs(ta - tb) < 1e-9) > 0.9:
                group[b] = group[a]
    series = []
    for name in names:
        frame = frames[name]
        days = np.arange(len(frame)) // 24
        for column, (metric, factor) in BEIJING_COLUMNS.items():
            values = frame[column].to_numpy(dtype=np.float64) * factor
            series.append(
                Series(name, f"beijing:{group[name]}", "beijing", metric, HOUR, values, days * 0)
            )
    return series


def _member(archive: tarfile.TarFile, suffix: str, target: Path) -> Path:
    member = next(m for m in archive.getmembers() if m.name.endswith(suffix))
    handle = archive.extractfile(member)
    assert handle is not None
    path = target / Path(suffix).name
    path.write_bytes(handle.read())
    return path


def load_pvlib(sdist: Path) -> list[Series]:
    import pandas as pd
    import pvlib

    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != PVLIB_SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest}, expected {PVLIB_SDIST_SHA256}")
    series: list[Series] = []

    def add(
        station: str, source: str, metric: str, values: Any, seg: Any, *, flags: Any = None
    ) -> None:
        series.append(
            Series(
                station,
                station,
                source,
                metric,
                HOUR if source == "tmy" else MINUTE,
                np.array(values, dtype=np.float64),
                np.asarray(seg, dtype=np.int64),
                # TMY source flag "A" is a measurement; B, C and E are interpolated,
                # gap-filled or modelled hours.
                None if flags is None else np.asarray(flags, dtype=str) != "A",
            )
        )

    with tempfile.TemporaryDirectory() as tmp, tarfile.open(sdist) as archive:
        target = Path(tmp)
        # TMY files splice each month from a different year: windows stay in one month.
        tmy, _ = pvlib.iotools.read_tmy3(
            str(_member(archive, "pvlib/data/723170TYA.CSV", target)), map_variables=True
        )
        month = tmy.index.month.to_numpy()
        for column, metric, factor, source in (
            ("temp_air", "temp", 1.0, "Dry-bulb source"),
            ("temp_dew", "dew", 1.0, "Dew-point source"),
            ("relative_humidity", "rh", 1.0, "RHum source"),
            ("pressure", "pres", 100.0, "Pressure source"),
            ("wind_speed", "wspd", 1.0, "Wspd source"),
        ):
            add("tmy3-723170", "tmy", metric, tmy[column] * factor, month, flags=tmy[source])
        tmy, _ = pvlib.iotools.read_tmy3(
            str(_member(archive, "pvlib/data/703165TY.csv", target)), map_variables=True
        )
        month = tmy.index.month.to_numpy()
        # Its pressure column is a constant fill (1012 hPa all year): left out.
        for column, metric, source in (
            ("temp_air", "temp", "Dry-bulb source"),
            ("temp_dew", "dew", "Dew-point source"),
            ("relative_humidity", "rh", "RHum source"),
            ("wind_speed", "wspd", "Wspd source"),
        ):
            add("tmy3-703165", "tmy", metric, tmy[column], month, flags=tmy[source])
        tmy2, _ = pvlib.iotools.read_tmy2(str(_member(archive, "pvlib/data/12839.tm2", target)))
        month = tmy2.index.month.to_numpy()
        # TMY2 stores tenths; its pressure is whole hPa, coarser than any sensor here.
        for column, metric, factor in (
            ("DryBulb", "temp", 0.1),
            ("DewPoint", "dew", 0.1),
            ("RHum", "rh", 1.0),
            ("Wspd", "wspd", 0.1),
        ):
            flags = tmy2[f"{column}Source"]
            add("tmy2-12839", "tmy", metric, tmy2[column] * factor, month, flags=flags)

        bsrn, _ = pvlib.iotools.read_bsrn(
            str(_member(archive, "tests/data/bsrn-pay0616.dat.gz", target)),
            logical_records=("0100",),
        )
        # Payerne logs pressure in whole hPa, flat for hours at one-minute steps, so
        # only its temperature and humidity are used.
        zeros = np.zeros(len(bsrn), dtype=np.int64)
        add("bsrn-pay", "minute", "temp", bsrn["temp_air"], zeros)
        add("bsrn-pay", "minute", "rh", bsrn["relative_humidity"], zeros)
        surfrad, _ = pvlib.iotools.read_surfrad(
            str(_member(archive, "tests/data/surfrad-slv16001.dat", target))
        )
        zeros = np.zeros(len(surfrad), dtype=np.int64)
        for column, metric, factor in (
            ("temp_air", "temp", 1.0),
            ("relative_humidity", "rh", 1.0),
            ("wind_speed", "wspd", 1.0),
            ("pressure", "pres", 100.0),
        ):
            add("surfrad-slv", "minute", metric, surfrad[column] * factor, zeros)
        raw = pd.read_csv(_member(archive, "tests/data/midc_raw_20181018.txt", target))
        zeros = np.zeros(len(raw), dtype=np.int64)
        for column, metric, factor in (
            ("Air Temperature [deg C]", "temp", 1.0),
            ("Rel Humidity [%]", "rh", 1.0),
            ("Station Pressure [mBar]", "pres", 100.0),
            ("Avg Wind Speed @ 3m [m/s]", "wspd", 1.0),
        ):
            add("midc-20181018", "minute", metric, raw[column] * factor, zeros)
        day = pd.read_csv(_member(archive, "tests/data/midc_20181014.txt", target))
        zeros = np.zeros(len(day), dtype=np.int64)
        add("midc-20181014", "minute", "temp", day["Temperature @ 2m [deg C]"], zeros)
    for s in series:
        # Logger error codes (-9999, -7999) and the like are missing readings.
        s.values[s.values <= -999.0] = np.nan
    return series


# ------------------------------------------------------------------ real faults


def _runs(flags: np.ndarray) -> Iterator[tuple[int, int]]:
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    yield from zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)


def label_readings(s: Series) -> dict[str, np.ndarray]:
    """Per reading: missing, out of range, in a long flat run, a spike."""
    limits = limits_for(s.metric)
    v = s.values
    n = v.size
    missing = ~np.isfinite(v)
    with np.errstate(invalid="ignore"):
        outside = (v < limits.minimum) | (v > limits.maximum)
    flat = np.zeros(n, dtype=bool)
    d = np.diff(v)
    with np.errstate(invalid="ignore"):
        same = np.abs(d) < limits.resolution * FLAT_TOLERANCE
    same &= s.segment[1:] == s.segment[:-1]
    for start, end in _runs(same):
        # A run at the physical floor is a calm anemometer or clean air, not a fault.
        if v[start] == limits.minimum:
            continue
        if (end - start) * s.interval_s >= FLAT_HOURS * 3600.0:
            flat[start : end + 1] = True
    spike = np.zeros(n, dtype=bool)
    if n > 50:
        import pandas as pd

        ad = pd.Series(np.abs(d))
        local = ad.rolling(49, center=True, min_periods=10).median().to_numpy()
        up, down = d[:-1], -d[1:]
        departure = np.where(up * down > 0, np.minimum(np.abs(up), np.abs(down)), 0.0)
        scale = np.fmax(10.0 * np.fmax(local[:-1], local[1:]), 20.0 * limits.resolution)
        with np.errstate(invalid="ignore"):
            spike[1:-1] = departure > scale
    filled = np.zeros(n, dtype=bool) if s.filled is None else s.filled
    return {
        "missing": missing,
        "outside": outside,
        "filled": filled,
        "flat": flat,
        "spike": spike,
    }


class Labeller:
    """Real label of any window of one series, from prefix sums of the reading flags."""

    def __init__(self, s: Series) -> None:
        flags = label_readings(s)
        self.sums = {k: np.concatenate([[0], np.cumsum(f)]) for k, f in flags.items()}
        self.flat = flags["flat"]
        self.flat_readings = round(FLAT_HOURS * 3600.0 / s.interval_s) + 1

    def __call__(self, start: int, n: int) -> str:
        def count(key: str) -> int:
            return int(self.sums[key][start + n] - self.sums[key][start])

        if count("missing"):
            return "gap"
        if count("outside"):
            return "out_of_range"
        if count("filled"):
            # Interpolated or modelled hours are no sensor's readings: scored and
            # reported apart, never trained on.
            return "filled"
        flat = count("flat")
        # Flat only when the window itself shows six hours of the run (all of it at
        # one-minute sampling); a run cut by the window's edge is left out.
        if flat >= min(n, self.flat_readings):
            return "flat"
        if flat:
            return "partial_flat"
        if count("spike"):
            return "real_spike"
        return "clean"


# -------------------------------------------------------------------- injection


def inject(
    values: np.ndarray,
    limits: MetricLimits,
    fault: str,
    rng: np.random.Generator,
    interval_s: float,
) -> np.ndarray | None:
    """A copy of ``values`` with ``fault``; ``None`` when the fault would not show."""
    v = values.copy()
    n = v.size
    res = limits.resolution
    step = max(float(np.mean(np.abs(np.diff(values)))), res)
    if fault == "stuck":
        # Frozen from a point in the first half to the end, or for a stretch of at least
        # six hours (half the window at fast sampling) anywhere in it.
        if rng.random() < 0.5:
            start, end = int(rng.integers(0, n // 2)), n
        else:
            shortest = max(3, min(n // 2, int(np.ceil(FLAT_HOURS * 3600.0 / interval_s))))
            length = int(rng.integers(shortest, n + 1))
            start = int(rng.integers(0, n - length + 1))
            end = start + length
        if np.ptp(values[start:end]) < 3 * res or v[start] == limits.minimum:
            # Already flat, or frozen at the floor: the same as calm air or wind.
            return None
        v[start:end] = v[start]
    elif fault == "spike":
        for index in rng.choice(n, size=int(rng.integers(1, 4)), replace=False):
            v[index] += rng.choice([-1.0, 1.0]) * rng.uniform(6.0, 20.0) * step
    elif fault == "drift":
        start = int(rng.integers(0, n // 2))
        total = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 15.0) * step
        v[start:] += np.linspace(0.0, total, n - start)
    elif fault == "out_of_range":
        index = rng.choice(n, size=int(rng.integers(1, max(2, n // 4))), replace=False)
        span = limits.maximum - limits.minimum
        kind = int(rng.integers(0, 3))
        if kind == 0:
            v[index] = -9999.0  # the classic logger error code
        elif kind == 1:
            v[index] = limits.maximum + rng.uniform(0.01, 0.5) * span
        else:
            v[index] = limits.minimum - rng.uniform(0.01, 0.5) * span
    elif fault == "noise":
        length = int(rng.integers(4, max(5, n // 3) + 1))
        start = int(rng.integers(0, n - length + 1))
        v[start : start + length] += rng.normal(0.0, rng.uniform(4.0, 10.0) * step, length)
    elif fault == "dropout":
        # Readings lost: missing (NaN) or the zero a driver returns when a read fails.
        length = int(rng.integers(2, max(3, n // 4) + 1))
        start = int(rng.integers(1, n - length))
        if rng.random() < 0.5:
            v[start : start + length] = np.nan
        else:
            if np.abs(values[start - 1 : start + length + 1]).min() < 3 * step:
                return None  # a zero where the signal is near zero would not show
            v[start : start + length] = 0.0
    else:
        raise ValueError(fault)
    return v


# --------------------------------------------------------------------- training


def training_set(
    series: list[Series], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, class index and sample weight of random windows of ``series``."""
    windows: list[tuple[np.ndarray, MetricLimits, float]] = []
    classes, weights = [], []
    for s in series:
        label_of = Labeller(s)
        limits = limits_for(s.metric)
        bounds = [
            (int(a), int(b))
            for a, b in zip(
                np.flatnonzero(np.r_[True, s.segment[1:] != s.segment[:-1]]),
                np.r_[np.flatnonzero(s.segment[1:] != s.segment[:-1]) + 1, s.segment.size],
                strict=True,
            )
        ]
        wanted = TRAIN_WINDOWS[s.source]
        made = tries = 0
        while made < wanted and tries < 20 * wanted:
            tries += 1
            seg_start, seg_end = bounds[int(rng.integers(0, len(bounds)))]
            n = int(rng.integers(TRAIN_LENGTHS[0], TRAIN_LENGTHS[1] + 1))
            if seg_end - seg_start <= n:
                continue
            start = int(rng.integers(seg_start, seg_end - n))
            window = s.values[start : start + n]
            label = label_of(start, n)
            if label == "flat":
                kind = "stuck"
            elif label == "real_spike":
                kind = "spike"
            elif label != "clean":
                continue
            elif rng.random() < 0.5:
                kind = "clean"
            else:
                kind = MODEL_FAULTS[int(rng.integers(0, len(MODEL_FAULTS)))]
                faulty = inject(window, limits, kind, rng, s.interval_s)
                if faulty is None:
                    continue
                window = faulty
            with np.errstate(invalid="ignore"):
                ruled = ~np.isfinite(window) | (window < limits.minimum) | (window > limits.maximum)
            if ruled.any():
                continue  # the hard rules score these; the model never sees them
            windows.append((window, limits, s.interval_s))
            classes.append(MODEL_CLASSES.index(kind))
            weights.append(CLEAN_WEIGHT[s.source] if kind == "clean" else 1.0)
            made += 1
    return features_of(windows), np.asarray(classes), np.asarray(weights)


def features_of(windows: list[tuple[np.ndarray, MetricLimits, float]]) -> np.ndarray:
    """Feature rows of ``windows``, in order; windows of one length in one pass."""
    out = np.empty((len(windows), len(FEATURE_NAMES)), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for index, (values, _, _) in enumerate(windows):
        by_length.setdefault(values.size, []).append(index)
    for _, indices in sorted(by_length.items()):
        out[indices] = batch_features(
            np.stack([windows[i][0] for i in indices]),
            np.array([windows[i][1].minimum for i in indices]),
            np.array([windows[i][1].maximum for i in indices]),
            np.array([windows[i][1].resolution for i in indices]),
            np.array([windows[i][2] for i in indices]),
        )
    return out


def new_classifier() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=80,
        max_leaf_nodes=15,
        learning_rate=0.15,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=SEED,
    )


def fit(series: list[Series]) -> Any:
    rng = np.random.default_rng(SEED)
    x, y, w = training_set(series, rng)
    return new_classifier().fit(x, y, sample_weight=w)


def export(classifier: Any, path: Path) -> None:
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    # skl2onnx passes numpy booleans for the trees' missing-value tracks, which this
    # onnx refuses as integers: make them plain ints on the way in.
    make_attribute = onnx.helper.make_attribute

    def plain(key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, (list, tuple)) and any(isinstance(x, (bool, np.bool_)) for x in value):
            value = [int(x) for x in value]
        return make_attribute(key, value, *args, **kwargs)

    onnx.helper.make_attribute = plain
    try:
        model = convert_sklearn(
            classifier,
            initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
            options={id(classifier): {"zipmap": False}},
            target_opset={"": 18, "ai.onnx.ml": 3},
        )
    finally:
        onnx.helper.make_attribute = make_attribute
    # skl2onnx names the graph with a random uuid and lists opsets in set order; fix
    # both so a rebuild is byte-identical.
    model.graph.name = "sensor_quality"
    imports = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in imports)
    model.doc_string = (
        "Sensor interval fault classifier; input features "
        f"{', '.join(FEATURE_NAMES)} (edge_agent.quality.features v{FEATURE_VERSION}); "
        f"output probabilities over classes {', '.join(MODEL_CLASSES)} ([:, 0] = clean)."
    )
    onnx.helper.set_model_props(
        model,
        {
            "feature_names": ",".join(FEATURE_NAMES),
            "feature_version": str(FEATURE_VERSION),
            "classes": ",".join(MODEL_CLASSES),
        },
    )
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


# ------------------------------------------------------------------- evaluation


def eval_windows(s: Series, rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """(kind, window) of the agent-sized windows of ``s``: real labels and injections."""
    label_of = Labeller(s)
    limits = limits_for(s.metric)
    n, stride = EVAL_WINDOW[s.interval_s], EVAL_STRIDE[s.interval_s]
    for start in range(0, s.values.size - n + 1, stride):
        if s.segment[start] != s.segment[start + n - 1]:
            continue
        window = s.values[start : start + n]
        label = label_of(start, n)
        yield label, window
        if label != "clean":
            continue
        for fault in INJECTED:
            for _ in range(5):
                faulty = inject(window, limits, fault, rng, s.interval_s)
                if faulty is not None:
                    yield f"injected_{fault}", faulty
                    break


def flat_run_windows(s: Series) -> list[np.ndarray]:
    """Per real flat run of six hours or more: the agent's window when it turns six hours.

    The agent scores the last ``EVAL_WINDOW`` readings every hour; this is the first of
    those windows that holds six hours of the run.
    """
    flat = label_readings(s)["flat"]
    n = EVAL_WINDOW[HOUR]
    windows = []
    for start, _ in _runs(flat):
        end = start + round(FLAT_HOURS) + 1  # seven identical readings: six hours flat
        window = s.values[max(0, end - n) : end]
        if window.size == n and np.isfinite(window).all():
            windows.append(window)
    return windows


def _rate(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 4) if flags else None


def score_station(
    model_path: Path, held_out: list[Series], seed: int
) -> dict[str, dict[str, list[bool]]]:
    """Per metric and window kind: whether each window was flagged (quality < 0.5)."""
    from edge_agent.inference.manifest import sha256_file
    from edge_agent.quality.scorer import QualityScorer

    scorer = QualityScorer(model_path, expected_sha256=sha256_file(model_path))
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list[bool]]] = {}
    for s in held_out:
        windows = list(eval_windows(s, rng))
        scores = scorer.score_many([(s.metric, w) for _, w in windows], interval_s=s.interval_s)
        per_kind = out.setdefault(s.metric, {})
        for (kind, _), score in zip(windows, scores, strict=True):
            per_kind.setdefault(kind, []).append(score < 0.5)
        if s.interval_s == HOUR:
            runs = flat_run_windows(s)
            if runs:
                flagged = scorer.score_many([(s.metric, w) for w in runs], interval_s=HOUR)
                per_kind["flat_run_at_6h"] = [q < 0.5 for q in flagged]
    return out


def evaluate(series: list[Series], workdir: Path) -> dict[str, Any]:
    stations = sorted({(s.group, s.station) for s in series})
    report: dict[str, Any] = {"stations": {}}
    for index, (group, station) in enumerate(stations):
        began = time.monotonic()
        train = [s for s in series if s.group != group]
        held = [s for s in series if s.station == station]
        path = workdir / f"fold-{index}.onnx"
        export(fit(train), path)
        flags = score_station(path, held, SEED + index)
        rate = "hourly" if held[0].interval_s == HOUR else "one_minute"
        entry: dict[str, Any] = {
            "rate": rate,
            "left_out_with": sorted({s.station for s in series if s.group == group} - {station}),
            "by_metric": {},
        }
        totals: dict[str, list[bool]] = {}
        for metric, kinds in sorted(flags.items()):
            entry["by_metric"][metric] = {
                kind: {"windows": len(f), "flagged": _rate(f)} for kind, f in sorted(kinds.items())
            }
            for kind, f in kinds.items():
                totals.setdefault(kind, []).extend(f)
        entry["all_metrics"] = {
            kind: {"windows": len(f), "flagged": _rate(f)} for kind, f in sorted(totals.items())
        }
        report["stations"][station] = entry
        print(
            f"{station:16} {rate:10} clean FPR {entry['all_metrics']['clean']['flagged']}"
            f" ({time.monotonic() - began:.0f} s)",
            flush=True,
        )
    return report


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Per sampling rate: min/max over held-out stations of each window kind's rate."""
    summary: dict[str, Any] = {}
    for rate in ("hourly", "one_minute"):
        entries = [e for e in report["stations"].values() if e["rate"] == rate]
        kinds = sorted({k for e in entries for k in e["all_metrics"]})
        summary[rate] = {}
        for kind in kinds:
            values = [
                e["all_metrics"][kind]["flagged"]
                for e in entries
                if kind in e["all_metrics"] and e["all_metrics"][kind]["windows"] >= 20
            ]
            if values:
                summary[rate][kind] = {
                    "min": min(values),
                    "max": max(values),
                    "stations": len(values),
                }
    flat = [
        e["by_metric"]["temp"].get("flat", {"windows": 0, "flagged": None})
        for name, e in report["stations"].items()
        if e["rate"] == "hourly" and "temp" in e["by_metric"] and name[0].isupper()
    ]
    windows = sum(f["windows"] for f in flat)
    hits = sum(round(f["windows"] * (f["flagged"] or 0.0)) for f in flat)
    runs = [
        e["by_metric"]["temp"]["flat_run_at_6h"]
        for name, e in report["stations"].items()
        if e["rate"] == "hourly"
        and name[0].isupper()
        and "temp" in e["by_metric"]
        and "flat_run_at_6h" in e["by_metric"]["temp"]
    ]
    run_windows = sum(r["windows"] for r in runs)
    run_hits = sum(round(r["windows"] * (r["flagged"] or 0.0)) for r in runs)
    summary["beijing_temp_flat_runs_at_6h"] = {
        "runs": run_windows,
        "flagged": round(run_hits / max(1, run_windows), 4),
    }
    summary["beijing_temp_flat_windows"] = {
        "windows": windows,
        "flagged": round(hits / max(1, windows), 4),
    }
    return summary


def save_sample(path: Path, series: list[Series]) -> None:
    """Windows of the held-out station for the unit tests: clean and injected faults."""
    rng = np.random.default_rng(SEED)
    values, metrics, kinds = [], [], []
    for s in series:
        if s.station != HOLDOUT_STATION:
            continue
        windows = [(k, w) for k, w in eval_windows(s, rng) if k == "clean" or k in SAMPLE_FAULTS]
        for kind in ("clean", *SAMPLE_FAULTS):
            chosen = [w for k, w in windows if k == kind]
            for index in rng.choice(len(chosen), size=SAMPLE_PER_KIND, replace=False):
                values.append(chosen[int(index)])
                metrics.append(s.metric)
                kinds.append(kind.removeprefix("injected_"))
    np.savez_compressed(
        path, values=np.stack(values), metrics=np.asarray(metrics), kinds=np.asarray(kinds)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="ONNX file to write")
    parser.add_argument("--beijing", type=Path, default=DEFAULT_BEIJING)
    parser.add_argument("--pvlib-sdist", type=Path, required=True)
    parser.add_argument("--evaluate", type=Path, help="write the leave-one-station-out JSON")
    parser.add_argument("--test-sample", type=Path, help="write held-out windows (npz) for tests")
    args = parser.parse_args()

    series = load_beijing(args.beijing) + load_pvlib(args.pvlib_sdist)
    # The shipped model never sees one station, so tests can check it on real data.
    export(fit([s for s in series if s.station != HOLDOUT_STATION]), args.output)
    print(f"wrote {args.output} ({hashlib.sha256(args.output.read_bytes()).hexdigest()})")
    if args.test_sample:
        save_sample(args.test_sample, series)
    if args.evaluate:
        with tempfile.TemporaryDirectory() as tmp:
            report = evaluate(series, Path(tmp))
        report = {"summary": summarise(report), **report}
        args.evaluate.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
