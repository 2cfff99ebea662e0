"""`ObservedProvider`: a call's start, each retry the SDK waits for (with its status, try and
wait), and its end are published, through both real SDKs against the scripted server."""

from __future__ import annotations

import asyncio

import pytest

from slop_tui.models import AnyEvent, ModelCallEnded, ModelCallRetrying, ModelCallStarted, Tier
from slop_tui.providers import ProviderError, make_provider
from slop_tui.providers.observed import ObservedProvider
from slop_tui.testing import HTTPReply, LLMServer
from tests.providers.helpers import ADAPTERS, KEY, collect, spec_for, user_request


def observing(kind: str, srv: LLMServer, events: list[AnyEvent], retries: int = 2) -> ObservedProvider:
    inner = make_provider(spec_for(kind, srv, tier=Tier.LEAD, max_retries=retries, timeout_s=5))  # type: ignore[arg-type]

    async def publish(event: AnyEvent) -> AnyEvent:
        events.append(event)
        return event

    return ObservedProvider(inner, Tier.LEAD, publish)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_429_is_published_before_its_wait(kind: str, stream: bool) -> None:
    events: list[AnyEvent] = []
    with LLMServer(api_key=KEY) as srv:
        srv.fail_next(429, retry_after=0.2)
        srv.push(HTTPReply(text="ok"))
        provider = observing(kind, srv, events)
        if stream:
            _, reply = await collect(provider, user_request(), ticket_id="t1")
        else:
            reply = await provider.complete(user_request(), ticket_id="t1")
        await provider.aclose()
    assert reply.text == "ok"
    started, retrying, ended = events
    assert isinstance(started, ModelCallStarted) and started.tier is Tier.LEAD and started.ticket_id == "t1"
    assert isinstance(retrying, ModelCallRetrying)
    assert (retrying.status, retrying.attempt, retrying.tries, retrying.wait_s) == (429, 2, 3, 0.2)
    assert isinstance(ended, ModelCallEnded) and ended.ok and ended.call == retrying.call == started.call


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_failed_call_ends_not_ok_and_a_cancelled_one_says_nothing_more(kind: str) -> None:
    events: list[AnyEvent] = []
    with LLMServer(api_key=KEY) as srv:
        srv.fail_next(401)
        provider = observing(kind, srv, events, retries=0)
        with pytest.raises(ProviderError):
            await provider.complete(user_request())
        assert [type(e) for e in events] == [ModelCallStarted, ModelCallEnded]
        assert isinstance(events[-1], ModelCallEnded) and not events[-1].ok

        events.clear()
        srv.fail_next(429, retry_after=30)
        provider = observing(kind, srv, events)
        task = asyncio.create_task(provider.complete(user_request()))
        while not any(isinstance(e, ModelCallRetrying) for e in events):
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await provider.aclose()
    assert [type(e) for e in events] == [ModelCallStarted, ModelCallRetrying]
