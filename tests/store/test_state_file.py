"""state.json: atomic checkpoints, format version, corrupt files moved aside and rebuilt."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from slop_tui.models import RunFinished, TicketState, Tier, Usage, UsageUpdated
from slop_tui.store import STATE_VERSION, SessionState, Store, StoreError
from tests.store.helpers import change, started_run

S = TicketState


def test_no_run_means_none_and_nothing_created(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.load_state() is None
    assert not store.root.exists()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    store, state = started_run(tmp_path)
    state.tracks[0].tickets[0].start()
    state.usage = Usage(input_tokens=10, output_tokens=2, cost_usd=0.5)
    store.save_state(state)
    loaded = Store(tmp_path).load_state()
    assert loaded == state
    assert loaded is not None and loaded.version == STATE_VERSION
    assert loaded.tracks[0].tickets[0].state is S.IN_PROGRESS
    assert store.state_path.stat().st_mode & 0o777 == 0o600
    assert json.loads(store.state_path.read_bytes())["version"] == STATE_VERSION


def test_an_unknown_version_is_an_error_and_the_file_is_untouched(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    data = json.loads(store.state_path.read_bytes())
    data["version"] = 2
    data["something_new"] = {"x": 1}
    raw = json.dumps(data).encode()
    store.state_path.write_bytes(raw)
    newer = r"state\.json: format version 2 is not supported.*reads version 1"
    with pytest.raises(StoreError, match=newer):
        Store(tmp_path).load_state()
    assert store.state_path.read_bytes() == raw
    assert not list(store.root.glob("state.json.corrupt-*"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"",  # empty
        lambda raw: b"\x00" * 64,  # garbage
        lambda raw: raw.replace(b'"version":1', b'"edition":1'),  # no version
        lambda raw: raw.replace(b'"state":"todo"', b'"state":"sleeping"', 1),  # bad value
    ],
    ids=["truncated", "empty", "garbage", "no-version", "bad-value"],
)
def test_a_corrupt_state_is_kept_aside_and_rebuilt_from_the_log(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    store, state = started_run(tmp_path)
    store.append(change("stub", S.TODO, S.IN_PROGRESS))
    state.tracks[0].tickets[0].start()
    state.last_seq = store.last_seq
    store.save_state(state)
    broken = damage(store.state_path.read_bytes())
    store.state_path.write_bytes(broken)

    fresh = Store(tmp_path)
    loaded = fresh.load_state()
    assert loaded is not None
    assert loaded.tracks[0].tickets[0].state is S.IN_PROGRESS and loaded.last_seq == 3
    aside = list(fresh.root.glob("state.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == broken  # kept, byte for byte
    assert len(fresh.warnings) == 1
    assert "was corrupt" in fresh.warnings[0] and aside[0].name in fresh.warnings[0]
    assert "rebuilt from 3 events" in fresh.warnings[0]
    # The rebuilt state was written back: the next load is clean.
    again = Store(tmp_path)
    assert again.load_state() == loaded and again.warnings == []


def test_a_corrupt_state_without_a_log_is_kept_and_reported(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.root.mkdir()
    store.state_path.write_bytes(b"{not json")
    assert store.load_state() is None
    assert "no run to rebuild it from" in store.warnings[0]
    assert list(store.root.glob("state.json.corrupt-*"))[0].read_bytes() == b"{not json"


def test_a_corrupt_state_and_a_corrupt_log_name_both(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    store.close()
    store.state_path.write_bytes(b"[")
    store.events_path.write_bytes(b"garbage\n" + store.events_path.read_bytes())
    fresh = Store(tmp_path)
    state = fresh.load_state()
    assert state is not None and state.run_id == "run-1"
    both = " | ".join(fresh.warnings)
    assert "events.jsonl: dropped 1 corrupt line: 1" in both
    assert "state.json was corrupt" in both and "kept as state.json.corrupt-" in both
    assert list(store.root.glob("state.json.corrupt-*"))[0].read_bytes() == b"["


def test_events_after_the_checkpoint_are_rolled_forward(tmp_path: Path) -> None:
    store, state = started_run(tmp_path)  # checkpoint at seq 2
    store.append(change("stub", S.TODO, S.IN_PROGRESS, model="openai:gpt"))
    seven = Usage(input_tokens=7)
    store.append(
        UsageUpdated(
            ticket_id="stub", track_id="cfg", tier=Tier.WORKER, model="openai:gpt", usage=seven
        )
    )
    store.append(change("stub", S.IN_PROGRESS, S.DONE, summary="stubbed"))
    store.append(RunFinished(ok=True, message="all done"))
    loaded = Store(tmp_path).load_state()
    assert loaded is not None and loaded.last_seq == 6
    stub = loaded.tracks[0].tickets[0]
    assert (stub.state, stub.result_summary) == (S.DONE, "stubbed")
    assert stub.assigned_model == "openai:gpt"
    assert stub.usage.input_tokens == 7 and loaded.usage.input_tokens == 7
    assert loaded.finished and loaded.ok and loaded.message == "all done"


def test_a_missing_state_file_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    store.append(change("stub", S.TODO, S.IN_PROGRESS))
    store.state_path.unlink()
    fresh = Store(tmp_path)
    loaded = fresh.load_state()
    assert loaded is not None and loaded.tracks[0].tickets[0].state is S.IN_PROGRESS
    assert "is missing" in fresh.warnings[0]


def test_temp_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = store.root / f".state.json.{dead.stdout.strip()}.1.tmp"
    live = store.root / f".state.json.{os.getpid()}.1.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"being written")
    assert Store(tmp_path).load_state() is not None
    assert not stale.exists() and live.exists()


def test_session_state_finds_tickets_and_refuses_ambiguity() -> None:
    from tests.store.helpers import sample_track

    state = SessionState(run_id="r", prompt="p", tracks=[sample_track("a"), sample_track("b")])
    assert state.find_ticket("impl", "b")[0].id == "b"
    with pytest.raises(KeyError):
        state.find_ticket("impl")  # both tracks have one
    with pytest.raises(KeyError):
        state.find_ticket("ghost", "a")
    assert len(state.tickets()) == 6
    assert msgspec.json.decode(msgspec.json.encode(state), type=SessionState) == state
