"""The append-only event log: seq, write-ahead fsync, torn last lines, corrupt lines."""

from __future__ import annotations

import re

import os
from pathlib import Path

import pytest

from slop_tui.models import ErrorRaised, ModelText, RunStarted, TicketState, Tier
from slop_tui.store import Store, StoreError
from tests.store.helpers import change


def test_append_numbers_events_and_returns_them(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.events() == [] and store.last_seq == 0
    assert not store.root.exists()  # nothing is created before the first write
    first = RunStarted(run_id="r", prompt="p")
    returned = store.append(first)
    assert returned is first and first.seq == 1
    store.append(change("stub", TicketState.TODO, TicketState.IN_PROGRESS))
    events = store.events()
    assert [e.seq for e in events] == [1, 2] and events[0] == first
    assert events[1].new is TicketState.IN_PROGRESS  # type: ignore[union-attr]
    assert store.events_path.read_bytes().count(b"\n") == 2
    assert store.events_path.stat().st_mode & 0o777 == 0o600


def test_each_append_is_fsynced_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    store.append(ErrorRaised(message="warm up: the log is open"))
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", spy)
    for i in range(3):
        store.append(ErrorRaised(message=f"e{i}"))
        # The last fsync before returning covered the whole file, this line included.
        assert synced and synced[-1] == store.events_path.stat().st_size
        synced.clear()


def test_a_new_store_continues_the_numbering(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for i in range(5):
            store.append(ErrorRaised(message=str(i)))
    again = Store(tmp_path)
    assert again.last_seq == 5
    assert again.append(ErrorRaised(message="next")).seq == 6


def test_a_truncated_last_line_is_tolerated_and_cut_before_the_next_append(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as store:
        store.append(RunStarted(run_id="r", prompt="p"))
        store.append(ModelText(ticket_id=None, tier=Tier.PLANNER, text="x" * 100))
    whole = store.events_path.read_bytes()
    torn = whole[: whole.index(b"\n") + 1] + whole[whole.index(b"\n") + 1 : -20]
    store.events_path.write_bytes(torn)

    reader = Store(tmp_path)
    assert [e.seq for e in reader.events()] == [1]  # the torn line was never acknowledged
    assert reader.append(ErrorRaised(message="after the crash")).seq == 2
    events = reader.events()
    assert [type(e).__name__ for e in events] == ["RunStarted", "ErrorRaised"]
    assert any("unfinished last line" in w for w in reader.warnings)
    kept = list(reader.root.glob("events.jsonl.torn-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == torn[torn.index(b"\n") + 1 :]


def test_a_corrupt_line_in_the_middle_is_dropped_kept_aside_and_named(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for i in range(3):
            store.append(ErrorRaised(message=str(i)))
    lines = store.events_path.read_bytes().split(b"\n")
    for bad, why in [
        (b'{"kind": "error", "seq": 2, "mess', "truncated"),
        (b'{"kind": "telepathy", "seq": 2}', "Invalid value 'telepathy'"),
    ]:
        lines[1] = bad
        damaged = b"\n".join(lines)
        store.events_path.write_bytes(damaged)
        reader = Store(tmp_path)
        assert [e.seq for e in reader.events()] == [1, 3]
        assert re.search(rf"events\.jsonl: dropped 1 corrupt line: 2 \(.*{why}", reader.warnings[0])
        kept = sorted(reader.root.glob("events.jsonl.corrupt-*"))[-1]
        assert kept.read_bytes() == damaged and kept.name in reader.warnings[0]


def test_a_corrupt_last_complete_line_is_dropped_before_appending(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.append(ErrorRaised(message="0"))
    store.events_path.write_bytes(store.events_path.read_bytes() + b"not json\n")
    writer = Store(tmp_path)
    assert writer.append(ErrorRaised(message="1")).seq == 2
    assert [e.seq for e in writer.events()] == [1, 2]
    assert "dropped 1 corrupt line: 2" in writer.warnings[0]


def test_a_failed_encode_uses_no_seq(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.append(ErrorRaised(message="ok"))
    bad = ErrorRaised(message=object())  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="cannot encode ErrorRaised"):
        store.append(bad)
    assert bad.seq == 0
    assert store.append(ErrorRaised(message="next")).seq == 2
    assert [e.seq for e in store.events()] == [1, 2]
