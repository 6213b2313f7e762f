"""The key source a ``registry`` config section names."""

from __future__ import annotations

from aggregator.config import RegistryConfig
from aggregator.errors import AggregatorError
from aggregator.registry.device_keys import KeySource


def key_source_from_registry(registry: RegistryConfig) -> KeySource:
    """The key source a ``registry`` config section names."""
    if registry.mode == "allowlist" and registry.allowlist is not None:
        from aggregator.registry.allowlist import AllowlistKeySource

        return AllowlistKeySource(registry.allowlist.path, reload_s=registry.allowlist.reload_s)
    if registry.mode == "chain" and registry.chain is not None:
        from aggregator.registry.chain import connect_chain_key_source

        chain = registry.chain
        return connect_chain_key_source(
            chain.url,
            chain.registry_address,
            cache_s=chain.cache_s,
            negative_cache_s=chain.negative_cache_s,
        )
    raise AggregatorError(f"registry -> mode: {registry.mode!r} has no source configured")
