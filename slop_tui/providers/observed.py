"""A tier's provider that says on the bus when each call starts, waits to retry, and ends.

A model call can take minutes (a slow model, a rate limit, a hung endpoint); without these
events a person sees a static `planning…`. The SDK adapters retry inside the vendor SDK: they
report each wait through `RETRY_LISTENER`, a context variable this wrapper sets around its
call, so the provider protocol stays as it is and a provider that never retries (the
scripted one) needs nothing.

Where someone shows the text as it comes (`live.has_live`: the TUI subscribed to it),
`complete` streams the call and tells the text on `live` (`ModelTextDelta`, unlogged, at most
`DELTA_S` apart per call), and the tool calls it is writing (`ModelToolDelta`: the tool, the path
its arguments name, the characters so far), and returns the same `ModelReply` as a plain call,
usage included.
Where nobody watches (`slop run`, `slop ticket`) it stays one plain request: the SDKs retry a
plain request whole when its connection breaks, while a stream that broke after its first
bytes is lost, so streaming is worth its risk only to someone reading along.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Protocol

import msgspec

from slop_tui.config import ModelSpec
from slop_tui.models import (
    AnyEvent,
    LiveDelta,
    ModelCallEnded,
    ModelCallRetrying,
    ModelCallStarted,
    ModelTextDelta,
    ModelToolDelta,
    Tier,
)
from slop_tui.providers.base import ModelReply, ModelRequest, Provider, ProviderError, StreamItem, ToolCallPiece
from slop_tui.providers.request_log import RequestLog

Publish = Callable[[AnyEvent], Awaitable[object]]


class RetryWait(msgspec.Struct, kw_only=True, frozen=True):
    """One retry the SDK is about to wait for."""

    attempt: int  # the try about to be made: 2 is the first retry
    tries: int  # tries allowed in all
    wait_s: float
    status: int | None  # the failed try's HTTP status; None: no answer or a broken connection


RetryListener = Callable[[RetryWait], Awaitable[None]]
RETRY_LISTENER: ContextVar[RetryListener | None] = ContextVar("slop_retry_listener", default=None)

_calls = itertools.count(1)  # unique within the process: a resumed run's calls never collide

# Streamed text is told at most this often per call: ten screen updates a second read as
# live, and over SSH a delta per token would cost a terminal write per token.
DELTA_S = 0.1


class LiveText(Protocol):
    """Where streamed text goes (`EventBus`: to its live subscribers, never to the log)."""

    @property
    def has_live(self) -> bool:
        """Whether anyone shows streamed text now: a call streams only then."""
        ...

    def tell(self, delta: LiveDelta) -> None:
        """Hand one delta on without waiting (it must not block a model call)."""
        ...


class _Coalescer:
    """Joins the pieces of one call into deltas at most `every_s` apart; the first piece goes
    at once, a later one waits at most `every_s` (a timer), never for the next piece."""

    def __init__(self, send: Callable[[str], None], every_s: float = DELTA_S) -> None:
        self._send = send
        self._every_s = every_s
        self._pending: list[str] = []
        self._last = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    def add(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        if self._timer is not None:
            return
        wait = self._last + self._every_s - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        self.drop_timer()
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self._last = time.monotonic()
            self._send(text)

    def drop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


_HEAD_CHARS = 512  # of a tool call's arguments, searched for the path it names
_PATH = re.compile(r'"path"\s*:\s*"((?:[^"\\]|\\.)*)"')


def path_named(arguments_head: str) -> str:
    """The `"path"` a tool call's (partial) JSON arguments name, decoded; "" while none has come
    whole. As the model wrote it: a screen sanitises it."""
    found = _PATH.search(arguments_head)
    if found is None:
        return ""
    try:
        value = json.loads(f'"{found.group(1)}"')
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


class _ToolProgress:
    """Folds a reply's tool-call pieces into what a screen shows of each call (the tool, the
    path its arguments name, the characters so far), told at once for a new call and then at
    most every `every_s`: a 300-line `write_file` streams for many seconds, and this is what
    says so."""

    def __init__(self, send: Callable[[str, str, int], None], every_s: float = DELTA_S) -> None:
        self._send = send
        self._every_s = every_s
        self._calls: dict[int, tuple[str, str, int]] = {}  # index -> (tool, head, chars)
        self._last = float("-inf")

    def add(self, piece: ToolCallPiece) -> None:
        tool, head, chars = self._calls.get(piece.index, ("", "", 0))
        new = piece.index not in self._calls
        if len(head) < _HEAD_CHARS:
            head += piece.arguments[: _HEAD_CHARS - len(head)]
        self._calls[piece.index] = (piece.name or tool, head, chars + len(piece.arguments))
        now = time.monotonic()
        if new or now - self._last >= self._every_s:
            self._last = now
            tool, head, chars = self._calls[piece.index]
            self._send(tool, path_named(head), chars)


class ObservedProvider:
    """`inner`, with `ModelCallStarted` / `ModelCallRetrying` / `ModelCallEnded` published."""

    def __init__(
        self,
        inner: Provider,
        tier: Tier,
        publish: Publish,
        *,
        requests: RequestLog | None = None,
        live: LiveText | None = None,
    ) -> None:
        self.inner = inner
        self.requests = requests  # the TUI's "request" view reads the latest one per ticket
        self.tier = tier
        self.publish = publish
        self.live = live
        self.spec: ModelSpec = inner.spec
        self.label: str = inner.label

    def _listener(self, call: int, ticket_id: str | None) -> RetryListener:
        async def retrying(wait: RetryWait) -> None:
            await self.publish(
                ModelCallRetrying(
                    call=call, tier=self.tier, attempt=wait.attempt, tries=wait.tries,
                    wait_s=wait.wait_s, status=wait.status, ticket_id=ticket_id,
                )
            )

        return retrying

    @asynccontextmanager
    async def _observed(self, request: ModelRequest, ticket_id: str | None) -> AsyncIterator[int]:
        """One call's bookkeeping around its body: the request kept, `ModelCallStarted`, the
        SDK's retries heard, `ModelCallEnded` (not ok when the body raised). A cancelled call
        publishes no end: its run is stopping, and the UI forgets calls in flight then."""
        if self.requests is not None:
            self.requests.record(self.tier, self.label, request, ticket_id)
        call = next(_calls)
        await self.publish(ModelCallStarted(call=call, tier=self.tier, model=self.label, ticket_id=ticket_id))
        token = RETRY_LISTENER.set(self._listener(call, ticket_id))
        try:
            yield call
        except Exception:
            await self.publish(ModelCallEnded(call=call, tier=self.tier, ok=False, ticket_id=ticket_id))
            raise
        finally:
            RETRY_LISTENER.reset(token)
        await self.publish(ModelCallEnded(call=call, tier=self.tier, ok=True, ticket_id=ticket_id))

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        async with self._observed(request, ticket_id) as call:
            if self.live is not None and self.live.has_live:
                return await self._streamed(call, request, ticket_id)
            return await self.inner.complete(request, ticket_id=ticket_id)

    async def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        async with self._observed(request, ticket_id) as call:
            async for item in self._told(call, ticket_id, self.inner.stream(request, ticket_id=ticket_id)):
                yield item

    async def _streamed(self, call: int, request: ModelRequest, ticket_id: str | None) -> ModelReply:
        """`inner.stream`'s final reply, its text told on `live` as it came."""
        reply: ModelReply | None = None
        raw = self.inner.stream(request, ticket_id=ticket_id)
        told = self._told(call, ticket_id, raw)
        try:
            async for item in told:
                if isinstance(item, ModelReply):
                    reply = item
        finally:
            # A cancelled call (a stopped run) releases its connection now, not whenever the
            # loop finalises abandoned generators.
            await _aclose(told)
            await _aclose(raw)
        if reply is None:
            raise ProviderError(self.spec, "the streamed reply ended before its last message")
        return reply

    async def _told(
        self, call: int, ticket_id: str | None, items: AsyncIterator[StreamItem]
    ) -> AsyncIterator[StreamItem]:
        """`items`, with their text told on `live` (coalesced) while anyone shows it."""
        live = self.live
        if live is None or not live.has_live:
            async for item in items:
                yield item
            return

        def send(text: str) -> None:
            live.tell(ModelTextDelta(call=call, tier=self.tier, text=text, ticket_id=ticket_id))

        def send_tool(tool: str, path: str, chars: int) -> None:
            live.tell(ModelToolDelta(call=call, tier=self.tier, tool=tool, path=path, chars=chars, ticket_id=ticket_id))

        pieces = _Coalescer(send)
        tools = _ToolProgress(send_tool)
        try:
            async for item in items:
                if isinstance(item, str):
                    pieces.add(item)
                elif isinstance(item, ToolCallPiece):
                    pieces.flush()  # the text before a tool call is on screen first
                    tools.add(item)
                else:
                    pieces.flush()  # all the text is on screen before the call ends
                yield item
        finally:
            pieces.drop_timer()  # a failed call's last words are not told after its end

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _aclose(items: object) -> None:
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()


def observed(
    provider: Provider,
    tier: Tier,
    publish: Publish,
    *,
    requests: RequestLog | None = None,
    live: LiveText | None = None,
) -> Provider:
    """`provider` wrapped once (wrapping an already observed provider returns it); `requests`
    keeps the latest request of each ticket, `live` is told the text as it streams."""
    if isinstance(provider, ObservedProvider):
        return provider
    return ObservedProvider(provider, tier, publish, requests=requests, live=live)
