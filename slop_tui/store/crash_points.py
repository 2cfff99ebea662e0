"""Test-only crash points: a `kill -9` at an exact moment of a write (see `CRASH_ENV`)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence

from slop_tui.models import AnyEvent

# `SLOP_TEST_CRASH_AT=<point>:<n>` or `<point>:<kind>:<n>` makes this process SIGKILL itself
# (a `kill -9` at an exact moment) the n-th time it reaches <point>, counting only <kind>:
#   append       an event (kind: its tag, e.g. file_changed) about to be written;
#   append-half  half of that event's line written, the rest never;
#   append-done  the line written and fsynced, `append` not yet returned;
#   rename       an atomic write's temporary file complete, not yet renamed over its target
#                (kind: `slop` for files in .slop/, `repo` for the repository's files).
# In a batch (`write_batch`, the bus's group commit) each event reaches the append points in
# turn, and the kill leaves the log as a kill during the batch's one write can: the lines
# before the event (append), those and half of its line (append-half), or those and its whole
# line (append-done), fsynced; nothing after it.
# The reliability suite (tests/reliability/test_crashes.py) kills runs there and resumes them.
# Unset (always, outside that suite) each point costs one comparison.
CRASH_ENV = "SLOP_TEST_CRASH_AT"


def _crash_spec(text: str) -> tuple[str, str | None, int] | None:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[-1].isdigit():
        return None
    return parts[0], (parts[1] if len(parts) == 3 else None), int(parts[-1])


_CRASH = _crash_spec(os.environ.get(CRASH_ENV, ""))
_crash_reached = 0
_crash_lock = threading.Lock()  # writes run in worker threads: the n-th is counted exactly


def _crash_here(point: str, kind: str) -> bool:
    """True the n-th time `point` is reached for the configured kind (test runs only)."""
    global _crash_reached
    if _CRASH is None or _CRASH[0] != point or _CRASH[1] not in (None, kind):
        return False
    with _crash_lock:
        _crash_reached += 1
        return _crash_reached == _CRASH[2]


def die_at(point: str, kind: str) -> None:
    """SIGKILL this process if the configured crash point is reached here (test runs only)."""
    if _CRASH is not None and _crash_here(point, kind):
        _die()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _crash_in_batch(fd: int, events: Sequence[AnyEvent], lines: list[bytes]) -> None:
    """Die at the configured append point if an event of this batch reaches it (see above)."""
    assert _CRASH is not None
    point = _CRASH[0]
    if point not in ("append", "append-half", "append-done"):
        return
    for index, (event, line) in enumerate(zip(events, lines)):
        if not _crash_here(point, str(type(event).__struct_config__.tag)):
            continue
        before = b"".join(lines[:index])
        if point == "append-half":
            before += line[: len(line) // 2]
        elif point == "append-done":
            before += line
        _write_all(fd, before)
        os.fsync(fd)
        _die()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

