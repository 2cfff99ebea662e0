"""Ctrl+C's worst moments, one at a time: a command whose shell is still being started, a
clean stop that never ends, a second Ctrl+C. Real processes and real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import slop_tui
from slop_tui.conductor.interrupt import EXIT_INTERRUPTED
from slop_tui.tools.shell_runner import run_command

SOURCE_ROOT = str(Path(slop_tui.__file__).resolve().parents[1])


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped) counts as gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def _gone(pid: int, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _alive(pid)


def _children() -> set[int]:
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            found.add(int(entry.name))
    return found


def _read_pid(pid_file: Path, within_s: float = 5.0) -> int:
    """Waits without giving the event loop a turn: nothing of asyncio moves meanwhile."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        time.sleep(0.005)
    raise AssertionError(f"{pid_file} was never written")


async def test_a_cancel_while_the_shell_is_being_started_kills_its_children_at_once(tmp_path: Path) -> None:
    """Between the shell's fork and its pipes' connection, asyncio's own clean-up would kill
    the shell alone and wait for pipes that its child still holds: 30 s here, for ever with a
    daemon. The runner must end at once and take the child with it."""
    pid_file = tmp_path / "pid"
    before = _children()
    task = asyncio.create_task(run_command(f"sleep 30 & echo $! > {pid_file}; wait", tmp_path, timeout_s=60, sandboxed=False))
    for _ in range(100):  # turn by turn, until the shell exists (its pipes come turns later)
        await asyncio.sleep(0)
        if _children() - before:
            break
    assert _children() - before, "the shell was never started"
    child = _read_pid(pid_file)  # the shell's child holds the pipes, which are not connected yet
    task.cancel()
    try:
        done, _ = await asyncio.wait({task}, timeout=5)
        assert task in done, "cancelling a command being started hung"
        assert task.cancelled()
        assert _gone(child), "the command's child outlived the cancel"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)  # let a hung runner end: its pipes close


# A command's main coroutine that will not stop: it swallows every cancellation while a
# command (whose child would run 30 s) goes on. Only the deadline, or a second Ctrl+C, ends it.
STUBBORN_MAIN = """
import asyncio, sys
from pathlib import Path
from slop_tui.conductor.interrupt import run_interruptible
from slop_tui.tools.shell_runner import run_command

async def main() -> int:
    pid_file = Path(sys.argv[1])
    command = asyncio.ensure_future(
        run_command(f"sleep 30 & echo $! > {pid_file}; wait", pid_file.parent, timeout_s=60, sandboxed=False)
    )
    while True:
        try:
            await asyncio.shield(command)
            return 0
        except asyncio.CancelledError:
            continue

sys.exit(run_interruptible(main, deadline_s=float(sys.argv[2])))
"""


def _stubborn(tmp_path: Path, deadline_s: float) -> tuple[subprocess.Popen[str], int]:
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN_MAIN)
    pid_file = tmp_path / "pid"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pid_file), str(deadline_s)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )
    return proc, _read_pid(pid_file, within_s=15)


@pytest.mark.parametrize("presses", [1, 2])
def test_a_stop_that_hangs_ends_at_the_deadline_or_at_the_second_ctrl_c(tmp_path: Path, presses: int) -> None:
    deadline_s = 1.5 if presses == 1 else 60.0
    proc, child = _stubborn(tmp_path, deadline_s)
    try:
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        if presses == 2:
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if _alive(child):
            os.kill(child, signal.SIGKILL)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Ctrl+C again quits at once" in err
    if presses == 1:
        assert deadline_s <= elapsed < deadline_s + 5, elapsed
        assert f"did not stop within {deadline_s:g} s of Ctrl+C" in err
    else:
        assert elapsed < 3, elapsed
        assert "interrupted again: quitting at once" in err
    assert "Traceback" not in err
    # Quitting at once still takes every command's process group down first.
    assert _gone(child), "a command outlived the process"
