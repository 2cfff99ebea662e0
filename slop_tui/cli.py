"""The `slop` command line: one sub-command per module in `slop_tui/commands/`.

Each command module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
Command modules keep their heavy imports inside `run`, so `slop --help` stays fast and no
provider SDK is imported before the first model call.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from slop_tui import __version__
from slop_tui.errors import SlopError

# Order is the order shown by `slop --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "slop_tui.commands.tui",
    "slop_tui.commands.demo",
    "slop_tui.commands.run",
    "slop_tui.commands.ticket",
    "slop_tui.commands.resume",
    "slop_tui.commands.status",
    "slop_tui.commands.undo",
    "slop_tui.commands.view",
    "slop_tui.commands.doctor",
)


def _load_commands() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slop",
        description=(
            "Run a four-tier team of language models on a repository: a planner cuts a request "
            "into tracks, a lead cuts tracks into tickets, workers propose changes, and you "
            "approve every change at the clutch."
        ),
    )
    parser.add_argument("--version", action="version", version=f"slop-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _load_commands():
        command_parser = sub.add_parser(
            module.NAME, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP)
        )
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        if "slop_tui.commands.tui" in COMMAND_MODULES:
            return main(["tui", *(argv or [])])
        parser.print_help()
        return 0
    try:
        return int(run(args) or 0)
    except SlopError as exc:
        print(f"slop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("slop: interrupted", file=sys.stderr)
        return 130
