"""What a session does when a spend limit is reached: pause, ask, raise or stop.

`Budget` (conductor/budget.py) counts; this module acts on what it counts. Every call's usage
goes through `SpendGuard.observe`; the first limit reached closes the **step gate** (each
worker awaits `gate()` before its next model call, the Tier 4 hint for a failed command
included, so workers side by side overshoot by at most the call they were in) and pauses the
dispatcher (no new ticket starts). Planning holds too: before each Tier 1 or Tier 2 call
(`before_planning`) a reached limit is asked about, or stops the run there, before the plan
exists (nothing to resume: `slop run` again). Then:

- with nobody to ask (`slop run`, `slop resume`), the run stops as Ctrl+C stops it: the
  dispatch is cancelled, so each running ticket is interrupted (back to `todo`), its files are
  put back now, and it starts afresh on `slop resume` (its history is never stored);
- with a `BudgetAsker` (the TUI), the run waits while the person answers: raise the limit (for
  this session only; `agents.toml` is unchanged) and the gate opens again, or stop, which is
  the same stop as above. A question the run no longer needs (its last ticket ended meanwhile)
  is withdrawn.

A repository's `.slop.toml` may only lower limits (config); a raise here never reaches a file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from slop_tui.conductor.budget import Budget, BudgetReached, LimitName, show_amount
from slop_tui.config import ModelSpec
from slop_tui.errors import SlopError
from slop_tui.models import ErrorRaised, Tier, Usage

if TYPE_CHECKING:
    from slop_tui.conductor.session import Session

__all__ = ["BudgetAnswer", "BudgetAsker", "SpendGuard"]


class BudgetAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The person's answer at a reached limit: raise it to `value` (this run only), or stop."""

    action: Literal["raise", "stop"]
    value: float | None = None

    @classmethod
    def raise_to(cls, value: float) -> BudgetAnswer:
        return cls(action="raise", value=value)

    @classmethod
    def stop(cls) -> BudgetAnswer:
        return cls(action="stop")


class BudgetAsker(Protocol):
    """Whoever may raise a reached limit while the run waits (the TUI's budget screen)."""

    async def ask(self, reached: BudgetReached) -> BudgetAnswer:
        """Raise or stop. Cancelled when the question is withdrawn: it must then go away."""
        ...


class SpendGuard:
    """One session's limits, its step gate and what happens at a reached limit."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.budget = Budget(session.settings)
        self.asker: BudgetAsker | None = None
        self._raised: dict[LimitName, float] = {}  # this session's raises, kept over a resume
        self._hit = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()
        self._paused_before = False  # the person had paused the dispatch before the limit did
        self.waiting = 0  # workers waiting at the gate now

    # -- counting ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Before a resume: the limits as configured now, with this session's raises on top."""
        self.budget = Budget(self._session.settings)
        for name, value in self._raised.items():
            if value > self.budget.limits.get(name, value):
                self.budget.limits[name] = value
        self._reopen()

    def observe(self, run: Usage, ticket: Usage | None, ticket_id: str | None) -> None:
        """After every call's usage: a newly reached limit closes the gate and pauses dispatch."""
        if self.budget.active and self.budget.observe(run, ticket, ticket_id) is not None:
            self._close()

    def _close(self) -> None:
        dispatcher = self._session.dispatcher
        if self._open.is_set():
            self._paused_before = dispatcher.paused
        self._open.clear()
        dispatcher.pause()  # no new ticket; running ones wait at the gate
        self._hit.set()

    def _reopen(self) -> None:
        self._hit.clear()
        if not self._open.is_set():
            self._open.set()
            if not self._paused_before:
                self._session.dispatcher.unpause()

    async def gate(self) -> None:
        """What a worker awaits before each model call: returns at once unless a limit is
        reached and not yet raised."""
        if self._open.is_set():
            return
        self.waiting += 1
        try:
            await self._open.wait()
        finally:
            self.waiting -= 1

    async def before_planning(self) -> BudgetReached | None:
        """Before each planner or lead call (no dispatch runs to watch the gate yet): None to
        go on (no limit reached, or the person raised it); else the limit planning stops at
        (nobody to ask, or the person chose to stop)."""
        if self.budget.reached is None or await self._settle(None):
            return None
        return self.budget.reached

    def raise_limit(self, name: LimitName, value: float) -> None:
        """Raise a limit for this session (`agents.toml` is unchanged). `SlopError` when the
        value is not above the limit and its spend. Another limit still reached keeps the run
        waiting; none, and the gate opens."""
        self.budget.raise_limit(name, value)
        self._raised[name] = self.budget.limits[name]
        self._recheck()
        if self.budget.reached is None:
            self._reopen()

    def _recheck(self) -> None:
        """After a raise: is another limit reached by the run, or by a running ticket?"""
        state = self._session.state
        if self.budget.observe(state.usage, None, None) is not None:
            return
        for ticket_id in self._session.dispatcher.running():
            try:
                _, ticket = state.find_ticket(ticket_id)
            except KeyError:
                continue
            if self.budget.observe(state.usage, ticket.usage, ticket_id) is not None:
                return

    # -- at the start ------------------------------------------------------------------------

    async def warn(self) -> None:
        """At the start of a run or resume: say when a USD limit cannot count some model."""
        if not self.budget.active:
            return
        unpriced = [p.label for tier in (Tier.PLANNER, Tier.LEAD, Tier.WORKER, Tier.DEFAULT_CHEAP)
                    if (p := self._priced_label(tier)) is not None and p.price is None]
        warning = self.budget.note_unpriced(unpriced)
        if warning is not None:
            await self._session.emit(ErrorRaised(message=warning))

    def _priced_label(self, tier: Tier) -> ModelSpec | None:
        given = self._session.given_provider(tier)
        if given is not None:
            return given.spec
        try:
            return self._session.config.model_for(tier)
        except SlopError:
            return None

    # -- the dispatch under the limits -------------------------------------------------------

    async def dispatch(self, run_tracks: Callable[[], Coroutine[Any, Any, None]]) -> BudgetReached | None:
        """Run `run_tracks` under the limits: None when it ended on its own, else the limit
        the run stopped at (running tickets interrupted, their files put back)."""
        if self.budget.active:  # reached already: a resume with the limit not raised, or planning
            self.observe(self._session.state.usage, None, None)
        if self.budget.reached is not None and not await self._settle(None):
            return self.budget.reached  # nothing ran: nothing to put back
        dispatch = asyncio.create_task(run_tracks(), name="dispatch")
        try:
            while True:
                hit = asyncio.create_task(self._hit.wait(), name="budget")
                try:
                    await asyncio.wait({dispatch, hit}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    hit.cancel()
                if dispatch.done():
                    dispatch.result()
                    return None
                if not await self._settle(dispatch):
                    reached = self.budget.reached
                    await self._stop(dispatch)
                    return reached
        except asyncio.CancelledError:
            dispatch.cancel()
            await asyncio.gather(dispatch, return_exceptions=True)
            raise

    async def _settle(self, dispatch: asyncio.Task[None] | None) -> bool:
        """A limit is reached: ask while the run waits. True to go on (raised, or the dispatch
        ended meanwhile), False to stop (so answered, or nobody to ask)."""
        emit = self._session.emit
        while (reached := self.budget.reached) is not None:
            if self.asker is None:
                return False
            await emit(ErrorRaised(message=reached.question()))
            ask = asyncio.create_task(self.asker.ask(reached), name="budget question")
            try:
                await asyncio.wait({ask} if dispatch is None else {ask, dispatch},
                                   return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                ask.cancel()
                await asyncio.gather(ask, return_exceptions=True)
                raise
            if not ask.done():  # its last tickets ended without another call: nothing to ask
                ask.cancel()
                await asyncio.gather(ask, return_exceptions=True)
                return True
            answer = ask.result()
            if answer.action == "stop" or answer.value is None:
                return False
            try:
                self.raise_limit(reached.limit, answer.value)
            except SlopError as exc:
                await emit(ErrorRaised(message=f"budget not raised: {exc}"))
                continue
            await emit(ErrorRaised(message=(
                f"budget raised for this run: {reached.limit} {show_amount(reached.limit, reached.value)} "
                f"-> {show_amount(reached.limit, self.budget.limits[reached.limit])} (agents.toml is unchanged)"
            )))
        self._reopen()
        return True

    async def _stop(self, dispatch: asyncio.Task[None]) -> None:
        """The running tickets are stopped as Ctrl+C stops them, and their files put back now,
        so the repository holds no half-done ticket."""
        session = self._session
        running = session.dispatcher.running()
        dispatch.cancel()
        await asyncio.gather(dispatch, return_exceptions=True)
        self._reopen()  # a resume in this session dispatches again
        session.dispatcher.unpause()
        for ticket_id in running:
            try:
                await session.restore_stopped(ticket_id)
            except SlopError as exc:
                await session.emit(ErrorRaised(message=f"ticket {ticket_id}: files not restored: {exc}"))
        await session.checkpoint_now()
