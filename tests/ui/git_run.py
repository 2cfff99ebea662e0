"""A real git repository holding a finished slop run, for the end-of-run screen's tests.

`main` has one commit; `slop/abc` adds two ticket commits with slop's trailers. Identity and
dates are fixed, so every sha (and so every snapshot) is the same run to run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from slop_tui.vcs import RunBranch

RUN_ID = "abc"
BRANCH = f"slop/{RUN_ID}"
FIXED = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
}
CALC = "def add(a, b):\n    return a + b\n"
# A hostile line in a file the run wrote: the screen must show the escape, never send it.
NOTES = "# Notes\n\x1b[2J\x1b[31mred [@click=app.quit]x[/]\n"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **FIXED, "HOME": str(repo.parent)}
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit(repo: Path, title: str, summary: str, ticket: str) -> None:
    message = f"{title}\n\n{summary}\n\nSlop-Run: {RUN_ID}\nSlop-Ticket: {ticket}\n"
    git(repo, "add", "--", ".")
    git(repo, "commit", "-q", "-m", message)


def make_git_run(tmp: Path) -> tuple[Path, RunBranch]:
    """A repository on `slop/abc` with tickets `a` (calc.py) and `c` (notes.md) committed."""
    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("calc\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "Initial commit")
    base_sha = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", BRANCH)
    # Where slop keeps a run's origin (`slop_tui.vcs.git_run.start_run`).
    git(repo, "config", f"branch.{BRANCH}.slopBase", "main")
    git(repo, "config", f"branch.{BRANCH}.slopBaseSha", base_sha)
    (repo / "calc.py").write_text(CALC)
    _commit(repo, "Write add", "add written", "a")
    (repo / "notes.md").write_text(NOTES)
    _commit(repo, "Write notes \x1b[31m[bold]loud[/]", "notes written", "c")
    return repo, RunBranch(run_id=RUN_ID, branch=BRANCH, base_branch="main", base_sha=base_sha)


def branch_sha(repo: Path, branch: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None
