"""A stale `.git/index.lock` (left by a killed slop or git) is removed only when no git
process can be holding it.

Git holds the lock as an open file while it writes the index. "No holder" is checked two ways
through `/proc`, and both must agree: no process has the lock file open, and no `git` process
works in this repository (its current directory inside the working tree or the git folder: a
git about to take the lock has not opened it yet).
"""

from __future__ import annotations

import os
from pathlib import Path

from slop_tui.errors import SlopError

_PROC = Path("/proc")


def lock_holders(lock: Path, worktree: Path, git_dir: Path) -> list[int]:
    """PIDs of processes that have `lock` open, or are `git` working in the repository."""
    holders: list[int] = []
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return holders
    lock_s, tree_s, gd_s = str(lock), str(worktree), str(git_dir)
    me = os.getpid()
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "git" or comm.startswith("git-"):
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                cwd = ""
            if any(cwd == root or cwd.startswith(root + os.sep) for root in (tree_s, gd_s)):
                holders.append(pid)
                continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == lock_s:
                    holders.append(pid)
                    break
            except OSError:
                continue
    return holders


def clear_stale_lock(worktree: Path, git_dir: Path) -> str | None:
    """Remove `<git_dir>/index.lock` when nothing holds it; a one-line notice saying so (None
    when there was no lock). A held lock raises `SlopError` naming the holder."""
    lock = git_dir / "index.lock"
    if not lock.exists():
        return None
    if not _PROC.is_dir():
        raise SlopError(f"{lock} exists and slop cannot tell whether a git process holds it (no /proc); "
                        "remove it yourself if no git is running")
    holders = lock_holders(lock.resolve(), worktree.resolve(), git_dir.resolve())
    if holders:
        raise SlopError(
            f"{lock} is held by process {', '.join(map(str, holders))} (a git working in this "
            "repository); wait for it to finish"
        )
    try:
        lock.unlink()
    except FileNotFoundError:
        return None
    return (f"removed a stale {lock}: no process had it open and no git process was working in "
            "the repository (checked in /proc)")
