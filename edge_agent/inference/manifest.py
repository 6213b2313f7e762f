"""The model manifest: sha256, licence, provenance and I/O spec of every shipped file.

A model is loaded only after its bytes hash to the sha256 its manifest pins, so a
corrupted or swapped file is refused before ONNX Runtime parses it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.inference.errors import InferenceError, ModelIntegrityError, ModelNotFoundError

MODELS_DIR_ENV = "FIELDPROOF_MODELS_DIR"
MANIFEST_NAME = "manifest.json"


def default_models_dir() -> Path:
    """``$FIELDPROOF_MODELS_DIR``, else the ``models/`` directory of the source tree."""
    configured = os.environ.get(MODELS_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Name, shape and element type of one model input or output."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One file of the manifest."""

    file: str
    sha256: str
    size: int
    licence: str
    provenance: str
    model_id: str | None
    kind: str
    detector: str | None
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    """All entries of one manifest file, by file name."""

    directory: Path
    entries: dict[str, ModelEntry]

    def entry(self, file_name: str) -> ModelEntry:
        try:
            return self.entries[file_name]
        except KeyError as exc:
            raise ModelNotFoundError(
                f"{file_name} is not listed in {self.directory / MANIFEST_NAME}"
            ) from exc

    def path(self, file_name: str) -> Path:
        return self.directory / self.entry(file_name).file


def _specs(raw: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(name=str(t["name"]), shape=tuple(t["shape"]), dtype=str(t["dtype"])) for t in raw
    )


def load_manifest(directory: Path | None = None) -> Manifest:
    """Read ``manifest.json`` from ``directory`` (default: :func:`default_models_dir`)."""
    directory = directory if directory is not None else default_models_dir()
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelNotFoundError(f"model manifest {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise InferenceError(f"model manifest {path} cannot be read: {exc}") from exc
    entries: dict[str, ModelEntry] = {}
    try:
        for file_name, item in data["files"].items():
            entries[file_name] = ModelEntry(
                file=file_name,
                sha256=str(item["sha256"]).lower(),
                size=int(item["size"]),
                licence=str(item["licence"]),
                provenance=str(item["provenance"]),
                model_id=item.get("model_id"),
                kind=str(item["kind"]),
                detector=item.get("detector"),
                inputs=_specs(item.get("inputs", [])),
                outputs=_specs(item.get("outputs", [])),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InferenceError(f"model manifest {path} is malformed: {exc!r}") from exc
    return Manifest(directory=directory, entries=entries)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError as exc:
        raise ModelNotFoundError(f"model file {path} does not exist") from exc
    return digest.hexdigest()


def verify_model_file(path: Path, expected_sha256: str) -> str:
    """Hash ``path`` and compare with ``expected_sha256``; returns the hash or raises."""
    actual = sha256_file(path)
    if actual != expected_sha256.lower():
        raise ModelIntegrityError(path, expected_sha256.lower(), actual)
    return actual


def find_entry(path: Path) -> ModelEntry | None:
    """The entry for ``path`` in the manifest beside it, or ``None`` when none lists it."""
    manifest_path = path.parent / MANIFEST_NAME
    if not manifest_path.exists():
        return None
    return load_manifest(path.parent).entries.get(path.name)
