"""The shipped quality model: pinned in the manifest, built reproducibly by its script.

The full rebuild trains on the Beijing stations and pvlib's sample files (a few
minutes on two cores), so it runs only when ``FIELDPROOF_PVLIB_SDIST`` names the pvlib
0.16.1 source archive (``pip download pvlib==0.16.1 --no-binary :all: --no-deps``);
the fast checks below cover the manifest pin and the byte-stable export.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_agent.quality import FEATURE_NAMES, batch_features, limits_for
from edge_agent.quality.features import FEATURE_VERSION
from edge_agent.quality.scorer import MODEL_CLASSES

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
MODEL = MODELS / "sensor-quality.onnx"
FIXTURE = ROOT / "tests" / "edge_agent" / "quality" / "fixtures" / "heldout_station_windows.npz"


def _manifest_sha256() -> str:
    entry = json.loads((MODELS / "manifest.json").read_text())["files"]["sensor-quality.onnx"]
    return str(entry["sha256"])


def test_manifest_pins_the_shipped_model() -> None:
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == _manifest_sha256()


def test_model_metadata_matches_the_runtime() -> None:
    import onnx

    model = onnx.load(str(MODEL))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["feature_names"] == ",".join(FEATURE_NAMES)
    assert props["feature_version"] == str(FEATURE_VERSION)
    assert props["classes"] == ",".join(MODEL_CLASSES)


def test_export_is_byte_stable(tmp_path: Path) -> None:
    """Same data, same seed: two fits export to identical bytes."""
    sys.path.insert(0, str(MODELS))
    import train_quality

    with np.load(FIXTURE) as data:
        values, metrics, kinds = data["values"], data["metrics"].astype(str), data["kinds"]
    limits = [limits_for(m) for m in metrics]
    x = batch_features(
        values,
        np.array([lim.minimum for lim in limits]),
        np.array([lim.maximum for lim in limits]),
        np.array([lim.resolution for lim in limits]),
        np.full(len(limits), 3600.0),
    )
    keep = np.isin(kinds, MODEL_CLASSES)
    y = np.array([MODEL_CLASSES.index(k) for k in kinds[keep]])
    digests = []
    for name in ("a.onnx", "b.onnx"):
        classifier = train_quality.new_classifier().set_params(max_iter=10)
        train_quality.export(classifier.fit(x[keep], y), tmp_path / name)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_full_rebuild_reproduces_the_shipped_model(tmp_path: Path) -> None:
    sdist = os.environ.get("FIELDPROOF_PVLIB_SDIST")
    beijing = Path(
        os.environ.get("FIELDPROOF_BEIJING", ROOT.parent / "shared/data/stations/beijing")
    )
    if not sdist or not Path(sdist).is_file() or not beijing.is_dir():
        pytest.fail(
            "the rebuild needs pvlib's source archive and the Beijing stations: `make test` "
            "downloads the archive (or: pip download --no-deps --no-binary :all: -d DIR "
            "pvlib==0.16.1, then FIELDPROOF_PVLIB_SDIST=DIR/pvlib-0.16.1.tar.gz); "
            f"Beijing data expected in {beijing} (or FIELDPROOF_BEIJING)",
            pytrace=False,
        )
    out = tmp_path / "sensor-quality.onnx"
    subprocess.run(
        [
            sys.executable,
            str(MODELS / "train_quality.py"),
            str(out),
            "--pvlib-sdist",
            sdist,
            "--beijing",
            str(beijing),
        ],
        check=True,
    )
    assert hashlib.sha256(out.read_bytes()).hexdigest() == _manifest_sha256()
