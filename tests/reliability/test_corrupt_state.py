"""Corrupt state: truncated, garbage, wrong-version and empty `.slop/` files.

A real run is written through `Store` (run started, a plan, transitions, usage, file changes
with pre-images, a checkpoint part-way, more events after it). Then one file is damaged:
`state.json`, `events.jsonl` (a line in the middle, the last line, a torn tail, NUL blocks,
an event kind this version does not know), a pre-image index, or a file is emptied or removed.
For each:

- loading gives a clear one-line message naming the file, never another exception;
- the bad file is kept aside byte for byte (`<name>.corrupt-<time>`, `.torn-<time>`), except a
  newer format version, which is refused and left untouched;
- the rest is recovered: the state is rebuilt or rolled forward from what is still good, undo
  still finds every pre-image, and events appended afterwards are counted (never hidden behind
  an older checkpoint's seq);
- `slop status` on the damaged repository prints the warning and the run, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slop_tui.models import (
    AnyEvent,
    Archetype,
    FileChanged,
    ModelText,
    PlanAccepted,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
    Usage,
    UsageUpdated,
)
from slop_tui.store import SessionState, Store, StoreError, replay
from tests.reliability.counts import tally
from tests.reliability.helpers import generated, one_line

PROJECT = Path(__file__).resolve().parents[2]
COUNTS = tally(
    "corrupt state",
    "cases",
    "clear messages",
    "kept aside",
    "refused untouched (newer version)",
    "recovered",
    "crashes",
)
S = TicketState
CHECKPOINT_AT = 7  # events 1..7 are in state.json; the rest only in the log


def _track() -> Track:
    return Track(
        id="cfg",
        title="Refactor config",
        tickets=[
            Ticket(id="stub", title="Stub", archetype=Archetype.CONTRACT_STUBBER),
            Ticket(id="impl", title="Implement", depends_on=["stub"]),
            Ticket(id="test", title="Test", archetype=Archetype.TESTER, depends_on=["impl"]),
        ],
    )


def _move(ticket: str, old: TicketState, new: TicketState, **kw: object) -> TicketStateChanged:
    return TicketStateChanged(ticket_id=ticket, old=old, new=new, track_id="cfg", **kw)  # type: ignore[arg-type]


@dataclass
class Run:
    repo: Path
    store: Store
    final: SessionState  # the state the whole log gives
    preimages: dict[str, dict[str, bytes | None]]


def build_run(repo: Path) -> Run:
    (repo / "app").mkdir(parents=True, exist_ok=True)
    store = Store(repo)
    usage = Usage(input_tokens=120, output_tokens=30)
    pre_stub = store.save_preimage("stub", "app/config.py", b"OLD = 1\n")
    pre_impl = store.save_preimage("impl", "app/loader.py", None)
    pre_impl2 = store.save_preimage("impl", "app/config.py", b"STUB = 1\n")
    events = [
        RunStarted(run_id="run-1", prompt="Refactor config"),
        PlanAccepted(tracks=[_track()]),
        _move("stub", S.TODO, S.IN_PROGRESS, model="scripted"),
        UsageUpdated(ticket_id="stub", tier=Tier.WORKER, model="scripted", usage=usage, track_id="cfg"),
        FileChanged(ticket_id="stub", path="app/config.py", preimage=pre_stub),
        ModelText(ticket_id="stub", tier=Tier.WORKER, text="stubbed"),
        _move("stub", S.IN_PROGRESS, S.DONE, summary="stubbed the loader"),
        _move("impl", S.TODO, S.IN_PROGRESS, model="scripted"),
        UsageUpdated(ticket_id="impl", tier=Tier.WORKER, model="scripted", usage=usage, track_id="cfg"),
        FileChanged(ticket_id="impl", path="app/loader.py", preimage=pre_impl),
        FileChanged(ticket_id="impl", path="app/config.py", preimage=pre_impl2),
        _move("impl", S.IN_PROGRESS, S.AWAITING_APPROVAL),
    ]
    logged = [store.append(e) for e in events]
    checkpoint = replay(logged[:CHECKPOINT_AT])
    assert checkpoint is not None
    store.save_state(checkpoint)
    final = replay(logged)
    assert final is not None
    store.close()
    return Run(repo, store, final, {t: store.preimages(t) for t in ("stub", "impl")})


def summary(state: SessionState | None) -> object:
    """What a person relies on: tickets and their states, usage, the last seq."""
    assert state is not None
    return (
        [(t.id, t.state.value, t.result_summary, t.usage.total_tokens) for _, t in state.tickets()],
        state.usage.total_tokens,
        state.last_seq,
        state.run_id,
    )


# ---------------------------------------------------------------------------
# Damage
# ---------------------------------------------------------------------------


@dataclass
class Damage:
    target: str  # "state", "log", "index"
    kind: str
    apply: Callable[[bytes], bytes]
    dropped_lines: tuple[int, ...] = ()  # log lines (1-based) whose events are lost

    def __repr__(self) -> str:
        return f"Damage({self.target!r}, {self.kind!r}, lines={self.dropped_lines})"


@st.composite
def damages(draw: st.DrawFn) -> Damage:
    target = draw(st.sampled_from(["state", "log", "index"]))
    noise = draw(st.binary(min_size=1, max_size=200))
    if target == "log":
        kind = draw(
            st.sampled_from(
                ["garbage line", "half a line", "unknown kind", "missing fields", "NUL block",
                 "torn tail", "garbage last line"]
            )
        )
        line = draw(st.integers(2, 11))  # never the first or last: those have their own kinds

        def rewrite(data: bytes, new: bytes, at: int = line) -> bytes:
            lines = data.split(b"\n")
            lines[at - 1] = new
            return b"\n".join(lines)

        if kind == "garbage line":
            junk = noise.replace(b"\n", b" ") or b"x"
            return Damage(target, kind, lambda d: rewrite(d, b"#" + junk), (line,))
        if kind == "half a line":
            return Damage(target, kind, lambda d: rewrite(d, d.split(b"\n")[line - 1][:20]), (line,))
        if kind == "unknown kind":
            text = b'{"kind": "from_the_future", "seq": 99, "at": 1.0, "x": 1}'
            return Damage(target, kind, lambda d: rewrite(d, text), (line,))
        if kind == "missing fields":
            text = b'{"kind": "ticket_state", "seq": 5}'
            return Damage(target, kind, lambda d: rewrite(d, text), (line,))
        if kind == "NUL block":  # what a power cut leaves in a delayed-allocation file system
            size = draw(st.integers(1, 4096))
            return Damage(target, kind, lambda d: d + b"\x00" * size)
        if kind == "torn tail":
            return Damage(target, kind, lambda d: d + b'{"kind": "model_text", "seq": 13, "te')
        junk = b"#" + noise.replace(b"\n", b" ")
        return Damage(target, kind, lambda d: d + junk + b"\n", (13,))
    kind = draw(st.sampled_from(["truncated", "garbage", "empty", "NUL-filled", "wrong shape"]))
    if kind == "truncated":
        cut = draw(st.floats(0.05, 0.95))
        return Damage(target, kind, lambda d: d[: int(len(d) * cut)])
    if kind == "garbage":
        return Damage(target, kind, lambda d: noise if noise[:1] != b"{" else b"#" + noise)
    if kind == "empty":
        return Damage(target, kind, lambda d: b"")
    if kind == "NUL-filled":
        return Damage(target, kind, lambda d: b"\x00" * len(d))
    shape = draw(st.sampled_from([b"[]", b"null", b'{"version": 1, "tracks": 5}', b'"x"', b"{}",
                                  b'{"version": "1"}', b'{"ticket_id": 3}']))
    return Damage(target, kind, lambda d: shape)


def _index_path(run: Run, ticket: str) -> Path:
    (found,) = [p for p in (run.store.root / "preimages").iterdir() if p.name.startswith(ticket + "-")]
    return found / "index.json"


def _file(run: Run, target: str) -> Path:
    if target == "state":
        return run.store.state_path
    if target == "log":
        return run.store.events_path
    return _index_path(run, "impl")


def _aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*")) + sorted(
        path.parent.glob(path.name + ".torn-*")
    )


def decoded_lines(raw: bytes, dropped: tuple[int, ...] = ()) -> list[AnyEvent]:
    decoder = msgspec.json.Decoder(AnyEvent)
    return [
        decoder.decode(line)
        for number, line in enumerate(raw.split(b"\n")[:-1], start=1)
        if number not in dropped and line.strip()
    ]


def expected_after(run: Run, damage: Damage) -> object:
    """The state the good parts still give: the checkpoint, rolled forward with what survives."""
    if damage.target != "log" or not damage.dropped_lines:
        return summary(run.final)
    raw = run.store.events_path.read_bytes()
    checkpoint = replay(decoded_lines(raw)[:CHECKPOINT_AT])  # state.json is intact here
    later = [e for e in decoded_lines(raw, damage.dropped_lines) if e.seq > CHECKPOINT_AT]
    return summary(replay(later, checkpoint))


def check_damage(damage: Damage) -> None:
    COUNTS.add("cases")
    with tempfile.TemporaryDirectory() as tmp:
        run = build_run(Path(tmp))
        expected = expected_after(run, damage)
        path = _file(run, damage.target)
        original = path.read_bytes()
        bad = damage.apply(original)
        path.write_bytes(bad)
        store = Store(run.repo)
        try:
            state = store.load_state()
            preimages = {t: store.preimages(t) for t in ("stub", "impl")}
            # The run goes on: a new event is logged after everything already seen.
            assert state is not None
            logged = store.append(_move("test", S.TODO, S.IN_PROGRESS))
        except StoreError as exc:
            COUNTS.add("clear messages")
            raise AssertionError(f"{damage}: not recovered: {exc}") from None
        except Exception:
            COUNTS.add("crashes")
            raise
        store.close()
        # A clear message naming the file, and where the bad bytes went.
        warning = " | ".join(store.warnings)
        assert store.warnings and path.name in warning, (damage, store.warnings)
        assert all(one_line(w, 400) for w in store.warnings), store.warnings
        COUNTS.add("clear messages")
        kept = _aside(path)
        assert kept, f"{damage}: nothing kept aside ({store.warnings})"
        assert any(k.name in warning for k in kept), warning
        if not bad.endswith(b"\n") and damage.target == "log":  # an unfinished last line
            assert kept[0].read_bytes() == bad[bad.rfind(b"\n") + 1 :]
        else:
            assert kept[0].read_bytes() == bad
        COUNTS.add("kept aside")
        # The rest recovered, and the new event counts.
        assert summary(state) == expected, damage
        assert preimages == run.preimages
        assert logged.seq > state.last_seq
        again = Store(run.repo).load_state()
        assert again is not None and again.find_ticket("test")[1].state is S.IN_PROGRESS
        COUNTS.add("recovered")


def test_damaged_files_are_reported_kept_aside_and_the_rest_recovered() -> None:
    before = COUNTS["cases"]

    @generated(70)
    @given(damage=damages())
    def case(damage: Damage) -> None:
        check_damage(damage)

    case()
    assert COUNTS["cases"] - before >= 60
    assert COUNTS["crashes"] == 0


@pytest.mark.parametrize("version", [2, 99, 0, -1])
def test_a_state_of_another_format_version_is_refused_and_left_untouched(tmp_path: Path, version: int) -> None:
    COUNTS.add("cases")
    run = build_run(tmp_path)
    data = json.loads(run.store.state_path.read_bytes())
    data["version"] = version
    raw = json.dumps(data).encode()
    run.store.state_path.write_bytes(raw)
    with pytest.raises(StoreError) as caught:
        Store(tmp_path).load_state()
    message = str(caught.value)
    assert one_line(message) and "state.json" in message and f"format version {version}" in message
    COUNTS.add("clear messages")
    assert run.store.state_path.read_bytes() == raw
    assert not _aside(run.store.state_path)
    COUNTS.add("refused untouched (newer version)")


@pytest.mark.parametrize("lost", ["whole log", "log tail", "log file"])
def test_events_after_a_lost_log_tail_are_not_hidden_behind_the_checkpoint(tmp_path: Path, lost: str) -> None:
    # The checkpoint says seq 7; the log lost events (emptied, cut back to 3, or removed). New
    # events must be numbered after 7, or the next load would skip them as already applied.
    COUNTS.add("cases")
    run = build_run(tmp_path)
    log = run.store.events_path
    if lost == "whole log":
        log.write_bytes(b"")
    elif lost == "log tail":
        log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:3]))
    else:
        log.unlink()
    store = Store(tmp_path)
    state = store.load_state()
    assert state is not None and state.last_seq == CHECKPOINT_AT
    assert store.warnings and "events.jsonl" in " ".join(store.warnings), store.warnings
    COUNTS.add("clear messages")
    logged = store.append(_move("impl", S.TODO, S.IN_PROGRESS))
    assert logged.seq > CHECKPOINT_AT
    store.close()
    again = Store(tmp_path).load_state()
    assert again is not None and again.find_ticket("impl")[1].state is S.IN_PROGRESS
    COUNTS.add("recovered")


def test_a_missing_preimage_blob_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    COUNTS.add("cases")
    run = build_run(tmp_path)
    index = _index_path(run, "stub")
    (blob,) = [p for p in index.parent.iterdir() if p.suffix == ".bin"]
    blob.unlink()
    with pytest.raises(StoreError) as caught:
        Store(tmp_path).preimages("stub")
    message = str(caught.value)
    assert one_line(message) and blob.name in message and "app/config.py" in message
    COUNTS.add("clear messages")


@pytest.mark.parametrize("target", ["state", "log"])
def test_slop_status_on_a_damaged_repository_warns_and_shows_the_run(tmp_path: Path, target: str) -> None:
    COUNTS.add("cases")
    run = build_run(tmp_path)
    path = _file(run, target)
    data = path.read_bytes()
    if target == "log":
        lines = data.split(b"\n")
        lines[4] = b"\x00garbage\xff"
        path.write_bytes(b"\n".join(lines))
    else:
        path.write_bytes(data[: len(data) // 3])
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "status", "--repo", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "slop: warning: " in done.stderr and path.name in done.stderr
    assert "stub" in done.stdout and "impl" in done.stdout
    COUNTS.add("clear messages")
    COUNTS.add("recovered")
