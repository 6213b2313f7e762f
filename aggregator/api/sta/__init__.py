"""OGC SensorThings API 1.1 (Sensing, read-only) under ``/sta/v1.1`` (see routes.py)."""

from aggregator.api.sta.routes import router

__all__ = ["router"]
