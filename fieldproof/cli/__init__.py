"""The ``fieldproof`` command line.

Command groups register through the ``fieldproof.commands`` entry points: the core's
own groups and each role's (``agent``, ``aggregator``, ``demo``, …). A role's module
names the extra that brings what it runs (``ROLE_EXTRA``); the core names no app. An
install without a role lacks its commands, and calling one says which extra adds it.
Group modules keep heavy imports inside their handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from fieldproof import __version__
from fieldproof.cli.extras import missing_requirements
from fieldproof.errors import FieldproofError

Handler = Callable[[argparse.Namespace], int]
ENTRY_POINT_GROUP = "fieldproof.commands"
DISTRIBUTION = "fieldproof"


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _missing_role(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    extra: str,
    missing: Sequence[str],
) -> None:
    """A command that only says which extra installs it."""
    spec = f"{DISTRIBUTION}[{extra}]"
    message = (
        f"'{name}' is not installed here (missing: {', '.join(missing)}); "
        f"install it with: pip install '{spec}'"
    )
    command = subparsers.add_parser(name, help=f"(not installed: pip install '{spec}')")
    command.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    command.set_defaults(handler=lambda _args: fail(message))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldproof",
        description="Edge sensing network with signed readings anchored on an EVM chain.",
    )
    parser.add_argument("--version", action="version", version=f"fieldproof {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    registered: set[str] = set()
    for entry in _entry_points():
        module = importlib.import_module(entry.module)
        extra: str | None = getattr(module, "ROLE_EXTRA", None)
        missing = [] if extra is None else missing_requirements(DISTRIBUTION, [extra])
        if missing:
            _missing_role(subparsers, entry.name, extra or "", missing)
        elif entry.module not in registered:
            # Several commands may name one module; it registers them all at once.
            registered.add(entry.module)
            module.register(subparsers)
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
        fail(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def group_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add a command group ``name`` and return the subparsers for its commands."""
    group = subparsers.add_parser(name, help=help_text, description=help_text)
    return group.add_subparsers(title="commands", metavar="COMMAND", required=True)
