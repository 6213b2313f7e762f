"""Errors of model loading and inference."""

from __future__ import annotations

from pathlib import Path

from edge_agent.errors import AgentError


class InferenceError(AgentError):
    """A model could not be loaded or run."""


class ModelNotFoundError(InferenceError):
    """A model file, or its manifest entry, does not exist."""


class ModelIntegrityError(InferenceError):
    """A model file's sha256 differs from the one its manifest pins."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        super().__init__(
            f"model file {path} does not match its manifest: "
            f"expected sha256 {expected}, actual {actual}; refusing to load it"
        )
        self.path = path
        self.expected = expected
        self.actual = actual
