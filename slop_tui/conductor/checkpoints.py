"""The session's state checkpoints, written off the event loop (see `StateCheckpoints`)."""

from __future__ import annotations

import asyncio

import msgspec

from slop_tui.store import SessionState, Store


class StateCheckpoints:
    """State checkpoints written off the event loop: the newest state, one write at a time.

    The event log is the truth (every event is fsynced before it is acknowledged, and loading
    rolls the checkpoint forward with the events after it); a checkpoint only spares a replay.
    Written in the loop, each ticket move cost a temporary file, two fsyncs and a rename (about
    8 ms on a real disk), during which no worker made progress. Here a move asks for a
    checkpoint; one writer thread writes a snapshot of the newest state, and moves that come
    faster than the disk are folded into its next write. `flush` waits for the writer and
    writes the last state before a run returns, stops or closes.

    The writer has a `Store` of its own: the event log's lock is never held by a checkpoint.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: SessionState | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    def request(self, state: SessionState) -> None:
        # A snapshot taken now, in the loop: the writer never sees a state being changed.
        self._pending = msgspec.json.decode(msgspec.json.encode(state), type=SessionState)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write(), name="checkpoint")

    async def _write(self) -> None:
        while self._pending is not None:
            state, self._pending = self._pending, None
            try:
                await asyncio.to_thread(self._store.save_state, state)
            except Exception as exc:  # reported by `flush`; the log still has every event
                self._error = exc

    async def flush(self, state: SessionState | None) -> None:
        """Wait for the writer; then write `state` (if given) in this thread, last."""
        self._pending = None
        task = self._task
        if task is not None and not task.done():
            await asyncio.shield(task)
        self._task = None
        if state is not None:
            self._store.save_state(state)
        error, self._error = self._error, None
        if error is not None:
            raise error
