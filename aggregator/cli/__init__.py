"""Server-side commands: ``fieldproof aggregator …`` and the groups its modules add.

Each command module exposes ``register_aggregator(aggregator_subparsers)`` for commands
under ``fieldproof aggregator`` and, optionally, ``register(subparsers)`` for groups of
its own (``fieldproof verify``, ``fieldproof rewards``, …).
"""

from __future__ import annotations

import argparse
import importlib

from fieldproof.cli import group_parser

COMMAND_MODULES: tuple[str, ...] = (
    "aggregator.cli.run",
    "aggregator.cli.anchor",
    "aggregator.cli.api",
    "aggregator.cli.dead_letters",
)

# The extra that installs what these commands run.
ROLE_EXTRA = "aggregator"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    aggregator = group_parser(subparsers, "aggregator", "Run and inspect the aggregator.")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        if hasattr(module, "register_aggregator"):
            module.register_aggregator(aggregator)
        if hasattr(module, "register"):
            module.register(subparsers)
