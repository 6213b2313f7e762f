"""The whole network on one machine, for ``fieldproof demo``."""
