"""Rewards: per-device scores of an epoch, the emission split among owners, cumulative trees."""
