"""Detector plugins: every module here is one detector and declares a ``PLUGIN``.

Adding a detector is adding a module: the registry and the config union are built
from what this package holds.
"""
