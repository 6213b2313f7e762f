"""Where device keys come from: an allowlist file (embedded) or the DeviceRegistry (chain)."""

from aggregator.registry.device_keys import DeviceEntry, KeySource

__all__ = ["DeviceEntry", "KeySource"]
