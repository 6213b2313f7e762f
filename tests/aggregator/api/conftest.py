"""The API tests' worlds (see fixtures.py)."""

from tests.aggregator.api.fixtures import sqlite_world, world

__all__ = ["sqlite_world", "world"]
