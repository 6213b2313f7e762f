"""Train the sensor quality model on real TMY3 weather data with injected faults.

Data: NREL TMY3 station 723170 (Greensboro, NC; 8,760 hourly rows) shipped with
pvlib (``pvlib/data/723170TYA.CSV``): air temperature, dew point, relative
humidity, pressure and wind speed. Windows of 8-48 consecutive readings are cut
from it; half stay clean, half get one fault: a stuck value, spikes, a drift ramp
or out-of-range readings. Features come from ``edge_agent.quality.features`` (the
runtime's own code); the classifier is a small gradient-boosted tree ensemble
exported with skl2onnx.

The held-out split is by time: windows from January-September train, windows from
October-December test, so no reading is in both.

Usage (build time only; needs the ``models`` extra)::

    python models/train_quality.py models/sensor-quality.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.quality.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    limits_for,
    window_features,
)

SEED = 20240611
FAULTS = ("stuck", "spike", "drift", "out_of_range")
# TMY3 column → catalogue metric, and the factor to the catalogue's unit.
COLUMNS = {
    "temp_air": ("temp", 1.0),
    "temp_dew": ("dew", 1.0),
    "relative_humidity": ("rh", 1.0),
    "pressure": ("pres", 100.0),  # mbar → Pa
    "wind_speed": ("wspd", 1.0),
}
TEST_FROM_MONTH = 10


def load_series() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric: values and month of each hourly reading."""
    import pvlib

    path = os.path.join(os.path.dirname(pvlib.__file__), "data", "723170TYA.CSV")
    frame, _ = pvlib.iotools.read_tmy3(path, map_variables=True)
    months = np.asarray(frame.index.month)
    return {
        metric: (frame[column].to_numpy(dtype=np.float64) * factor, months)
        for column, (metric, factor) in COLUMNS.items()
    }


def inject(
    values: np.ndarray, metric: str, fault: str, rng: np.random.Generator
) -> np.ndarray | None:
    """A copy of ``values`` with ``fault``; ``None`` when the fault would not show."""
    limits = limits_for(metric)
    v = values.copy()
    n = v.size
    step = float(np.median(np.abs(np.diff(values)))) + limits.resolution
    if fault == "stuck":
        start = int(rng.integers(0, n // 2))
        if np.ptp(values[start:]) < limits.resolution:
            return None  # already flat: a stuck sensor would look the same
        v[start:] = v[start]
    elif fault == "spike":
        for index in rng.choice(n, size=int(rng.integers(1, 4)), replace=False):
            v[index] += rng.choice([-1.0, 1.0]) * rng.uniform(6.0, 20.0) * step
    elif fault == "drift":
        start = int(rng.integers(0, n // 2))
        total = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 15.0) * step
        v[start:] += np.linspace(0.0, total, n - start)
    elif fault == "out_of_range":
        count = int(rng.integers(1, max(2, n // 4)))
        index = rng.choice(n, size=count, replace=False)
        span = limits.maximum - limits.minimum
        kind = rng.integers(0, 3)
        if kind == 0:
            v[index] = -9999.0  # the classic logger error code
        elif kind == 1:
            v[index] = limits.maximum + rng.uniform(0.01, 0.5) * span
        else:
            v[index] = np.nan
    return v


def make_windows(
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    months: tuple[int, int],
    count: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[str], list[tuple[str, np.ndarray]]]:
    """Features, labels (1 = fault), fault kind and the raw windows."""
    features, labels, kinds, windows = [], [], [], []
    metrics = sorted(series)
    while len(labels) < count:
        metric = metrics[int(rng.integers(0, len(metrics)))]
        values, month = series[metric]
        n = int(rng.integers(8, 49))
        start = int(rng.integers(0, values.size - n))
        first, last = month[start], month[start + n - 1]
        # TMY3 splices each month from a different year: a window across a month
        # boundary holds an artificial jump, so windows stay inside one month.
        if first != last or not months[0] <= first <= months[1]:
            continue
        window = values[start : start + n]
        kind = "clean" if rng.random() < 0.5 else FAULTS[int(rng.integers(0, len(FAULTS)))]
        if kind != "clean":
            faulty = inject(window, metric, kind, rng)
            if faulty is None:
                continue
            window = faulty
        features.append(window_features(window, limits_for(metric)))
        labels.append(0 if kind == "clean" else 1)
        kinds.append(kind)
        windows.append((metric, window))
    return np.stack(features), np.asarray(labels), kinds, windows


def export(classifier: object, path: Path) -> None:
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = convert_sklearn(
        classifier,
        initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
        options={id(classifier): {"zipmap": False}},
        target_opset={"": 18, "ai.onnx.ml": 3},
    )
    # skl2onnx names the graph with a random uuid and lists opsets in set order; fix
    # both so a rebuild is byte-identical.
    model.graph.name = "sensor_quality"
    imports = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in imports)
    model.doc_string = (
        "Sensor interval fault classifier; input features "
        f"{', '.join(FEATURE_NAMES)} (edge_agent.quality.features v{FEATURE_VERSION}); "
        "output probabilities[:, 0] = clean."
    )
    onnx.helper.set_model_props(
        model, {"feature_names": ",".join(FEATURE_NAMES), "feature_version": str(FEATURE_VERSION)}
    )
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def evaluate(model_path: Path, windows: list[tuple[str, np.ndarray]], kinds: list[str]) -> dict:
    """Precision/recall of the runtime scorer (rules + model) at quality < 0.5 = fault."""
    from edge_agent.inference.manifest import sha256_file
    from edge_agent.quality.scorer import QualityScorer

    # The manifest may still pin the previous build; pin this file explicitly.
    scorer = QualityScorer(model_path, expected_sha256=sha256_file(model_path))
    quality = np.asarray(scorer.score_many(windows))
    flagged = quality < 0.5
    truth = np.asarray([k != "clean" for k in kinds])
    tp = int((flagged & truth).sum())
    fp = int((flagged & ~truth).sum())
    fn = int((~flagged & truth).sum())
    result: dict[str, object] = {
        "windows": len(kinds),
        "precision": round(tp / max(1, tp + fp), 4),
        "recall": round(tp / max(1, tp + fn), 4),
        "false_positive_rate": round(fp / max(1, int((~truth).sum())), 4),
        "recall_by_fault": {
            fault: round(float(flagged[np.asarray(kinds) == fault].mean()), 4) for fault in FAULTS
        },
        "by_metric": {},
    }
    metric_names = np.asarray([m for m, _ in windows])
    for metric in sorted(set(metric_names)):
        sel = metric_names == metric
        m_tp = int((flagged & truth & sel).sum())
        m_fp = int((flagged & ~truth & sel).sum())
        m_fn = int((~flagged & truth & sel).sum())
        result["by_metric"][metric] = {  # type: ignore[index]
            "precision": round(m_tp / max(1, m_tp + m_fp), 4),
            "recall": round(m_tp / max(1, m_tp + m_fn), 4),
        }
    return result


def save_sample(path: Path, windows: list[tuple[str, np.ndarray]], kinds: list[str]) -> None:
    """Held-out windows, NaN-padded to one array, with metric, length and fault kind."""
    width = max(w.size for _, w in windows)
    values = np.full((len(windows), width), np.nan)
    for row, (_, window) in enumerate(windows):
        values[row, : window.size] = window
    np.savez_compressed(
        path,
        values=values,
        lengths=np.asarray([w.size for _, w in windows]),
        metrics=np.asarray([m for m, _ in windows]),
        kinds=np.asarray(kinds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="ONNX file to write")
    parser.add_argument("--train-windows", type=int, default=40_000)
    parser.add_argument("--test-windows", type=int, default=10_000)
    parser.add_argument("--report", type=Path, help="write the evaluation as JSON here")
    parser.add_argument(
        "--test-sample", type=Path, help="write 600 held-out windows (npz) for the unit tests"
    )
    args = parser.parse_args()

    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(SEED)
    series = load_series()
    x_train, y_train, _, _ = make_windows(series, (1, TEST_FROM_MONTH - 1), args.train_windows, rng)
    _, _, test_kinds, test_windows = make_windows(
        series, (TEST_FROM_MONTH, 12), args.test_windows, rng
    )
    classifier = GradientBoostingClassifier(
        n_estimators=120, max_depth=3, learning_rate=0.15, random_state=SEED
    )
    classifier.fit(x_train, y_train)
    export(classifier, args.output)
    report = evaluate(args.output, test_windows, test_kinds)
    report["feature_importance"] = {
        name: round(float(w), 4)
        for name, w in zip(FEATURE_NAMES, classifier.feature_importances_, strict=True)
    }
    if args.test_sample:
        save_sample(args.test_sample, test_windows[:600], test_kinds[:600])
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
