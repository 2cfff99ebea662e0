"""A real process killed with SIGKILL in the middle of a stream of transitions loses nothing
it acknowledged, and its state loads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from slop_tui.models import ErrorRaised, ModelText, TicketStateChanged
from slop_tui.store import Store, replay

ROOT = Path(__file__).resolve().parents[2]

# The child drives random legal transitions through a 3-ticket track: each transition is
# appended (write-ahead), then the state checkpoint is saved; a big model reply between them
# makes it likely the kill lands in the middle of a write. It prints a seq only after append()
# has returned: those are the acknowledged events.
CHILD = r"""
import random, sys
from pathlib import Path
from slop_tui.models import IllegalTransition, ModelText, Tier
from tests.store.helpers import change, started_run

repo, seed = Path(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
store, state = started_run(repo)
print(store.last_seq, flush=True)
moves = ["start", "await_approval", "resume", "mark_complete", "mark_blocked", "retry",
         "interrupt", "revert"]
while True:
    _, ticket = state.find_ticket(rnd.choice(["stub", "impl", "test"]), "cfg")
    move = rnd.choice(moves)
    try:
        old = getattr(ticket, move)(*(("busy",) if move == "mark_blocked" else ()))
    except IllegalTransition:
        continue
    event = store.append(change(ticket.id, old, ticket.state, reason=ticket.blocked_reason))
    print(event.seq, flush=True)
    state.last_seq = event.seq
    store.save_state(state)
    text = "x" * rnd.randint(1, 300_000)
    reply = store.append(ModelText(ticket_id=ticket.id, tier=Tier.WORKER, text=text))
    print(reply.seq, flush=True)
"""


@pytest.mark.parametrize(("seed", "after"), [(1, 5), (2, 40), (3, 120), (4, 77)])
def test_kill_9_mid_stream_loses_no_acknowledged_transition(
    tmp_path: Path, seed: int, after: int
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(seed)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < after and time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, "the child died on its own"
        acknowledged.append(int(line))
    time.sleep(seed * 0.0017)  # vary where in the stream the kill lands
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    acknowledged += [int(line) for line in child.stdout.read().split()]
    child.stdout.close()
    assert len(acknowledged) >= after

    store = Store(tmp_path)
    events = store.events()
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert set(acknowledged) <= set(seqs)  # nothing acknowledged is lost
    assert len(seqs) - max(acknowledged) <= 1  # at most the one being acknowledged

    state = store.load_state()
    assert state is not None and state.run_id == "run-1"
    assert state.last_seq == seqs[-1]  # the checkpoint was rolled forward to the log's end
    rebuilt = replay(events)
    assert rebuilt is not None
    assert [(t.id, t.state, t.blocked_reason) for _, t in state.tickets()] == [
        (t.id, t.state, t.blocked_reason) for _, t in rebuilt.tickets()
    ]
    last_change = [e for e in events if isinstance(e, TicketStateChanged)][-1]
    assert state.find_ticket(last_change.ticket_id, "cfg")[1].state is last_change.new

    # Life goes on: the next append lands on a clean line (a torn tail is cut and kept).
    assert store.append(ErrorRaised(message="resumed")).seq == seqs[-1] + 1
    assert [e.seq for e in Store(tmp_path).events()] == seqs + [seqs[-1] + 1]
    for torn in store.root.glob("events.jsonl.torn-*"):
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(torn.read_bytes())
    assert all(isinstance(e, (ModelText, TicketStateChanged, ErrorRaised)) for e in events[2:])
