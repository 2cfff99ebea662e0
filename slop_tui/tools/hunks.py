"""Hunks of a proposed change: split a diff into them, apply only some of them.

`split_hunks` reads a unified diff as `tools/proposals.unified_diff` writes it; `apply_hunks`
rebuilds the text with only the chosen hunks applied, from the texts themselves and with the
same `difflib` grouping, so hunk `i` of one is hunk `i` of the other. The text is never
rebuilt from the diff's lines: a diff shown to a person is sanitised, the file is not.

`args_for_text` turns "the file should read like this" (the chosen hunks, or what a person
saved in `$EDITOR`) back into arguments of the same tool, so it passes the clutch's edit path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import EditFileArgs, ToolArgs, WriteFileArgs
from slop_tui.tools.proposals import text_lines

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class HunksRefused(SlopError):
    """A hunk choice that cannot be applied (an index out of range); nothing was applied."""


class Hunk(msgspec.Struct, frozen=True):
    """One hunk of a unified diff, as written in it."""

    index: int
    header: str  # the "@@ -a,b +c,d @@" line, without its newline
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: list[str]  # body lines as in the diff (" x", "-x", "+x", "\\ No newline…"), no newlines


def split_hunks(diff: str) -> list[Hunk]:
    """The hunks of `diff`, in order; the file headers (`---`, `+++`) are not part of any."""
    hunks: list[Hunk] = []
    header: re.Match[str] | None = None
    header_line = ""
    body: list[str] = []

    def close() -> None:
        if header is None:
            return
        a, b, c, d = header.groups()
        hunks.append(
            Hunk(
                index=len(hunks),
                header=header_line,
                old_start=int(a),
                old_count=1 if b is None else int(b),
                new_start=int(c),
                new_count=1 if d is None else int(d),
                lines=list(body),
            )
        )

    # Split on "\n" only: a file's line may hold a form feed or U+2028, which `splitlines`
    # would cut a diff line at.
    pieces = diff.split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
    for line in pieces:
        match = _HEADER.match(line)
        if match is not None:
            close()
            header, header_line, body = match, line, []
        elif header is not None:
            body.append(line)
    close()
    return hunks


def _groups(before: str, after: str, context: int) -> tuple[list[str], list[str], list[tuple[int, int, int, int]]]:
    """Lines of both texts and, per hunk, its (a_start, a_end, b_start, b_end) line ranges:
    the grouping `difflib.unified_diff` uses (and so `unified_diff`'s hunks)."""
    old = text_lines(before)
    new = text_lines(after)
    ranges = [
        (group[0][1], group[-1][2], group[0][3], group[-1][4])
        for group in difflib.SequenceMatcher(None, old, new).get_grouped_opcodes(context)
    ]
    return old, new, ranges


def hunk_count(before: str, after: str, *, context: int = 3) -> int:
    return len(_groups(before, after, context)[2])


def apply_hunks(before: str, after: str, chosen: Collection[int], *, context: int = 3) -> str:
    """`before` with only the `chosen` hunks of `unified_diff(before, after)` applied.

    A new file is `before=""`. Indexes are those of `split_hunks(unified_diff(rel, before,
    after, context=context))`; one out of range raises `HunksRefused`. Lines outside the
    chosen hunks are `before`'s, byte for byte (a last line without a newline stays so).
    """
    old, new, ranges = _groups(before, after, context)
    wanted = set(chosen)
    bad = sorted(i for i in wanted if not 0 <= i < len(ranges))
    if bad:
        shown = ", ".join(str(i + 1) for i in bad[:5])
        raise HunksRefused(
            f"no hunk {shown} in this diff (it has {len(ranges)} hunk{'s' if len(ranges) != 1 else ''})"
        )
    out: list[str] = []
    at = 0  # next line of `old` not yet copied
    for index, (a_start, a_end, b_start, b_end) in enumerate(ranges):
        out.extend(old[at:a_start])
        out.extend(new[b_start:b_end] if index in wanted else old[a_start:a_end])
        at = a_end
    out.extend(old[at:])
    return "".join(out)


def args_for_text(args: ToolArgs, before: str | None, text: str) -> ToolArgs:
    """Arguments of the same tool that leave the file holding `text`.

    `write_file` gets `text` as its content. `edit_file` gets the smallest run of whole lines
    where `before` and `text` differ, grown line by line until its `old` occurs exactly once
    in `before` (an `old` must), so the edit reads as the change it is.
    """
    if isinstance(args, WriteFileArgs):
        return msgspec.structs.replace(args, content=text)
    if isinstance(args, EditFileArgs):
        if before is None:
            raise SlopError(f"edit_file {args.path}: the file does not exist")
        return _edit_for(args, before, text)
    raise SlopError(f"{args.TOOL} has no file text to change")


def _edit_for(args: EditFileArgs, before: str, text: str) -> EditFileArgs:
    if text == before:
        raise SlopError(f"edit_file {args.path}: the text is the file as it is; nothing to edit")
    old = text_lines(before)
    new = text_lines(text)
    head = 0
    while head < len(old) and head < len(new) and old[head] == new[head]:
        head += 1
    tail = 0
    while (
        tail < len(old) - head
        and tail < len(new) - head
        and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]
    ):
        tail += 1
    start, end_old, end_new = head, len(old) - tail, len(new) - tail
    while True:
        piece = "".join(old[start:end_old])
        offset = sum(len(line) for line in old[:start])
        # Unique counting overlaps too: `replace` acts on the first occurrence, it must be ours.
        if piece and before.find(piece) == offset and before.find(piece, offset + 1) == -1:
            break
        if start == 0 and end_old == len(old):
            break  # the whole file: occurs once whenever it is not empty
        # Grow by a line on each side that has one: context makes `old` unique.
        if start > 0:
            start -= 1
        if end_old < len(old):
            end_old += 1
            end_new += 1
    old_text = "".join(old[start:end_old])
    new_text = "".join(new[start:end_new])
    if not old_text:
        # `before` is empty: an edit has nothing to anchor on.
        raise SlopError(f"edit_file {args.path}: the file is empty; use write_file")
    return msgspec.structs.replace(args, old=old_text, new=new_text)
