"""Remote control of the agent: operator-signed config documents and model updates."""

from __future__ import annotations
