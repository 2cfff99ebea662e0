"""The folders no file tool and no restore ever writes: `.git` and `.slop`, in every spelling.

git keeps its state and the hooks and settings that run code (`core.fsmonitor`, hooks) in
`.git`, at any depth: an embedded repository's `vendor/lib/.git/config` sets an fsmonitor that the
parent's next `git status` runs. slop keeps its private state in `.slop`. One rule, used by the
file tools (`tools/sandbox.py`) and by the store when it restores a pre-image
(`store/guard.py`), so the two can never disagree.
"""

from __future__ import annotations

import re

PROTECTED_DIRS: tuple[str, ...] = (".slop", ".git")

# Code points HFS+ ignores in names, so `.g\u200cit` is `.git` on a Mac (git's next_hfs_char).
_HFS_IGNORED = frozenset(
    [*range(0x200C, 0x2010), *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)
# NTFS 8.3 short names: `.git` is reachable as `GIT~1` (git checks ~1; a later ~N is refused too,
# it costs nothing and no project names a file that way).
_SHORT_NAME = re.compile(r"(git|slop)~[1-9][0-9]*")


def protected_name(name: str) -> str | None:
    """`.git` or `.slop` when the name `name` is that folder on some file system, else None.

    Compared as git's `core.protectNTFS` and `core.protectHFS` do (`is_ntfs_dotgit`,
    `is_hfs_dotgit`), all at once whatever this machine's file system is, since a repository
    moves between machines: HFS-ignorable code points dropped, anything from a `:` on (an NTFS
    alternate stream, `.git::$INDEX_ALLOCATION`) dropped, trailing dots and spaces dropped,
    case-folded; the NTFS short names `GIT~1` / `SLOP~1` count too.
    """
    kept = "".join(ch for ch in name if ord(ch) not in _HFS_IGNORED)
    folded = kept.split(":", 1)[0].rstrip(". ").casefold()
    for protected in PROTECTED_DIRS:
        if folded == protected:
            return protected
    short = _SHORT_NAME.fullmatch(folded)
    if short is not None:
        return "." + short.group(1)
    return None
