"""`slop demo` driven in a real terminal: a private tmux pane, the demo started in it as a person
types it, the clutches approved to the end, and the checks every tmux test ends with (the exit
code, the shell's prompt back, no alternate screen or mouse mode left on).

Used by tests/ui/test_tmux_demo.py, which imports the `tmux` fixture by name.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    """One pane of a private tmux server (its own socket: the person's sessions are untouched)."""

    def __init__(self, socket: Path) -> None:
        self.base = ["tmux", "-S", str(socket), "-f", "/dev/null"]

    def run(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "demo", *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo")

    def wait(self, ok: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if ok(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{shown}")
            time.sleep(0.1)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    socket = tmp_path / "tmux.sock"
    pane = Tmux(socket)
    pane.run("new-session", "-d", "-s", "demo", "-x", "120", "-y", "40", "bash --norc --noprofile")
    try:
        yield pane
    finally:
        subprocess.run([*pane.base, "kill-server"], capture_output=True, timeout=10)


def clutch_key(screen: str) -> str | None:
    """What tells one clutch from the next: its title and its `proposal N` line."""
    title = re.search(r"Clutch · ticket \S+ · \S+", screen)
    if title is None:
        return None
    number = re.search(r"proposal \d+", screen)
    return title.group() + (number.group() if number else "")


def start_demo(tmux: Tmux, tmp_path: Path) -> Path:
    """`slop demo` typed into the shell as a person would (its own HOME, config and TMPDIR), up
    to the plan review; returns the TMPDIR the demo copies its sample repository into."""
    home, work, temp = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for folder in (home, work, temp):
        folder.mkdir()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        "HOME": str(home),
        "TMPDIR": str(temp),
        "PYTHONPATH": path,
        "SLOP_CONFIG_DIR": str(home / "slop-config"),
        "TERM": "xterm-256color",
    }
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"cd {shlex.quote(str(work))} && env {assignments} {shlex.quote(sys.executable)} -m slop_tui demo; echo EXIT=$?"
    tmux.keys(command, "Enter")
    tmux.wait(lambda s: "offline demo" in s, "the board")
    tmux.keys("Enter")
    tmux.wait(lambda s: "start run" in s, "the plan review")
    return temp


def approve_to_the_end(tmux: Tmux, what: str = "the run", timeout: float = 90) -> int:
    """Approve every clutch until the header says `4/4 done` (leaving the run-end screen for the
    board when it shows); returns how many clutches were approved."""
    approved = 0
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"{what} did not end; the screen:\n{tmux.screen()}"
        shown = tmux.screen()
        key = clutch_key(shown)
        if key is not None:
            tmux.keys("a")
            approved += 1
            tmux.wait(lambda s: clutch_key(s) != key, "the clutch to close")
            continue
        if "4/4 done" in shown:
            return approved
        if "l land" in shown and "d drop" in shown:
            tmux.keys("Escape")  # the run-end screen: back to the board and its header
        time.sleep(0.1)


def quit_and_check_the_terminal(tmux: Tmux) -> str:
    """ctrl+q; then the demo exits 0, the shell's prompt is back after it, and the terminal is
    left clean (no alternate screen, no mouse reporting). Returns the final screen."""
    tmux.keys("C-q")
    done = tmux.wait(lambda s: re.search(r"^EXIT=\d+", s, re.M) is not None, "the demo to exit", timeout=20)
    assert re.search(r"^EXIT=0$", done, re.M), done
    done = tmux.wait(
        lambda s: re.search(r"^EXIT=0\n(.*\n)*bash[^\n]*[#$] *$", s.rstrip("\n") + "\n", re.M) is not None,
        "the prompt",
    )
    assert tmux.run("display-message", "-p", "-t", "demo", "#{alternate_on}").strip() == "0"
    assert tmux.run("display-message", "-p", "-t", "demo", "#{mouse_any_flag}").strip() == "0"
    return done
