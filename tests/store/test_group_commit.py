"""Group commit in the event log: `append_batch`, and `write_batch` / `sync_batch` (the bus's
pipelined halves): one fsync per batch, seqs in order, all or nothing, crash points."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from slop_tui.models import ErrorRaised
from slop_tui.store import CRASH_ENV, Store, StoreError

ROOT = Path(__file__).resolve().parents[2]


def errors(*names: str) -> list[ErrorRaised]:
    return [ErrorRaised(message=name) for name in names]


def logged(store: Store) -> list[tuple[int, str]]:
    return [(e.seq, e.message) for e in Store(store.repo_root).events()]  # type: ignore[union-attr]


def test_a_batch_is_one_fsync_with_consecutive_seqs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(ErrorRaised(message="first"))
    before = store.log_fsyncs
    batch = errors(*(f"e{i}" for i in range(50)))
    returned = store.append_batch(batch)
    assert store.log_fsyncs == before + 1
    assert [e.seq for e in returned] == list(range(2, 52))
    assert all(a is b for a, b in zip(returned, batch))  # numbered in place
    assert store.append(ErrorRaised(message="after")).seq == 52
    assert logged(store) == [(1, "first")] + [(i + 2, f"e{i}") for i in range(50)] + [(52, "after")]
    assert store.append_batch([]) == []


def test_an_event_that_cannot_be_encoded_fails_the_batch_and_uses_no_seq(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(ErrorRaised(message="kept"))
    size = store.events_path.stat().st_size
    bad = ErrorRaised(message="x")
    bad.message = object()  # type: ignore[assignment]  # a bug in a publisher
    batch = [ErrorRaised(message="ok"), bad]
    with pytest.raises(StoreError, match="cannot encode ErrorRaised"):
        store.append_batch(batch)
    assert [e.seq for e in batch] == [0, 0]
    assert store.events_path.stat().st_size == size
    assert store.append(ErrorRaised(message="next")).seq == 2


def test_a_later_batch_is_settled_only_after_the_earlier_one(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.write_batch(errors("a1", "a2"))
    second = store.write_batch(errors("b1"))
    results: list[list[int]] = []
    later = threading.Thread(target=lambda: results.append([e.seq for e in store.sync_batch(second)]))
    later.start()
    later.join(0.3)
    assert later.is_alive() and not results  # synced, but waits for the batch before it
    assert [e.seq for e in store.sync_batch(first)] == [1, 2]
    later.join(5)
    assert results == [[3]]
    assert logged(store) == [(1, "a1"), (2, "a2"), (3, "b1")]


def test_a_failed_fsync_fails_its_batch_and_every_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The disk refusing a flush (EIO) cannot be caused for real in a test: the one stand-in.
    store = Store(tmp_path)
    store.append(ErrorRaised(message="durable"))
    size = store.events_path.stat().st_size
    first = store.write_batch(errors("a"))
    second = store.write_batch(errors("b1", "b2"))
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        if fd == first.fd:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    outcome: list[BaseException] = []

    def sync_second() -> None:
        try:
            store.sync_batch(second)
        except StoreError as exc:
            outcome.append(exc)

    later = threading.Thread(target=sync_second)
    later.start()
    with pytest.raises(StoreError, match="Input/output error"):
        store.sync_batch(first)
    later.join(5)
    assert len(outcome) == 1 and "earlier batch" in str(outcome[0])
    assert [e.seq for e in first.events + second.events] == [0, 0, 0]  # no seq was used
    assert store.events_path.stat().st_size == size  # cut back to the durable end
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert store.append(ErrorRaised(message="next")).seq == 2
    assert logged(store) == [(1, "durable"), (2, "next")]


CHILD = r"""
import sys
from pathlib import Path
from slop_tui.models import ErrorRaised
from slop_tui.store import Store
store = Store(Path(sys.argv[1]))
store.append(ErrorRaised(message="before"))
store.append_batch([ErrorRaised(message="x" * 40 + str(i)) for i in range(4)])
print("not killed", flush=True)
"""


@pytest.mark.parametrize(
    ("point", "whole", "torn"),
    [("append:error:3", 2, False), ("append-half:error:3", 2, True), ("append-done:error:3", 3, False)],
)
def test_crash_points_inside_a_batch_leave_the_log_a_kill_mid_write_could(
    tmp_path: Path, point: str, whole: int, torn: bool
) -> None:
    # The third event is the batch's second: killed "before" it, the batch's first is
    # written (and synced) with nothing after it; "half", half its line follows; "done", it
    # is whole and nothing after it.
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), CRASH_ENV: point},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert child.returncode == -9 and "not killed" not in child.stdout
    raw = (tmp_path / ".slop" / "events.jsonl").read_bytes()
    assert raw.count(b"\n") == whole
    assert raw.endswith(b"\n") is not torn
    store = Store(tmp_path)
    assert [e.seq for e in store.events()] == list(range(1, whole + 1))
    assert store.append(ErrorRaised(message="resumed")).seq == whole + 1  # a torn tail is cut
