"""Runs one proposal through the terminal clutch; the tests drive it through a real pipe.

Usage: python -m tests.tools.clutch_driver REPO KIND. Prints the clutch's screen, then one
line `RESULT <json>` with the final decision and arguments, plus how often a ticker ran while
the clutch waited for input (the event loop must keep going).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec
from rich.console import Console

from slop_tui.conductor.terminal_clutch import TerminalClutch
from slop_tui.errors import SlopError
from slop_tui.models import EditFileArgs, RunCommandArgs, ToolArgs, WriteFileArgs
from slop_tui.tools.clutch_loop import pass_clutch
from slop_tui.tools.executor import ToolExecutor

PROPOSALS: dict[str, ToolArgs] = {
    "write": WriteFileArgs(path="a.py", content="x = 2\n"),
    "edit": EditFileArgs(path="a.py", old="x = 1", new="x = 2"),
    "command": RunCommandArgs(command="pytest -q", timeout_s=30),
    "command-network": RunCommandArgs(command="pip download x", timeout_s=30, network=True),
}


async def main(repo: Path, kind: str) -> int:
    executor = ToolExecutor(repo)
    clutch = TerminalClutch(console=Console(file=sys.stdout, width=100, color_system=None))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    proposal = executor.propose("t1", PROPOSALS[kind])
    try:
        decision, final = await pass_clutch(clutch, executor, proposal)
    except SlopError as exc:
        print(f"ERROR {exc}")
        return 3
    finally:
        ticking.cancel()
    result = {
        "decision": msgspec.to_builtins(decision),
        "arguments": msgspec.to_builtins(final.arguments),
        "error": final.error,
        "ticks": ticks,
    }
    print("RESULT " + msgspec.json.encode(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), sys.argv[2])))
