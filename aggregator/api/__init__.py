"""The HTTP API and dashboard: series, traffic, reports, proofs, epochs, rewards, export."""

from aggregator.api.app import create_app
from aggregator.api.config import ApiConfig, ApiKeyConfig, MapConfig
from aggregator.api.server import ApiServer
from aggregator.api.sources import ApiSources, ContractReader, DeviceMeta

__all__ = [
    "ApiConfig",
    "ApiKeyConfig",
    "ApiServer",
    "ApiSources",
    "ContractReader",
    "DeviceMeta",
    "MapConfig",
    "create_app",
]
