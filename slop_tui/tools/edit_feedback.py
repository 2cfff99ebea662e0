"""What the worker reads back from a write or an edit: a diff stat, not the text it sent, and
the file's text near a failed edit, so the next attempt can copy `old` exactly."""

from __future__ import annotations

import difflib

from slop_tui.tools.proposals import diff_stats, unified_diff


def change_stat(verb: str, rel: str, before: str | None, after: str) -> str:
    """A write's or an edit's confirmation: `wrote app/x.py: +12 -3` (the diff stat, not the text:
    the model has its own call, and `read_file` for the rest)."""
    added, removed = diff_stats(unified_diff(rel, before, after))
    new = " (new file)" if before is None else ""
    return f"{verb} {rel}{new}: +{added} -{removed}"


NEAR_LINES = 6  # lines shown either side of where a failed edit's `old` probably belongs


def near_text(rel: str, text: str, old: str) -> str:
    """Where `old` occurs several times (their line numbers), or the file's lines around the
    one that best matches `old`'s first line; "" when nothing comes close."""
    lines = text.split("\n")
    count = text.count(old)
    if count > 1:
        starts: list[int] = []
        index = text.find(old)
        while index >= 0 and len(starts) < 20:
            starts.append(text.count("\n", 0, index) + 1)
            index = text.find(old, index + 1)
        where = ", ".join(map(str, starts))
        return f"\n`old` occurs at lines {where} of {rel}; include more lines to pick one."
    first = next((line.strip() for line in old.split("\n") if line.strip()), "")
    if not first:
        return ""
    stripped = [line.strip() for line in lines]
    best = next((i for i, line in enumerate(stripped) if first in line), None)
    if best is None:
        close = difflib.get_close_matches(first, stripped, n=1, cutoff=0.6)
        if not close:
            return ""
        best = stripped.index(close[0])
    start, end = max(0, best - NEAR_LINES), min(len(lines), best + NEAR_LINES + 1)
    shown = "\n".join(lines[start:end])
    return f"\n{rel} lines {start + 1}-{end} as they are now:\n{shown}\n"
