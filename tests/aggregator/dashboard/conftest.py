"""The dashboard tests run on the API tests' SQLite world."""

from tests.aggregator.api.fixtures import sqlite_world

__all__ = ["sqlite_world"]
