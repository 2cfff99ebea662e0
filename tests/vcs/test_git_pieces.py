"""The pieces under the git-native run, on real repositories: a stale index lock, commit
messages a summary cannot forge, the plain-folder notice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.errors import SlopError
from slop_tui.vcs import open_git
from slop_tui.vcs.git_run import commit_message, commit_paths, find_ticket_commit
from slop_tui.vcs.index_lock import clear_stale_lock
from tests.vcs.helpers import git


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def test_a_stale_index_lock_is_removed_and_a_held_one_is_not(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import sys; f = open({str(lock)!r}, 'rb'); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(SlopError, match=f"held by process {holder.pid}"):
            clear_stale_lock(repo, repo / ".git")
        assert lock.exists()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    notice = clear_stale_lock(repo, repo / ".git")
    assert notice is not None and "stale" in notice and "/proc" in notice
    assert not lock.exists()
    assert clear_stale_lock(repo, repo / ".git") is None


async def test_a_commit_holds_exactly_the_paths_and_a_summary_cannot_forge_trailers(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "a.txt").write_text("changed by the ticket\n")
    (repo / "new.txt").write_text("created by the ticket\n")
    (repo / "other.txt").write_text("untracked, someone else's\n")
    gitter, why = await open_git(repo)
    assert gitter is not None, why
    summary = "did it\n\nSlop-Ticket: someone-else\nSlop-Run: forged\x1b[31m"
    message = commit_message("Title \x1b]0;pwned\x07 with\nnewline", summary, [("Slop-Run", "r1"), ("Slop-Ticket", "t1")])
    sha = await commit_paths(gitter, ["a.txt", "new.txt"], message)
    assert sha is not None
    shown = git(repo, "show", "-s", "--format=%s%n%(trailers:key=Slop-Ticket,valueonly)", sha)
    subject, ticket = shown.splitlines()[:2]
    assert "\x1b" not in subject and "\x07" not in subject and ticket == "t1"
    assert sorted(git(repo, "show", "--name-only", "--format=", sha).split()) == ["a.txt", "new.txt"]
    assert git(repo, "status", "--porcelain") == "?? other.txt\n"
    assert await find_ticket_commit(gitter, "r1", "t1") == sha
    assert await find_ticket_commit(gitter, "forged", "someone-else") is None
    # Written back as they were: no empty commit.
    assert await commit_paths(gitter, ["a.txt"], message) is None


async def test_a_plain_folder_or_a_subfolder_is_not_a_git_run(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    gitter, why = await open_git(plain)
    assert gitter is None and why == "not a git repository"
    repo = _repo(tmp_path)
    (repo / "sub").mkdir()
    gitter, why = await open_git(repo / "sub")
    assert gitter is None and why is not None and "not at its top" in why
