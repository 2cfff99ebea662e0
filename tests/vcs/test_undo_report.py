"""What `slop undo` says it did, through the real CLI: a git run's undo names the revert commit,
the commit it reverts and the branch, and prints git's notices; a plain folder's names the files
it restored from the pre-images."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.reliability.test_user_work import AFTER, BEFORE, USER_FILE, USER_TEXT, Repo, make_repo
from tests.vcs.helpers import NO_USER_CONFIG, git

IDENTITY_NOTICE = "slop: warning: no git identity configured: commits are by slop <slop@localhost>"


def test_git_undo_names_the_revert_and_prints_gits_notices(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    git(repo.root, "init", "-q", "-b", "main")
    git(repo.root, "add", "mod.py")
    git(repo.root, "commit", "-q", "-m", "start")  # notes.txt stays untracked, the user's
    # No identity in the repository, none global (`_slop`): slop commits under its fallback,
    # and the undo's own revert says so too.
    ran = _slop(repo, "run", "--yes")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    branch = git(repo.root, "symbolic-ref", "--short", "HEAD").strip()
    assert branch.startswith("slop/")
    ticket_commit = git(repo.root, "rev-parse", "HEAD").strip()
    assert repo.code() == AFTER

    undone = _slop(repo, "undo", "bump-x")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    revert = git(repo.root, "rev-parse", "HEAD").strip()
    assert git(repo.root, "rev-parse", "HEAD~1").strip() == ticket_commit
    lines = undone.stdout.splitlines()
    assert lines[0] == f"ticket bump-x reverted: commit {revert[:7]} reverts {ticket_commit[:7]} on {branch} (1 file)"
    assert "restored" not in undone.stdout
    assert lines[1] == "ticket bump-x is todo again; `slop resume` runs it"
    assert IDENTITY_NOTICE in undone.stderr.splitlines() and "Traceback" not in undone.stderr
    assert git(repo.root, "show", "-s", "--format=%an <%ae>", revert).strip() == "slop <slop@localhost>"
    assert repo.code() == BEFORE and (repo.root / USER_FILE).read_text() == USER_TEXT


def test_plain_folder_undo_names_the_restored_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ran = _slop(repo, "run", "--yes")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    undone = _slop(repo, "undo", "bump-x")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert undone.stdout.splitlines() == [
        "ticket bump-x: restored 1 file: mod.py",
        "ticket bump-x is todo again; `slop resume` runs it",
    ]
    assert not re.search(r"revert|commit", undone.stdout)
    assert undone.stderr == ""  # no git notice in a plain folder's undo
    assert repo.code() == BEFORE and (repo.root / USER_FILE).read_text() == USER_TEXT


def _slop(repo: Repo, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """The CLI with no git identity anywhere: not the person's, not the environment's."""
    env = repo.env(0.0)
    env.update(NO_USER_CONFIG)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        env.pop(key, None)
    return subprocess.run(repo.args(command, *extra), env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
