"""Unified diffs: exact enough that `patch` turns the old text into the new one."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slop_tui.tools.proposals import diff_stats, unified_diff

needs_patch = pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")


def _apply(before: str | None, diff: str, after_expected: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = root / "pkg" / "mod.py"
        target.parent.mkdir()
        if before is not None:
            target.write_bytes(before.encode())
        proc = subprocess.run(
            ["patch", "-p1", "--no-backup-if-mismatch", "-s"],
            input=diff.encode(),
            cwd=root,
            capture_output=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert target.read_bytes().decode() == after_expected


def test_headers_and_hunk() -> None:
    diff = unified_diff("pkg/mod.py", "a\nb\nc\n", "a\nB\nc\n")
    assert diff.splitlines()[:3] == ["--- a/pkg/mod.py", "+++ b/pkg/mod.py", "@@ -1,3 +1,3 @@"]
    assert "-b\n+B\n" in diff
    assert diff_stats(diff) == (1, 1)


def test_new_file_diffs_from_dev_null() -> None:
    diff = unified_diff("pkg/new.py", None, "x = 1\n")
    assert diff.startswith("--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+x = 1\n")
    assert unified_diff("pkg/empty.py", None, "") == "--- /dev/null\n+++ b/pkg/empty.py\n"


def test_identical_text_is_no_diff() -> None:
    assert unified_diff("a.py", "same\n", "same\n") == ""


def test_missing_final_newline_is_marked_and_never_glues_lines() -> None:
    diff = unified_diff("a.py", "one\ntwo", "one\ntwo\nthree")
    assert "-two\n\\ No newline at end of file\n+two\n+three\n\\ No newline at end of file\n" in diff
    assert all(line.startswith(("---", "+++", "@@", " ", "+", "-", "\\")) for line in diff.splitlines())


def test_stats_ignore_content_that_looks_like_headers() -> None:
    diff = unified_diff("a.py", "-- old\n", "++ new\n")
    assert diff_stats(diff) == (1, 1)


@needs_patch
@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("a\nb\nc\n", "a\nB\nc\n"),
        ("one\ntwo", "one\ntwo\nthree"),
        ("one\ntwo\n", "one\ntwo"),
        (None, "fresh\nfile\n"),
        ("x\r\ny\r\n", "x\r\nY\r\n"),
        ("".join(f"line {i}\n" for i in range(100)), "".join(f"line {i}\n" for i in range(100) if i % 17)),
    ],
)
def test_patch_applies_the_diff_exactly(before: str | None, after: str) -> None:
    _apply(before, unified_diff("pkg/mod.py", before, after), after)


_line = st.text(alphabet="ab -+\\@", min_size=0, max_size=6)


@needs_patch
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(_line, max_size=12),
    after=st.lists(_line, max_size=12),
    before_nl=st.booleans(),
    after_nl=st.booleans(),
)
def test_any_change_round_trips_through_patch(
    before: list[str], after: list[str], before_nl: bool, after_nl: bool
) -> None:
    old = "\n".join(before) + ("\n" if before_nl and before else "")
    new = "\n".join(after) + ("\n" if after_nl and after else "")
    diff = unified_diff("pkg/mod.py", old, new)
    if old == new:
        assert diff == ""
        return
    _apply(old, diff, new)
