"""Runaway commands: killed whole at their timeout, output capped, the run going on.

Each command runs through `ToolExecutor.execute(run_command)` (the worker's path) with a 1 s
ceiling, all at once, while a heartbeat task checks the event loop never stalls:

- children and grandchildren that ignore SIGTERM, a burst of 40 of them, a shell that traps
  TERM, and a daemon that leaves the process group with `setsid`: every process is gone after
  the timeout (found by a marker in its command line, zombies count as gone);
- 100 MB printed (finite) and `yes` forever: the result keeps at most the runner's cap, the
  worker sees a few hundred tokens, and the loop keeps going;
- commands that read stdin forever: stdin is /dev/null, so they end at once, never hang;
- after all that, an ordinary command still runs normally.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from slop_tui.models import RunCommandArgs
from slop_tui.tools.executor import ToolExecutor, ToolOutcome
from tests.reliability.counts import tally

COUNTS = tally(
    "runaway commands",
    "commands",
    "killed whole at the timeout",
    "output capped",
    "ended at once (stdin)",
    "survivors",
    "loop stalls",
)
TIMEOUT_S = 1.0
# SIGTERM, 0.5 s grace, SIGKILL, pipes drained take well under a second; the bound only has to
# tell a kill from waiting out the runaways' 60 s sleeps, not measure the machine (a loaded
# 2-core machine took 4.6 s).
GRACE_S = 15.0
CAP_BYTES = 1_000_000  # the runner's default per stream
PY = sys.executable


@dataclass(frozen=True)
class Runaway:
    name: str
    command: str  # `{m}` is replaced by a unique marker the processes carry in their argv
    kind: str  # "killed" | "capped" | "stdin"


def _py(code: str) -> str:
    return f"{PY} -c '{code}' {{m}}"


IGNORE_TERM = "import signal, os, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
RUNAWAYS = [
    Runaway("children ignore SIGTERM", _py(IGNORE_TERM + "[os.fork() for _ in range(2)]; time.sleep(60)"), "killed"),
    Runaway(
        "40 children ignore SIGTERM",
        _py(IGNORE_TERM + "[os.fork() or time.sleep(60) for _ in range(40)]; time.sleep(60)"),
        "killed",
    ),
    Runaway("shell traps TERM", "trap '' TERM; sleep 60 & sleep 61 & wait; : {m}", "killed"),
    Runaway("daemon leaves the group (setsid)", "setsid sleep 63 >/dev/null 2>&1 & sleep 60", "killed"),
    Runaway("daemon left behind, shell exits", "setsid sleep 64 >/dev/null 2>&1 & exit 0", "killed"),
    Runaway("closes its output and waits", "exec >/dev/null 2>&1; trap '' TERM; sleep 60; : {m}", "killed"),
    Runaway("prints 100 MB", "head -c 100000000 /dev/zero | tr '\\0' x; : {m}", "capped"),
    Runaway("prints forever", "yes runaway-{m}", "capped"),
    Runaway("prints forever to stderr", "yes runaway-{m} >&2", "capped"),
    Runaway("reads stdin forever (cat)", "cat; : {m}", "stdin"),
    Runaway("reads stdin forever (python)", _py("import sys; sys.stdin.read()"), "stdin"),
    Runaway("reads a line forever", "while read line; do :; done; : {m}", "stdin"),
    Runaway("reads the terminal", "cat /dev/tty; : {m}", "stdin"),
]


def alive_with(marker: str) -> list[int]:
    """Processes (not zombies) whose command line or environment carries `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            seen = Path(f"/proc/{entry}/cmdline").read_bytes() + Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in seen and state not in ("Z", "X"):
            found.append(int(entry))
    return found


async def heartbeat(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.05)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


async def run_one(executor: ToolExecutor, runaway: Runaway) -> tuple[Runaway, ToolOutcome, float, str]:
    marker = f"slopmark{uuid.uuid4().hex[:12]}"
    # Every process the command starts inherits the marker in its environment.
    command = f"export SLOPMARK={marker}; " + runaway.command.replace("{m}", marker)
    started = time.monotonic()
    outcome = await executor.execute("t1", RunCommandArgs(command=command, timeout_s=30))
    return runaway, outcome, time.monotonic() - started, marker


async def test_runaway_commands_are_killed_whole_capped_and_the_run_goes_on(tmp_path: Path) -> None:
    executor = ToolExecutor(tmp_path, command_timeout_s=TIMEOUT_S)
    gaps: list[float] = []
    stop = asyncio.Event()
    beating = asyncio.create_task(heartbeat(gaps, stop))
    results = await asyncio.gather(*(run_one(executor, r) for r in RUNAWAYS))
    stop.set()
    await beating
    problems: list[str] = []
    await asyncio.sleep(0.2)  # let the kernel finish reaping what SIGKILL hit
    for runaway, outcome, elapsed, marker in results:
        COUNTS.add("commands")
        result = outcome.command_result
        assert result is not None, runaway.name
        survivors = alive_with(marker)
        if survivors:
            COUNTS.add("survivors", len(survivors))
            problems.append(f"{runaway.name}: {len(survivors)} process(es) survived: {survivors}")
            for pid in survivors:  # never leave them behind, even when the test fails
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        if runaway.kind == "stdin":
            if result.timed_out or elapsed > TIMEOUT_S:
                problems.append(f"{runaway.name}: waited {elapsed:.1f} s on stdin")
            else:
                COUNTS.add("ended at once (stdin)")
            continue
        if runaway.name in ("prints 100 MB", "daemon left behind, shell exits"):
            finished_or_killed = elapsed <= TIMEOUT_S + GRACE_S
        else:
            finished_or_killed = result.timed_out and elapsed <= TIMEOUT_S + GRACE_S
        if not finished_or_killed:
            problems.append(f"{runaway.name}: timed_out={result.timed_out} after {elapsed:.1f} s")
        if runaway.kind == "killed":
            if result.timed_out and not outcome.ok and "were killed" in outcome.output and not survivors:
                COUNTS.add("killed whole at the timeout")
            elif not survivors and runaway.name.startswith("daemon left behind"):
                COUNTS.add("killed whole at the timeout")  # the shell ended; its daemon did not stay
            else:
                problems.append(f"{runaway.name}: {outcome.output[:120]!r}")
        if runaway.kind == "capped":
            kept = len(result.stdout.encode()) + len(result.stderr.encode())
            shown = len(outcome.output)
            if result.truncated and kept <= 2 * CAP_BYTES + 200 and shown < 4000:
                COUNTS.add("output capped")
                if result.timed_out:
                    COUNTS.add("killed whole at the timeout")
            else:
                problems.append(f"{runaway.name}: kept {kept} bytes, showed {shown} characters")
    # A loop blocked on a runaway would stall until its 60 s sleep or 100 MB of output ended;
    # a busy 2-core machine (four test workers, plus these runaways) starves it for ~2.5 s.
    stalls = [g for g in gaps if g > 5.0]
    COUNTS.add("loop stalls", len(stalls))
    assert problems == []
    assert stalls == [], f"the event loop stalled: {stalls}"
    # The run goes on: an ordinary command, right after.
    after = await executor.execute("t1", RunCommandArgs(command="echo still here", timeout_s=5))
    assert after.ok and "still here" in after.output


@pytest.mark.parametrize("runaway", [r for r in RUNAWAYS if r.kind == "killed"][:1], ids=lambda r: r.name)
async def test_cancelling_a_runaway_kills_it_whole(tmp_path: Path, runaway: Runaway) -> None:
    # Ctrl+C (the conductor cancels the worker) must not leave the group behind either.
    executor = ToolExecutor(tmp_path, command_timeout_s=30)
    marker = f"slopmark{uuid.uuid4().hex[:12]}"
    command = f"export SLOPMARK={marker}; " + runaway.command.replace("{m}", marker)
    task = asyncio.create_task(executor.execute("t1", RunCommandArgs(command=command)))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(alive_with(marker)) >= 3:
            break
    assert alive_with(marker), "the command never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    COUNTS.add("commands")
    survivors = alive_with(marker)
    COUNTS.add("survivors", len(survivors))
    assert survivors == []
