"""What the store accepts as `.slop/` and as a path to restore: a cloned repository is
untrusted input, and `.slop/` is slop's private state, never the repository's.

`check_private_state` runs before the store reads or writes anything in `.slop/` (see
`StoreBase._guard`): a `.slop` that is a symlink or not a folder, anything in it that is a
symlink or not a regular file or folder, or anything in it that git tracks, means the folder
came from somewhere else (a clone, an archive), and slop refuses to touch it. Every file in it
is also opened with `O_NOFOLLOW` (`private_io.py`), so a symlink planted after the check still
cannot redirect a read or a write.

`restore_path_problem` is the rule for a path named by a pre-image index or a `FileChanged`
event: relative, inside the repository, never `.git` or `.slop` in any spelling (the file
tools' rule, `protected.protected_name`; the executor checks again before it restores).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path, PurePosixPath

from slop_tui.display import is_unsafe_char, sanitize
from slop_tui.protected import protected_name
from slop_tui.store.layout import SLOP_DIR, StoreError

_MOVE_ASIDE = "move it aside (or delete it) and run slop again"
_GIT_TIMEOUT_S = 10.0


def _shown(path: Path | str) -> str:
    return sanitize(str(path), one_line=True)


def _refuse(root: Path, why: str) -> StoreError:
    return StoreError(
        f"{_shown(root)}: refused: {why}; .slop/ holds slop's private run state and a "
        f"repository must not provide it: {_MOVE_ASIDE}"
    )


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file or folder"


def _walk(root: Path, directory: Path) -> None:
    """Every entry under `directory` is a regular file or a real folder (never followed)."""
    try:
        with os.scandir(directory) as entries:
            found = list(entries)
    except OSError as exc:
        raise StoreError(f"{_shown(directory)}: cannot read: {exc.strerror or exc}") from None
    for entry in found:
        path = Path(entry.path)
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except FileNotFoundError:
            continue  # removed meanwhile (a temporary file renamed): nothing to judge
        except OSError as exc:
            raise StoreError(f"{_shown(path)}: cannot read: {exc.strerror or exc}") from None
        if stat.S_ISDIR(mode):
            _walk(root, path)
        elif not stat.S_ISREG(mode):
            raise _refuse(root, f"{_shown(path.relative_to(root.parent))} is {_kind(mode)}")


def _git_may_see_a_repository(repo_root: Path) -> bool:
    """False only when git could find no repository for `repo_root`: no `GIT_DIR` or
    `GIT_WORK_TREE` in the environment, and no `.git` (folder, or a worktree's file) in the
    folder or any folder above it, as git's own discovery walks up from the physical path.
    What git would find beyond that (a ceiling, another file system) only makes it see less."""
    if "GIT_DIR" in os.environ or "GIT_WORK_TREE" in os.environ:
        return True
    try:
        here = Path(repo_root).resolve()
    except (OSError, RuntimeError):  # unreadable, or a symlink loop: let git say
        return True
    return any(os.path.lexists(folder / ".git") for folder in (here, *here.parents))


def _tracked_by_git(repo_root: Path) -> list[str]:
    """What git tracks under `.slop` (empty outside a git work tree, or without git).

    Outside any repository git is not asked (a process saved, several per run). Hooks and
    fsmonitor are off: asking must not run anything the repository configured.
    """
    if not _git_may_see_a_repository(repo_root):
        return []
    command = [
        "git",
        "-c", "core.fsmonitor=false",
        "-c", f"core.hooksPath={os.devnull}",
        "ls-files", "-z", "--", SLOP_DIR,
    ]
    try:
        done = subprocess.run(
            command,
            cwd=repo_root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []  # no git (or none that answers): a plain folder, nothing tracks it
    if done.returncode != 0:
        return []  # not a git work tree
    return [name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]


def check_private_state(repo_root: Path) -> None:
    """Raise `StoreError` (one line, naming what is wrong) unless `repo_root/.slop` is slop's
    own: absent, or a real folder holding only regular files and folders, none tracked by git.

    Reads nothing but metadata and writes nothing, so a refusal leaves everything as it was.
    """
    root = Path(repo_root) / SLOP_DIR
    try:
        mode = os.lstat(root).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise StoreError(f"{_shown(root)}: cannot read: {exc.strerror or exc}") from None
    if mode is not None:
        if stat.S_ISLNK(mode):
            raise _refuse(root, f"{SLOP_DIR} is a symlink")
        if not stat.S_ISDIR(mode):
            raise _refuse(root, f"{SLOP_DIR} is {_kind(mode)}, not a folder")
        _walk(root, root)
    tracked = _tracked_by_git(Path(repo_root))
    if tracked:
        more = f" and {len(tracked) - 1} more" if len(tracked) > 1 else ""
        raise _refuse(root, f"git tracks {_shown(tracked[0])}{more}")


def restore_path_problem(rel_path: str) -> str | None:
    """Why restoring `rel_path` (from a pre-image index or a `FileChanged` event) could leave
    the repository or touch `.git` / `.slop`; None when it is a clean relative path."""
    path = PurePosixPath(rel_path.replace("\\", "/"))
    if not rel_path or str(path) == ".":
        return "is empty"
    if any(is_unsafe_char(ch) for ch in rel_path):
        return "holds a control or format character"
    if path.is_absolute() or (len(rel_path) > 1 and rel_path[1] == ":"):
        return "is absolute"
    if ".." in path.parts:
        return "leaves the repository"
    if any(protected_name(part) is not None for part in path.parts):
        return "is inside .git or .slop"
    return None


def shown_path(rel_path: str) -> str:
    """A path from an untrusted file, safe to print in one line."""
    return _shown(repr(rel_path))
