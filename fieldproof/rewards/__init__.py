"""Reward scoring and the cumulative reward tree: re-runnable by anyone from an epoch bundle."""
