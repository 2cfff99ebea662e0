"""Where things live in `.slop/`, the store's error, and keeping `.slop/` out of git."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

from slop_tui.errors import SlopError

STATE_VERSION = 1
SLOP_DIR = ".slop"
STATE_FILE = "state.json"
EVENTS_FILE = "events.jsonl"
PREIMAGES_DIR = "preimages"
RUNS_DIR = "runs"
_PRIVATE = 0o600  # the log holds raw command output: readable by its owner only


class StoreError(SlopError):
    """`.slop/` cannot be read or written as asked; the message names the file."""


def _safe_name(text: str) -> str:
    """A file name for any string: a readable prefix plus a hash, so `../x` or `a/b` is safe."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:40].lstrip(".") or "_"
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _timestamp() -> str:
    now = time.time()
    micro = int(now * 1e6) % 1_000_000
    return time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{micro:06d}"


def _git_exclude_file(start: Path) -> Path | None:
    """`info/exclude` of the git repository holding `start`, worktrees included."""
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        if dot_git.is_dir():
            return dot_git / "info" / "exclude"
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            try:
                line = dot_git.read_text().strip()
            except OSError:
                return None
            if not line.startswith("gitdir:"):
                return None
            git_dir = (directory / line.removeprefix("gitdir:").strip()).resolve()
            common = git_dir / "commondir"  # worktrees share the main repository's info/
            if common.is_file():
                git_dir = (git_dir / common.read_text().strip()).resolve()
            return git_dir / "info" / "exclude"
    return None


def exclude_from_git(repo_root: Path) -> bool:
    """Add `.slop/` to the repository's `.git/info/exclude` once; False when not in git."""
    exclude = _git_exclude_file(repo_root.resolve())
    if exclude is None:
        return False
    pattern = f"{SLOP_DIR}/"
    try:
        current = exclude.read_text() if exclude.exists() else ""
        if any(line.strip() in (pattern, f"/{pattern}", SLOP_DIR) for line in current.splitlines()):
            return True
        exclude.parent.mkdir(parents=True, exist_ok=True)
        separator = "" if not current or current.endswith("\n") else "\n"
        with open(exclude, "a", encoding="utf-8") as fh:
            fh.write(f"{separator}# slop-tui's run state\n{pattern}\n")
    except OSError as exc:
        raise StoreError(f"{exclude}: cannot add {pattern}: {exc.strerror or exc}") from None
    return True

