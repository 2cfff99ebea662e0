"""The `slop` command line: one sub-command per module in `slop_tui/commands/`.

Each command module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
Command modules keep their heavy imports inside `run`, so `slop --help` stays fast and no
provider SDK is imported before the first model call.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from slop_tui import __version__
from slop_tui.display import sanitize
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
    "slop_tui.commands.diff",
    "slop_tui.commands.land",
    "slop_tui.commands.drop",
    "slop_tui.commands.view",
    "slop_tui.commands.map",
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
    parser.add_argument("-V", "--version", action="version", version=f"slop-tui {__version__}")
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
        # Error text quotes paths, config values and model output: never raw control characters.
        print(f"slop: error: {sanitize(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("slop: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line for the person, the trace kept in a file
        where = _save_crash_report()
        print(
            f"slop: internal error: {type(exc).__name__}: {sanitize(str(exc), one_line=True)[:300]}"
            f" (this is a bug in slop; the details are in {where})",
            file=sys.stderr,
        )
        return 70


def _save_crash_report() -> str:
    """Write the current exception's traceback to a file in the user's state folder; its path."""
    import tempfile
    import time
    import traceback

    from platformdirs import user_state_path

    text = traceback.format_exc()
    for folder in (user_state_path("slop-tui"), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8", errors="backslashreplace")
            return str(path)
        except OSError:
            continue
    return "nowhere (the state folder is not writable)"
