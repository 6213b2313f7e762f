"""The state every route reads: sources, config, views and limits, kept on ``app.state``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from aggregator.api.cache import TtlCache
from aggregator.api.config import ApiConfig, ApiKeyConfig
from aggregator.api.devices import DeviceDirectory
from aggregator.api.epochs import EpochIndex
from aggregator.api.errors import ParameterError, UnavailableError
from aggregator.api.metrics import ApiMetrics
from aggregator.api.ratelimit import RateLimiter
from aggregator.api.sources import ApiSources, ChainReader


def key_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class ApiContext:
    sources: ApiSources
    config: ApiConfig
    directory: DeviceDirectory
    epoch_index: EpochIndex | None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    # Keys are looked up by digest so no comparison runs over the secret itself.
    keys: dict[bytes, ApiKeyConfig] = field(default_factory=dict)

    @classmethod
    def build(cls, sources: ApiSources, config: ApiConfig) -> ApiContext:
        index = None if sources.anchors is None else EpochIndex(sources.anchors, sources.bundle_dir)
        return cls(
            sources=sources,
            config=config,
            directory=DeviceDirectory(sources),
            epoch_index=index,
            keys={key_digest(k.key): k for k in config.keys},
        )

    @property
    def epochs(self) -> EpochIndex:
        if self.epoch_index is None:
            raise UnavailableError("the API was started without the anchor state (no epochs)")
        return self.epoch_index

    owner_cache: TtlCache[bytes, str | None] = field(default_factory=lambda: TtlCache(60.0))

    def owner_of(self, device_id: bytes) -> str | None:
        """The device's owner on-chain (cached: a page of devices must not cost a call
        per device on every dashboard refresh); ``None`` without a chain."""
        chain = self.sources.chain
        if chain is None:
            return None
        return self.owner_cache.get(device_id, lambda: chain.owner_of(device_id))

    @property
    def chain(self) -> ChainReader:
        if self.sources.chain is None:
            raise UnavailableError("the API was started without a chain connection")
        return self.sources.chain

    def page(self, limit: int | None, offset: int) -> tuple[int, int]:
        """Validated ``(limit, offset)``."""
        if limit is None:
            limit = self.config.default_limit
        if limit < 1 or limit > self.config.max_limit:
            raise ParameterError("limit", f"must be between 1 and {self.config.max_limit}")
        if offset < 0:
            raise ParameterError("offset", "must not be negative")
        return limit, offset


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def paged(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of ``items`` with the offset of the next page (``None`` at the end)."""
    chunk = items[offset : offset + limit]
    following = offset + limit if offset + limit < len(items) else None
    return {"items": chunk, "total": len(items), "offset": offset, "next_offset": following}


Ctx = Annotated[ApiContext, Depends(get_context)]
