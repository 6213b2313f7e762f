"""Device-side commands: ``fieldproof agent …``, ``fieldproof device …``, ``fieldproof fleet …``.

Each command module exposes ``register_agent(agent_subparsers)`` for commands under
``fieldproof agent`` and, optionally, ``register(subparsers)`` for groups of its own.
"""

from __future__ import annotations

import argparse
import importlib

from fieldproof.cli import group_parser

COMMAND_MODULES: tuple[str, ...] = (
    "edge_agent.cli.perception",
    "edge_agent.cli.operations",
    "edge_agent.cli.view",
)

# The extra that installs what these commands run.
ROLE_EXTRA = "edge"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = group_parser(subparsers, "agent", "Run and inspect the edge agent.")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.register_agent(agent)
        if hasattr(module, "register"):
            module.register(subparsers)
