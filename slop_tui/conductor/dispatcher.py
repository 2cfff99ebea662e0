"""The ticket DAG dispatcher: which ticket runs when, on how many workers.

Rules, in the order they apply:
- a ticket starts only when every ticket it depends on is `done`;
- at most `limit` tickets run at once (1 in linear mode);
- tickets whose `target_files` overlap run one after the other, in the track's topological
  order (plan order among equals), whichever becomes ready first: so a parallel run applies the
  same changes to each file in the same order as a linear run, and ends in the same files;
- a ticket that is blocked or cancelled holds its dependents: they are marked blocked with a
  reason naming it ("held: ..."), and the others go on; retrying the ticket releases them;
- cancelling the dispatch (Ctrl+C) cancels every running worker, waits for it to stop, and
  moves its ticket back to `todo` (`interrupt`), so a resume runs it again.

The worker itself is injected (`RunTicket`), so this module knows nothing of models or tools;
the worker moves its ticket through `start` .. `done` / `blocked` and publishes each move.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable, Iterable

from slop_tui.agents.transitions import transition
from slop_tui.models import AnyEvent, Ticket, TicketState, Track

RunTicket = Callable[[Ticket, Track], Awaitable[object]]
TicketHook = Callable[[Ticket, Track], Awaitable[None]]
Emit = Callable[[AnyEvent], Awaitable[AnyEvent]]

HELD_PREFIX = "held: "
_ACTIVE = frozenset({TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL})
_STUCK = frozenset({TicketState.BLOCKED, TicketState.CANCELLED})


def normalise_path(path: str) -> str:
    """One spelling per file, so `./a.py` and `a.py` count as the same target."""
    return posixpath.normpath(path.strip()).lstrip("/") if path.strip() else path


def topological_order(track: Track) -> list[Ticket]:
    """The track's tickets, dependencies first, plan order among tickets free at the same time.

    Kahn's algorithm, always taking the earliest ready ticket in plan order: stable, so a plan
    already in dependency order comes back unchanged.
    """
    index = {t.id: i for i, t in enumerate(track.tickets)}
    waiting = {t.id: {d for d in t.depends_on if d in index} for t in track.tickets}
    dependents: dict[str, list[str]] = {t.id: [] for t in track.tickets}
    for t in track.tickets:
        for d in waiting[t.id]:
            dependents[d].append(t.id)
    ready = sorted((i for tid, i in index.items() if not waiting[tid]))
    order: list[Ticket] = []
    while ready:
        i = ready.pop(0)
        ticket = track.tickets[i]
        order.append(ticket)
        for dep in dependents[ticket.id]:
            waiting[dep].discard(ticket.id)
            if not waiting[dep]:
                ready.append(index[dep])
                ready.sort()
    if len(order) != len(track.tickets):  # a cycle: `Track.validate` names it
        track.validate()
    return order


def is_held_reason(reason: str | None) -> bool:
    return bool(reason) and str(reason).startswith(HELD_PREFIX)


class Dispatcher:
    """Runs the tickets of one track at a time on up to `limit` concurrent workers."""

    def __init__(
        self,
        *,
        run_ticket: RunTicket,
        emit: Emit,
        limit: int = 4,
        on_done: TicketHook | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("the worker limit must be at least 1")
        self._run_ticket = run_ticket
        self._emit = emit
        self._limit = limit
        self._on_done = on_done
        self._wake = asyncio.Event()
        self._paused = False
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancel_requested: set[str] = set()
        self.track: Track | None = None  # the track being dispatched, if any

    # -- controls (any time, from the same event loop) ------------------------------------

    @property
    def limit(self) -> int:
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Change how many tickets may run at once; running ones finish, none is stopped."""
        self._limit = max(1, limit)
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Start no new ticket; the running ones go on to their end."""
        self._paused = True

    def unpause(self) -> None:
        self._paused = False
        self._wake.set()

    def wake(self) -> None:
        """Look again at the track (after a retry or an edit from outside)."""
        self._wake.set()

    def running(self) -> list[str]:
        return list(self._running)

    def cancel_running(self, ticket_id: str) -> bool:
        """Stop a running ticket's worker; it ends `cancelled`. False if it is not running."""
        task = self._running.get(ticket_id)
        if task is None:
            return False
        self._cancel_requested.add(ticket_id)
        task.cancel()
        return True

    # -- the loop ---------------------------------------------------------------------------

    async def run_track(self, track: Track) -> None:
        """Dispatch `track` until no ticket can run any more (all final, blocked or held)."""
        track.validate()
        order = topological_order(track)
        self.track = track
        try:
            while True:
                self._wake.clear()
                await self._hold_dependents(track, order)
                if not self._paused:
                    for ticket in self._launchable(order):
                        self._launch(ticket, track)
                if not self._running and not (self._paused and self._could_run(order)):
                    # Nothing runs and nothing could start (every ticket is final, blocked or
                    # held): the track is over. Paused with work left, it waits for `unpause`.
                    return
                await self._wake.wait()
        except asyncio.CancelledError:
            await self._stop_all(track)
            raise
        finally:
            self.track = None

    def _could_run(self, order: list[Ticket]) -> bool:
        return any(t.state is TicketState.TODO or t.state in _ACTIVE for t in order)

    def _possible(self, order: list[Ticket]) -> set[str]:
        """Tickets that are running or may still run (none of their dependencies is stuck)."""
        state = {t.id: t.state for t in order}
        possible: set[str] = set()
        for t in order:  # dependencies come first in `order`
            if t.state in _ACTIVE:
                possible.add(t.id)
            elif t.state is TicketState.TODO and all(
                state.get(d) is TicketState.DONE or d in possible for d in t.depends_on
            ):
                possible.add(t.id)
        return possible

    def _launchable(self, order: list[Ticket]) -> list[Ticket]:
        slots = self._limit - len(self._running)
        if slots <= 0:
            return []
        possible = self._possible(order)
        done = {t.id for t in order if t.state is TicketState.DONE}
        claimed: set[str] = set()  # files of earlier tickets that still have to run or finish
        for t in order:
            if t.id in self._running:
                claimed |= _files(t)
        chosen: list[Ticket] = []
        for t in order:
            if t.id not in possible:
                continue
            files = _files(t)
            if (
                len(chosen) < slots
                and t.state is TicketState.TODO
                and t.id not in self._running
                and all(d in done for d in t.depends_on)
                and not (files & claimed)
            ):
                chosen.append(t)
            claimed |= files
        return chosen

    def _launch(self, ticket: Ticket, track: Track) -> None:
        task = asyncio.create_task(self._run_one(ticket, track), name=f"ticket {ticket.id}")
        self._running[ticket.id] = task

    async def _run_one(self, ticket: Ticket, track: Track) -> None:
        try:
            try:
                await self._run_ticket(ticket, track)
            except asyncio.CancelledError:
                if ticket.id not in self._cancel_requested:
                    raise  # the whole dispatch is being cancelled: `_stop_all` interrupts it
                self._cancel_requested.discard(ticket.id)
                if not ticket.is_final:
                    await self._emit(transition(ticket, "cancel", track_id=track.id))
                return
            except Exception as exc:  # a bug in a worker must not take the run down with it
                if not ticket.is_final and ticket.state is not TicketState.BLOCKED:
                    reason = f"worker failed: {type(exc).__name__}: {exc}"
                    await self._emit(
                        transition(ticket, "mark_blocked", track_id=track.id, reason=reason)
                    )
                return
            if ticket.state in _ACTIVE or ticket.state is TicketState.TODO:
                # The worker returned without settling its ticket: say so rather than loop.
                await self._emit(
                    transition(
                        ticket,
                        "mark_blocked",
                        track_id=track.id,
                        reason="the worker ended without finishing the ticket",
                    )
                )
            if ticket.state is TicketState.DONE and self._on_done is not None:
                await self._on_done(ticket, track)  # before any dependent is launched
        finally:
            self._running.pop(ticket.id, None)
            self._wake.set()

    async def _hold_dependents(self, track: Track, order: list[Ticket]) -> None:
        """Mark `todo` tickets that wait on a blocked or cancelled ticket as held, and why."""
        by_id = {t.id: t for t in order}
        for t in order:
            if t.state is not TicketState.TODO:
                continue
            stuck = [by_id[d] for d in t.depends_on if d in by_id and by_id[d].state in _STUCK]
            if not stuck:
                continue
            dep = stuck[0]
            why = dep.blocked_reason if dep.state is TicketState.BLOCKED else "cancelled"
            if is_held_reason(why):
                why = "itself held"
            reason = f"{HELD_PREFIX}depends on {dep.id}, which is {dep.state.value} ({why})"
            await self._emit(transition(t, "mark_blocked", track_id=track.id, reason=reason))

    async def _stop_all(self, track: Track) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        for t in track.tickets:
            if t.state in _ACTIVE:
                await self._emit(transition(t, "interrupt", track_id=track.id))


def _files(ticket: Ticket) -> set[str]:
    return {normalise_path(p) for p in ticket.target_files if p.strip()}


def release_held(track: Track) -> list[Ticket]:
    """Tickets held only by dependencies that are no longer stuck, in dependency order."""
    order = topological_order(track)
    by_id = {t.id: t for t in order}
    released: list[Ticket] = []
    for t in order:
        if t.state is TicketState.BLOCKED and is_held_reason(t.blocked_reason):
            deps = [by_id[d] for d in t.depends_on if d in by_id]
            if not any(d.state in _STUCK and d not in released for d in deps):
                released.append(t)
    return released


def held_by(track: Track, ticket_ids: Iterable[str]) -> list[Ticket]:
    """Every held ticket that (transitively) depends on one of `ticket_ids`."""
    wanted = set(ticket_ids)
    out: list[Ticket] = []
    for t in topological_order(track):
        if any(d in wanted for d in t.depends_on):
            wanted.add(t.id)
            if t.state is TicketState.BLOCKED and is_held_reason(t.blocked_reason):
                out.append(t)
    return out
