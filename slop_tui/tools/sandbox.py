"""Path confinement: every path a tool touches must resolve inside the repository root.

The worker names files with text a model wrote, so each path is treated as hostile: it is
checked lexically first (what it says), then resolved through the file system (where it really
points, symlinks and all). A refusal is a `PathRefused` whose one-line message names the path
and the reason; the executor turns it into a tool result, never a crash.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from slop_tui.display import escape_char, is_unsafe_char, sanitize
from slop_tui.errors import SlopError
from slop_tui.protected import PROTECTED_DIRS, protected_name

# POSIX limits on Linux: NAME_MAX and PATH_MAX, in bytes of the encoded name.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096

# Kept under this name for the file tools' callers; the rule itself lives in `protected.py`.
PROTECTED_FOR_WRITES: tuple[str, ...] = PROTECTED_DIRS


class PathRefused(SlopError):
    """A tool path points outside the repository (or cannot be used there); nothing was touched."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"path {_show(path)} refused: {reason}")
        self.path = path
        self.reason = reason


def _show(path: str) -> str:
    """The path as a short, printable quote (no control characters, no 10 KB message)."""
    text = "'" + sanitize(path, one_line=True) + "'"
    return text if len(text) <= 120 else text[:100] + "…" + text[-15:]


def check_writable(rel: str) -> None:
    """Refuse a write to `rel` when any folder or file name in it is `.git` or `.slop` (see
    `protected_name`); `rel` has passed `check_lexical`."""
    for part in PurePosixPath(rel).parts:
        protected = protected_name(part)
        if protected is None:
            continue
        if part == protected:
            reason = f"{protected}/ is never written by the file tools"
        else:
            reason = (
                f"{_show(part)} is {protected}/ on a case-insensitive or Windows file system; "
                f"{protected}/ is never written by the file tools"
            )
        raise PathRefused(rel, reason)


def check_lexical(rel: str) -> PurePosixPath:
    """Refuse what the text of a path already gives away; return it as a relative POSIX path.

    This needs no repository, so an edited payload can be checked before anything is resolved.
    """
    if not isinstance(rel, str):
        raise PathRefused(repr(rel), "a path must be a string")
    if rel.strip() == "":
        raise PathRefused(rel, "the path is empty (use '.' for the repository root)")
    if "\x00" in rel:
        raise PathRefused(rel, "it contains a NUL byte")
    if "\\" in rel:
        raise PathRefused(rel, "backslashes are not path separators here; use '/'")
    if rel.startswith("~"):
        raise PathRefused(rel, "'~' (a home directory) is outside the repository")
    if rel.startswith("/"):
        raise PathRefused(rel, "absolute paths are not allowed; give a path relative to the repository root")
    if len(rel) >= 2 and rel[1] == ":" and rel[0].isalpha():
        raise PathRefused(rel, "a drive letter is an absolute path; give a path relative to the repository root")
    try:
        encoded = rel.encode("utf-8")
    except UnicodeEncodeError:
        raise PathRefused(rel, "it is not valid UTF-8 text") from None
    # Controls, bidi overrides, zero-width and line separators: `evil\u202etxt.sh` shows as
    # `evilhs.txt`, so a person approving the write would read another name than the one used.
    unsafe = next((ch for ch in rel if is_unsafe_char(ch)), None)
    if unsafe is not None:
        raise PathRefused(
            rel, f"it contains {escape_char(unsafe)}, a control or invisible formatting character"
        )
    if len(encoded) > MAX_PATH_BYTES:
        raise PathRefused(rel, f"longer than {MAX_PATH_BYTES} bytes")
    pure = PurePosixPath(rel)
    for part in pure.parts:
        if part == "..":
            # Refused outright rather than normalised: 'link/..' means something else to the
            # kernel than to a string function, and a model has no need for it.
            raise PathRefused(rel, "'..' is not allowed; give a path relative to the repository root")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise PathRefused(rel, f"a name in it is longer than {MAX_NAME_BYTES} bytes")
    return pure


def resolve_root(repo_root: Path) -> Path:
    """The repository root with every symlink resolved; it must be an existing directory."""
    root = Path(os.path.realpath(repo_root))
    if not root.is_dir():
        raise SlopError(f"repository root {str(repo_root)!r} is not a directory")
    return root


def resolve_in_repo(repo_root: Path, rel: str) -> Path:
    """Resolve `rel` against the root, following symlinks; refuse anything that lands outside.

    Returns the real path (inside the real root). A path that does not exist yet is fine as
    long as its nearest existing ancestor resolves inside; a symlink loop is refused.
    """
    pure = check_lexical(rel)
    root = resolve_root(repo_root)
    joined = root.joinpath(*pure.parts) if pure.parts else root
    try:
        real = Path(os.path.realpath(joined, strict=False))
    except OSError as exc:  # e.g. ELOOP on some platforms
        raise PathRefused(rel, f"it cannot be resolved ({exc.strerror or exc})") from None
    if real != root and root not in real.parents:
        raise PathRefused(rel, "it resolves outside the repository (through a symlink)")
    if os.path.islink(real):
        # realpath stops at a link it cannot follow (a loop); such a path is never usable.
        raise PathRefused(rel, "it is a symlink loop")
    return real


def repo_relative(repo_root: Path, path: Path | str) -> str:
    """`path` (absolute, inside the root) as a POSIX path relative to the real root; '.' for it."""
    root = resolve_root(repo_root)
    real = Path(os.path.realpath(path))
    if real == root:
        return "."
    if root not in real.parents:
        raise PathRefused(str(path), "it is outside the repository")
    return real.relative_to(root).as_posix()


def is_protected(rel_path: str) -> bool:
    """True when a repo-relative path is or lies in a `.git` or `.slop` at any depth, in any of
    the spellings `protected_name` knows; the file tools never write there."""
    return any(protected_name(part) is not None for part in PurePosixPath(rel_path).parts)
