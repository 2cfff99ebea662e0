"""`slop resume --help` and `slop undo --help` say what the commands do now (issue 13), read
through the real CLI: resume restores every interrupted ticket and retries blocked and undone
ones, even of a finished run; undo refuses over a later change and never loses an edit."""

from __future__ import annotations

import re
import subprocess
import sys


def help_of(command: str) -> str:
    done = subprocess.run([sys.executable, "-m", "slop_tui", command, "--help"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # argparse wraps lines, and breaks words after a hyphen: joined back.
    return " ".join(re.sub(r"-\n\s*", "-", done.stdout).split())


def test_resume_help_says_what_resume_does() -> None:
    text = help_of("resume")
    assert "every interrupted ticket (one that was running, or left todo with its edits on disk)" in text
    assert "gets its files back from their pre-images" in text
    assert "a file changed since stops the resume with nothing touched" in text
    assert "the interrupted, blocked and undone tickets run again" in text
    assert "once it finished with tickets undone or blocked" in text
    assert "an edit is never applied twice" in text


def test_undo_help_says_it_refuses_rather_than_lose_edits() -> None:
    text = help_of("undo")
    assert "its commit is reverted by a new commit" in text
    assert "when you or a later ticket changed a file since, the undo refuses, naming the files" in text
    assert "touches nothing" in text and "Your edits are never overwritten" in text
    assert "--force" not in text
