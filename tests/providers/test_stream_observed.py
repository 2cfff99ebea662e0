"""Streaming while someone watches: `ObservedProvider.complete` streams the call through the
real SDKs against the scripted server, tells its text as it arrives (coalesced, unlogged)
and returns the reply a plain call returns, usage and cache figures included; where nobody
watches it stays one plain request. A fault mid-stream keeps its one-line error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from slop_tui.conductor.bus import EventBus
from slop_tui.config import ModelSpec, ProviderSpec
from slop_tui.models import (
    AnyEvent,
    LiveDelta,
    ModelCallEnded,
    ModelCallStarted,
    ModelTextDelta,
    ModelToolDelta,
    Tier,
    Usage,
)
from slop_tui.providers import ModelReply, ProviderError, make_provider
from slop_tui.providers.base import StreamItem
from slop_tui.providers.observed import DELTA_S, ObservedProvider, path_named
from slop_tui.testing import HTTPReply, HTTPToolCall, LLMServer
from slop_tui.ui.widgets.run_header import ModelCalls
from tests.providers.helpers import ADAPTERS, KEY, spec_for, user_request

TEXT = "The settings now live in one frozen dataclass; every reader asks get_settings()."


class Watcher:
    """A live sink, as the TUI's bus subscription is: records each delta and when it came."""

    def __init__(self, watching: bool = True) -> None:
        self.has_live = watching
        self.deltas: list[tuple[float, LiveDelta]] = []

    def tell(self, delta: LiveDelta) -> None:
        self.deltas.append((time.monotonic(), delta))


def observing(kind: str, srv: LLMServer, events: list[AnyEvent], live: Watcher | EventBus) -> ObservedProvider:
    inner = make_provider(spec_for(kind, srv, tier=Tier.WORKER, max_retries=0, timeout_s=5))  # type: ignore[arg-type]

    async def publish(event: AnyEvent) -> AnyEvent:
        events.append(event)
        return event

    return ObservedProvider(inner, Tier.WORKER, publish, live=live)


def reply_of(text: str) -> HTTPReply:
    return HTTPReply(text=text, input_tokens=1200, output_tokens=31, cache_read_tokens=700, cache_write_tokens=300)


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_streamed_text_is_told_as_it_arrives_and_the_usage_is_a_plain_calls(kind: str) -> None:
    events: list[AnyEvent] = []
    watcher = Watcher()
    # 4 characters an event, 15 ms apart: the reply takes ~0.3 s to arrive.
    with LLMServer(api_key=KEY, event_gap_s=0.015) as srv:
        srv.push(reply_of(TEXT))
        srv.push(reply_of(TEXT))
        plain = await observing(kind, srv, events, Watcher(watching=False)).complete(user_request(), ticket_id="t1")
        assert srv.requests[-1].body.get("stream") in (None, False)  # nobody watching: not streamed
        provider = observing(kind, srv, events, watcher)
        streamed = await provider.complete(user_request(), ticket_id="t1")
        assert srv.requests[-1].body.get("stream") is True
        await provider.aclose()

    assert streamed.text == plain.text == TEXT
    assert streamed.usage == plain.usage
    expected_read = 700
    assert streamed.usage.cache_read_tokens == expected_read
    if kind == "anthropic":  # OpenAI's API reports no cache writes
        assert streamed.usage.cache_write_tokens == 300
    assert streamed.usage.output_tokens == 31

    deltas = [d for _, d in watcher.deltas if isinstance(d, ModelTextDelta)]
    assert "".join(d.text for d in deltas) == TEXT
    assert len(deltas) >= 2  # it came in pieces, while the call was under way
    assert all(d.tier is Tier.WORKER and d.ticket_id == "t1" for d in deltas)
    call = next(e.call for e in events[2:] if isinstance(e, ModelCallStarted))
    assert {d.call for d in deltas} == {call}
    # Coalesced: never two deltas of a call closer than DELTA_S (a little slack for timers),
    # but for the last: what was pending when the reply ended goes at once.
    times = [t for t, _ in watcher.deltas][:-1]
    assert all(b - a >= DELTA_S * 0.8 for a, b in zip(times, times[1:])), times
    # ~20 events of text became a handful of deltas: one per DELTA_S of the reply's span (~0.3 s
    # on an idle machine), plus the first and the last.
    span = watcher.deltas[-1][0] - watcher.deltas[0][0]
    assert len(deltas) <= span / (DELTA_S * 0.8) + 2


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_connection_lost_mid_stream_is_one_line_and_the_call_ends_not_ok(kind: str) -> None:
    events: list[AnyEvent] = []
    watcher = Watcher()
    with LLMServer(api_key=KEY) as srv:
        srv.truncated_stream()
        srv.push(reply_of(TEXT))
        provider = observing(kind, srv, events, watcher)
        with pytest.raises(ProviderError) as caught:
            await provider.complete(user_request(), ticket_id="t1")
        await provider.aclose()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert "test-model" in message
    assert isinstance(events[-1], ModelCallEnded) and not events[-1].ok


async def test_the_bus_tells_live_subscribers_only_and_logs_no_delta(tmp_path: object) -> None:
    bus = EventBus(None)
    plain = bus.subscribe()
    live = bus.subscribe_live()
    assert bus.has_live
    started = await bus.publish(ModelCallStarted(call=7, tier=Tier.WORKER, model="m", ticket_id="t1"))
    bus.tell(ModelTextDelta(call=7, tier=Tier.WORKER, text="hel", ticket_id="t1"))
    await bus.publish(ModelCallEnded(call=7, tier=Tier.WORKER, ok=True, ticket_id="t1"))
    await bus.close()
    bus.tell(ModelTextDelta(call=7, tier=Tier.WORKER, text="late"))  # after close: dropped
    seen_plain = [plain.get_nowait() for _ in range(plain.qsize())]
    seen_live = [live.get_nowait() for _ in range(live.qsize())]
    assert [type(e) for e in seen_plain] == [ModelCallStarted, ModelCallEnded, type(None)]
    assert [type(e) for e in seen_live] == [ModelCallStarted, ModelTextDelta, ModelCallEnded, type(None)]
    assert seen_live[0] is started
    assert not bus.has_live


async def test_a_closed_bus_or_no_live_subscriber_means_a_plain_call() -> None:
    bus = EventBus(None)
    bus.subscribe()  # the headless printer's kind of subscription
    assert not bus.has_live
    events: list[AnyEvent] = []
    with LLMServer(api_key=KEY) as srv:
        srv.push(reply_of("ok"))
        provider = observing("openai", srv, events, bus)
        reply = await provider.complete(user_request())
        await provider.aclose()
        assert srv.requests[-1].body.get("stream") in (None, False)
    assert isinstance(reply, ModelReply) and reply.text == "ok" and reply.usage != Usage()


async def test_a_cancelled_streaming_call_closes_its_stream_at_once() -> None:
    """A stopped run cancels the call: the inner stream (its HTTP connection) is closed then,
    and no delta of it is told after."""
    closed = asyncio.Event()
    first = asyncio.Event()

    class Endless:
        spec = ModelSpec(tier=Tier.WORKER, provider=ProviderSpec(name="endless", kind="scripted"), model="")
        label = "endless"

        async def complete(self, request: object, *, ticket_id: str | None = None) -> ModelReply:
            raise AssertionError("a watched call streams")

        async def stream(self, request: object, *, ticket_id: str | None = None) -> AsyncIterator[StreamItem]:
            try:
                while True:
                    yield "more "
                    first.set()
                    await asyncio.sleep(0.01)
            finally:
                closed.set()

        async def aclose(self) -> None:
            return None

    watcher = Watcher()

    async def publish(event: AnyEvent) -> AnyEvent:
        return event

    provider = ObservedProvider(Endless(), Tier.WORKER, publish, live=watcher)  # type: ignore[arg-type]
    task = asyncio.create_task(provider.complete(user_request(), ticket_id="t1"))
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed.is_set()
    told = len(watcher.deltas)
    await asyncio.sleep(DELTA_S * 2)  # a pending coalesced delta is dropped, not told late
    assert len(watcher.deltas) == told >= 1


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_tool_call_being_written_is_told_with_its_tool_path_and_size(kind: str) -> None:
    """A 300-line `write_file` streams for seconds: what is being written is told as it comes
    (coalesced like text), and the header shows it with the model's path escaped."""
    events: list[AnyEvent] = []
    watcher = Watcher()
    path = "app/\x1b[2Jbig.py"  # hostile: the header must show the escape, never send it
    arguments = {"path": path, "content": "value = 1\n" * 300}
    with LLMServer(api_key=KEY, event_gap_s=0.003) as srv:
        srv.push(HTTPReply(text="", tool_calls=[HTTPToolCall(name="write_file", arguments=arguments)]))
        provider = observing(kind, srv, events, watcher)
        reply = await provider.complete(user_request(), ticket_id="t1")
        await provider.aclose()

    [made] = reply.tool_calls
    told = [d for _, d in watcher.deltas if isinstance(d, ModelToolDelta)]
    assert len(told) >= 3, told  # ~0.6 s of arguments: told several times while they came
    assert all(d.tool == "write_file" and d.ticket_id == "t1" and d.tier is Tier.WORKER for d in told)
    sizes = [d.chars for d in told]
    assert sizes == sorted(sizes) and 0 < sizes[-1] <= len(made.arguments) + 16
    assert told[0].path == ""  # told at once, before the arguments named a path
    assert told[-1].path == path  # decoded from the JSON as it streamed
    times = [t for t, d in watcher.deltas if isinstance(d, ModelToolDelta)]
    assert all(b - a >= DELTA_S * 0.8 for a, b in zip(times[1:], times[2:]))

    calls = ModelCalls(clock=lambda: 100.0)
    calls.apply(ModelCallStarted(call=told[-1].call, tier=Tier.WORKER, model="m", ticket_id="t1"))
    calls.apply(told[-1])
    line = calls.describe().plain
    assert "· write_file app/\\x1b[2Jbig.py " in line and "\x1b" not in line, line
    assert line.endswith(" KB"), line
    calls.apply(msgspec.structs.replace(told[0], chars=0))  # named, nothing of it yet: no size
    assert calls.describe().plain.endswith("· write_file"), calls.describe().plain


def test_the_path_is_read_from_partial_arguments_only_once_whole() -> None:
    assert path_named('{"path": "app/con') == ""
    assert path_named('{"path": "app/config.py", "content": "x') == "app/config.py"
    assert path_named('{"content": "…", "path" : "a\\"b\\u00e9.py"}') == 'a"bé.py'
    assert path_named('{"path": "bad \\x escape"}') == ""
