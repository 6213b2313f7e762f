"""Epoch anchoring: bundles of an epoch's reports, their Merkle root on-chain, leadership."""
