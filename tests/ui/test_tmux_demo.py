"""`slop demo` in a real terminal (tmux), as a person plays it: Enter, `s`; at the first clutch
the worker's reason is on screen; `e` then Esc leaves the JSON editor with the payload unchanged;
every clutch approved; the run ends `4/4 done`; ctrl+q exits 0 and leaves a clean terminal.

The demo runs as shipped (`python -m slop_tui demo`, its own scripted team and latencies, a few
seconds in all) in a temporary HOME, TMPDIR and working folder, on a private tmux server.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from slop_tui.models import Approve, DecisionMade, Edit
from slop_tui.store import Store

ROOT = Path(__file__).resolve().parents[2]
FIRST_REASON = "I add the contract at the end of the module"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: the real-terminal demo test needs it")


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


def test_the_demo_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    temp = start_demo(tmux, tmp_path)
    tmux.keys("s")
    started = time.monotonic()

    first = tmux.wait(lambda s: clutch_key(s) is not None, "the first clutch")
    assert FIRST_REASON in first  # why the worker asks, at the clutch itself
    tmux.keys("e")
    tmux.wait(lambda s: "Esc discards" in s, "the JSON editor")
    tmux.keys("x", "y", "z", "Escape")  # typed, then discarded
    back = tmux.wait(lambda s: "Esc discards" not in s and "a approve" in s, "the clutch's view again")
    assert clutch_key(back) == clutch_key(first)

    approved = 0
    deadline = time.monotonic() + 90
    while True:
        assert time.monotonic() < deadline, f"the run did not end; the screen:\n{tmux.screen()}"
        shown = tmux.screen()
        key = clutch_key(shown)
        if key is not None:
            tmux.keys("a")
            approved += 1
            tmux.wait(lambda s: clutch_key(s) != key, "the clutch to close")
            continue
        if "4/4 done" in shown:
            break
        if "l land" in shown and "d drop" in shown:
            tmux.keys("Escape")  # the run-end screen: back to the board and its header
        time.sleep(0.1)
    assert approved >= 4
    print(f"run: {time.monotonic() - started:.1f} s, {approved} clutches")

    tmux.keys("C-q")
    done = tmux.wait(lambda s: re.search(r"^EXIT=\d+", s, re.M) is not None, "the demo to exit", timeout=20)
    assert re.search(r"^EXIT=0$", done, re.M), done
    # The shell's prompt is back after it: the terminal is the shell's again.
    done = tmux.wait(lambda s: re.search(r"^EXIT=0\n(.*\n)*bash[^\n]*[#$] *$", s.rstrip("\n") + "\n", re.M) is not None, "the prompt")
    # A clean terminal: the shell prompt and the demo's last words, no alternate screen left.
    assert tmux.run("display-message", "-p", "-t", "demo", "#{alternate_on}").strip() == "0"
    assert tmux.run("display-message", "-p", "-t", "demo", "#{mouse_any_flag}").strip() == "0"
    assert "slop demo: the sample repository, as the run left it, is in" in done

    # The first proposal was approved as proposed: Esc left no edit behind.
    repo = next(temp.glob("slop-demo-*/sample_repo"))
    decisions = [e for e in Store(repo).events() if isinstance(e, DecisionMade)]
    assert decisions and not any(isinstance(e.decision, Edit) for e in decisions)
    assert isinstance(decisions[0].decision, Approve)
