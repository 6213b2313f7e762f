"""The ``fieldproof`` command line.

Each command group lives in its own module exposing ``register(subparsers)``; the
groups are named here by module path and imported at start-up, so the shared core
never imports the device or server packages statically. Group modules keep heavy
imports inside their handlers so ``fieldproof --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from fieldproof import __version__
from fieldproof.errors import FieldproofError

Handler = Callable[[argparse.Namespace], int]

COMMAND_GROUPS: tuple[str, ...] = (
    "fieldproof.cli.keys",
    "fieldproof.cli.report",
    "fieldproof.cli.merkle",
    "fieldproof.cli.chain",
    "edge_agent.cli",
    "aggregator.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldproof",
        description="Edge sensing network with signed readings anchored on an EVM chain.",
    )
    parser.add_argument("--version", action="version", version=f"fieldproof {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def fail(message: str) -> int:
    """Print ``message`` to stderr as the command's error and return exit status 1."""
    print(f"fieldproof: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except FieldproofError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


def group_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add a command group ``name`` and return the subparsers for its commands."""
    group = subparsers.add_parser(name, help=help_text, description=help_text)
    return group.add_subparsers(title="commands", metavar="COMMAND", required=True)
