"""Unified diffs of exactly what a write or an edit would change (`difflib`, git-style headers)."""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"


def text_lines(text: str) -> list[str]:
    """`text` cut after each "\n" only, as git and patch cut it: a form feed, a lone CR or
    U+2028 inside a line is part of the line (`str.splitlines` would cut there)."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def unified_diff(rel_path: str, before: str | None, after: str, *, context: int = 3) -> str:
    """The change from `before` (None: the file does not exist) to `after`, as a unified diff.

    Headers are `a/<path>` and `b/<path>`, with `/dev/null` for a new file. A last line without
    a newline is marked as git marks it, so a diff never glues two lines together. Identical
    texts give an empty string; a new empty file gives its headers alone.
    """
    from_name = "/dev/null" if before is None else f"a/{rel_path}"
    to_name = f"b/{rel_path}"
    old_lines = [] if before is None else text_lines(before)
    new_lines = text_lines(after)
    if before is not None and before == after:
        return ""
    lines = list(
        difflib.unified_diff(old_lines, new_lines, fromfile=from_name, tofile=to_name, n=context)
    )
    if not lines:
        # Only a new empty file reaches here: difflib has no hunk to show, the headers say it.
        return f"--- {from_name}\n+++ {to_name}\n"
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n")
            out.append(NO_NEWLINE)
    return "".join(out)


def diff_stats(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) in a unified diff, headers excluded."""
    added = removed = 0
    in_hunk = False  # the "---"/"+++" headers come before the first "@@"; content may look alike
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif not in_hunk:
            continue
        elif line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed
