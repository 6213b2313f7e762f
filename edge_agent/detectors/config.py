"""Detector config: the discriminated union of every plugin's config, keyed by ``type``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from edge_agent.detectors.plugin import DetectorConfigBase
from edge_agent.detectors.registry import PLUGINS

if TYPE_CHECKING:
    # Statically every plugin's config is a DetectorConfigBase; the union exists at run time.
    DetectorConfig = DetectorConfigBase
else:
    DetectorConfig = Annotated[
        Union[tuple(plugin.config for plugin in PLUGINS.values())],  # noqa: UP007
        Field(discriminator="type"),
    ]

__all__ = ["DetectorConfig", "DetectorConfigBase"]
