"""Hunks: split a diff into them, apply any subset, turn the result back into arguments."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slop_tui.errors import SlopError
from slop_tui.models import EditFileArgs, RunCommandArgs, WriteFileArgs
from slop_tui.tools.hunks import (
    Hunk,
    HunksRefused,
    apply_hunks,
    args_for_text,
    hunk_count,
    split_hunks,
)
from slop_tui.tools.proposals import NO_NEWLINE, unified_diff


def _diff(before: str, after: str) -> str:
    return unified_diff("pkg/mod.py", before, after)


def _shape(hunk: Hunk) -> tuple[int, int, list[str]]:
    """What must be equal between a hunk of the full diff and of a partial one (the new side's
    line numbers move when an earlier hunk is left out)."""
    return hunk.old_start, hunk.old_count, hunk.lines


def _texts(draw: st.DrawFn, *, unique: bool) -> tuple[str, str]:
    """A text and an edit of it. Unique lines make the alignment unambiguous, so the exact
    hunk property is well defined; a tiny alphabet stresses repeated lines."""
    counter = iter(range(1_000_000))

    def fresh() -> str:
        return f"line {next(counter)}\n" if unique else draw(st.sampled_from(["a\n", "b\n", "\n", "c d\n"]))

    before = [fresh() for _ in range(draw(st.integers(0, 40)))]
    after: list[str] = []
    for line in before:
        action = draw(st.sampled_from(["keep"] * 6 + ["drop", "change", "insert"]))
        if action == "keep":
            after.append(line)
        elif action == "change":
            after.append(fresh())
        elif action == "insert":
            after.append(line)
            after.extend(fresh() for _ in range(draw(st.integers(1, 3))))
    if draw(st.booleans()):
        after.extend(fresh() for _ in range(draw(st.integers(1, 2))))
    old, new = "".join(before), "".join(after)
    # A last line without its newline, on either side.
    if old and draw(st.booleans()):
        old = old[:-1]
    if new and draw(st.booleans()):
        new = new[:-1]
    return old, new


@st.composite
def unique_texts(draw: st.DrawFn) -> tuple[str, str]:
    return _texts(draw, unique=True)


@st.composite
def repetitive_texts(draw: st.DrawFn) -> tuple[str, str]:
    return _texts(draw, unique=False)


@settings(max_examples=150, deadline=None)
@given(repetitive_texts())
def test_all_hunks_give_after_and_none_give_before(texts: tuple[str, str]) -> None:
    before, after = texts
    hunks = split_hunks(_diff(before, after))
    assert len(hunks) == hunk_count(before, after)
    assert apply_hunks(before, after, range(len(hunks))) == after
    assert apply_hunks(before, after, []) == before


@settings(max_examples=150, deadline=None)
@given(unique_texts(), st.data())
def test_any_subset_gives_exactly_those_hunks(texts: tuple[str, str], data: st.DataObject) -> None:
    before, after = texts
    hunks = split_hunks(_diff(before, after))
    chosen = data.draw(st.sets(st.integers(0, max(0, len(hunks) - 1))) if hunks else st.just(set()))
    partial = apply_hunks(before, after, chosen)
    again = split_hunks(_diff(before, partial))
    assert [_shape(h) for h in again] == [_shape(hunks[i]) for i in sorted(chosen)]
    # And what was left out is exactly the rest: from the partial text to `after`.
    rest = split_hunks(unified_diff("pkg/mod.py", partial, after))
    assert [h.lines for h in rest] == [hunks[i].lines for i in range(len(hunks)) if i not in chosen]


def _far_apart() -> tuple[str, str]:
    before = "".join(f"line {i}\n" for i in range(30))
    after = before.replace("line 2\n", "LINE 2\n").replace("line 15\n", "line 15\nnew 15\n")
    after = after.replace("line 27\n", "")
    return before, after


def test_every_subset_of_three_hunks() -> None:
    before, after = _far_apart()
    hunks = split_hunks(_diff(before, after))
    assert [h.header for h in hunks] == ["@@ -1,6 +1,6 @@", "@@ -14,6 +14,7 @@", "@@ -25,6 +26,5 @@"]
    assert hunks[0].lines[:3] == [" line 0", " line 1", "-line 2"]
    for size in range(4):
        for chosen in combinations(range(3), size):
            partial = apply_hunks(before, after, chosen)
            assert [h.lines for h in split_hunks(_diff(before, partial))] == [hunks[i].lines for i in chosen]
    only_middle = apply_hunks(before, after, [1])
    assert "new 15\n" in only_middle and "line 2\n" in only_middle and "line 27\n" in only_middle


def test_no_final_newline_marker_stays_in_its_hunk() -> None:
    before = "".join(f"l{i}\n" for i in range(20)) + "last"
    after = "L0\n" + before[3:] + "\nadded"
    diff = _diff(before, after)
    hunks = split_hunks(diff)
    assert len(hunks) == 2
    assert NO_NEWLINE.rstrip("\n") in hunks[1].lines
    assert NO_NEWLINE.rstrip("\n") not in hunks[0].lines
    assert apply_hunks(before, after, [0]).endswith("\nlast")  # still no final newline
    assert apply_hunks(before, after, [1]).startswith("l0\n")
    assert apply_hunks(before, after, [1]).endswith("last\nadded")


def test_new_file_is_one_hunk_from_nothing() -> None:
    diff = unified_diff("pkg/new.py", None, "a\nb\n")
    [hunk] = split_hunks(diff)
    assert (hunk.old_start, hunk.old_count, hunk.new_start, hunk.new_count) == (0, 0, 1, 2)
    assert hunk.lines == ["+a", "+b"]
    assert apply_hunks("", "a\nb\n", [0]) == "a\nb\n"
    assert apply_hunks("", "a\nb\n", []) == ""


def test_headers_and_content_that_looks_like_a_header() -> None:
    before = "x\n"
    after = "@@ -1,1 +1,1 @@ not a header\n"
    hunks = split_hunks(_diff(before, after))
    assert len(hunks) == 1 and hunks[0].lines == ["-x", "+@@ -1,1 +1,1 @@ not a header"]
    assert split_hunks("") == []
    assert split_hunks("--- a/x\n+++ b/x\n") == []


def test_an_index_out_of_range_is_refused() -> None:
    before, after = _far_apart()
    with pytest.raises(HunksRefused, match="no hunk 4 in this diff"):
        apply_hunks(before, after, [0, 3])
    with pytest.raises(HunksRefused):
        apply_hunks(before, after, [-1])


# -- back to arguments -------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(repetitive_texts(), st.data())
def test_edit_args_make_the_file_equal_the_text(texts: tuple[str, str], data: st.DataObject) -> None:
    before, after = texts
    if not before or before == after:
        return
    count = hunk_count(before, after)
    chosen = data.draw(st.sets(st.integers(0, count - 1), min_size=1)) if count else set()
    text = apply_hunks(before, after, chosen)
    if text == before:
        return
    args = args_for_text(EditFileArgs(path="pkg/mod.py", old="x", new="y"), before, text)
    assert isinstance(args, EditFileArgs)
    assert args.old and before.count(args.old) == 1
    assert before.find(args.old) == before.rfind(args.old)  # no overlapping second occurrence
    assert before.replace(args.old, args.new, 1) == text


def test_edit_args_grow_until_old_is_unique() -> None:
    before = "a\nb\na\nb\na\n"
    text = "a\nb\na\nB\na\n"
    args = args_for_text(EditFileArgs(path="m.py", old="?", new="?"), before, text)
    assert isinstance(args, EditFileArgs)
    assert before.count(args.old) == 1
    assert before.replace(args.old, args.new, 1) == text
    # A pure insertion anchors on a neighbouring line.
    args = args_for_text(EditFileArgs(path="m.py", old="?", new="?"), "x\ny\n", "x\nnew\ny\n")
    assert isinstance(args, EditFileArgs) and args.old and "new" in args.new


def test_write_args_take_the_text_and_others_refuse() -> None:
    args = args_for_text(WriteFileArgs(path="m.py", content="old"), None, "whole\n")
    assert args == WriteFileArgs(path="m.py", content="whole\n")
    with pytest.raises(SlopError):
        args_for_text(RunCommandArgs(command="ls"), "", "x")
    with pytest.raises(SlopError, match="empty"):
        args_for_text(EditFileArgs(path="m.py", old="?", new="?"), "", "x\n")


def test_a_line_with_a_form_feed_or_line_separator_stays_one_line() -> None:
    before = "a\nb\fc\nd\n"
    after = "a\nb\fc\u2028\n@@ -1 +1 @@\nd\n"
    hunks = split_hunks(_diff(before, after))
    assert len(hunks) == 1 == hunk_count(before, after)
    assert "-b\fc" in hunks[0].lines and "+@@ -1 +1 @@" in hunks[0].lines
    assert apply_hunks(before, after, [0]) == after
    # And the diff says no "No newline" where there is one.
    assert "No newline" not in _diff(before, after)
