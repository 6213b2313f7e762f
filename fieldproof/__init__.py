"""fieldproof shared core: wire format, device identity, Merkle trees, config base."""

__version__ = "0.1.0"
