"""A tier's provider that says on the bus when each call starts, waits to retry, and ends.

A model call can take minutes (a slow model, a rate limit, a hung endpoint); without these
events a person sees a static `planning…`. The SDK adapters retry inside the vendor SDK: they
report each wait through `RETRY_LISTENER`, a context variable this wrapper sets around its
call, so the provider protocol stays as it is and a provider that never retries (the
scripted one) needs nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

import msgspec

from slop_tui.config import ModelSpec
from slop_tui.models import AnyEvent, ModelCallEnded, ModelCallRetrying, ModelCallStarted, Tier
from slop_tui.providers.base import ModelReply, ModelRequest, Provider
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


class ObservedProvider:
    """`inner`, with `ModelCallStarted` / `ModelCallRetrying` / `ModelCallEnded` published."""

    def __init__(self, inner: Provider, tier: Tier, publish: Publish, requests: RequestLog | None = None) -> None:
        self.inner = inner
        self.requests = requests  # the TUI's "request" view reads the latest one per ticket
        self.tier = tier
        self.publish = publish
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

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        if self.requests is not None:
            self.requests.record(self.tier, self.label, request, ticket_id)
        call = next(_calls)
        await self.publish(ModelCallStarted(call=call, tier=self.tier, model=self.label, ticket_id=ticket_id))
        token = RETRY_LISTENER.set(self._listener(call, ticket_id))
        try:
            reply = await self.inner.complete(request, ticket_id=ticket_id)
        except Exception:
            await self.publish(ModelCallEnded(call=call, tier=self.tier, ok=False, ticket_id=ticket_id))
            raise
        finally:
            RETRY_LISTENER.reset(token)
        # A cancelled call publishes nothing more: its run is stopping, and the UI forgets
        # calls in flight when a run ends.
        await self.publish(ModelCallEnded(call=call, tier=self.tier, ok=True, ticket_id=ticket_id))
        return reply

    async def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[str | ModelReply]:
        if self.requests is not None:
            self.requests.record(self.tier, self.label, request, ticket_id)
        call = next(_calls)
        await self.publish(ModelCallStarted(call=call, tier=self.tier, model=self.label, ticket_id=ticket_id))
        token = RETRY_LISTENER.set(self._listener(call, ticket_id))
        try:
            async for item in self.inner.stream(request, ticket_id=ticket_id):
                yield item
        except Exception:
            await self.publish(ModelCallEnded(call=call, tier=self.tier, ok=False, ticket_id=ticket_id))
            raise
        finally:
            RETRY_LISTENER.reset(token)
        await self.publish(ModelCallEnded(call=call, tier=self.tier, ok=True, ticket_id=ticket_id))

    async def aclose(self) -> None:
        await self.inner.aclose()


def observed(provider: Provider, tier: Tier, publish: Publish, requests: RequestLog | None = None) -> Provider:
    """`provider` wrapped once (wrapping an already observed provider returns it); `requests`
    keeps the latest request of each ticket."""
    if isinstance(provider, ObservedProvider):
        return provider
    return ObservedProvider(provider, tier, publish, requests)
