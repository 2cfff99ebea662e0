"""The latest request each ticket sent to each tier, kept in memory for the TUI's "request" view.

A person asking "what did the model actually see?" needs the exact messages, not a summary.
They are held here and nowhere else: a request carries whole files and command outputs, so it
never goes to `.slop/` or the event log (the design keeps a worker's message array out of
both). Only the latest request per (ticket, tier) is kept: the previous one is a prefix of it
or was compacted into it, and keeping every step would hold a run's whole conversation.

The masking lives here too, because the log is what the TUI shows from: every value the run
treats as a credential (`Config.secrets()`, slop's own secret-looking environment variables) in
every form `models.secret_forms` knows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import msgspec

from slop_tui.models import Secret, Tier, environment_secrets, secret_forms
from slop_tui.providers.base import ModelRequest

MASK = "***"
# Tickets whose requests are kept, the most recent first: a worker's latest request can be a
# few hundred kB, and a long run has hundreds of tickets nobody will open again.
KEEP_TICKETS = 64

Listener = Callable[[str], None]  # called with the ticket id, in the event loop, at each request


class SentRequest(msgspec.Struct, kw_only=True, frozen=True):
    """One request as it went to the provider (before any adapter-specific shaping)."""

    ticket_id: str
    tier: Tier
    model: str  # the provider's label: "deepseek:deepseek-chat", "scripted (offline)"
    call: int  # the nth request of this tier for this ticket in this session, from 1
    request: ModelRequest


class RequestLog:
    """The latest `SentRequest` per (ticket, tier) of one session."""

    def __init__(self, secrets: Iterable[Secret | str] = (), *, keep_tickets: int = KEEP_TICKETS) -> None:
        self.keep_tickets = keep_tickets
        self._latest: dict[tuple[str, Tier], SentRequest] = {}
        self._recent: dict[str, None] = {}  # ticket ids, least recently sent first
        self._forgotten: set[str] = set()
        self._calls: dict[tuple[str, Tier], int] = {}
        self._versions: dict[str, int] = {}
        self._listeners: list[Listener] = []
        values = [s.reveal() if isinstance(s, Secret) else s for s in secrets]
        values += environment_secrets(os.environ)
        # Longest first, so a form that contains another is masked whole.
        self._forms = sorted({f for v in values for f in secret_forms(v)}, key=len, reverse=True)

    def record(self, tier: Tier, model: str, request: ModelRequest, ticket_id: str | None) -> None:
        """Keep `request` as the latest of `ticket_id` at `tier` (a call for no ticket, such as
        planning, is not kept). Cheap: its lists are copied, its texts only referenced."""
        if ticket_id is None:
            return
        key = (ticket_id, tier)
        call = self._calls.get(key, 0) + 1
        self._calls[key] = call
        # The caller may append to its list after the call; the messages themselves are
        # replaced, never changed, when a history is compacted.
        held = msgspec.structs.replace(request, messages=list(request.messages), tools=list(request.tools))
        self._latest[key] = SentRequest(ticket_id=ticket_id, tier=tier, model=model, call=call, request=held)
        self._versions[ticket_id] = self._versions.get(ticket_id, 0) + 1
        self._recent.pop(ticket_id, None)
        self._recent[ticket_id] = None
        self._forgotten.discard(ticket_id)
        while len(self._recent) > self.keep_tickets:
            oldest = next(iter(self._recent))
            del self._recent[oldest]
            self._forgotten.add(oldest)
            for key in [k for k in self._latest if k[0] == oldest]:
                del self._latest[key]
        for listener in list(self._listeners):
            listener(ticket_id)

    def latest(self, ticket_id: str) -> list[SentRequest]:
        """The ticket's latest request per tier: the worker's first, then QA's."""
        order = {tier: n for n, tier in enumerate((Tier.WORKER, Tier.DEFAULT_CHEAP, Tier.LEAD, Tier.PLANNER))}
        found = [sent for (tid, _), sent in self._latest.items() if tid == ticket_id]
        return sorted(found, key=lambda sent: order[sent.tier])

    def forgotten(self, ticket_id: str) -> bool:
        """The ticket sent requests, but more recent tickets' pushed them out."""
        return ticket_id in self._forgotten

    def version(self, ticket_id: str) -> int:
        """Grows with each request the ticket sends: a view redraws only when it changed."""
        return self._versions.get(ticket_id, 0)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(ticket_id)` after each request kept; returns the way to stop. A
        listener must be quick and must not raise: it runs inside the model call."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def mask(self, text: str) -> str:
        """`text` with every known credential value replaced by `***`."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
