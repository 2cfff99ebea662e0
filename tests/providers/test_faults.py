"""Every injected fault ends in a retry that succeeds or one clear error; none hangs."""

from __future__ import annotations

import time
import traceback

import pytest

from slop_tui.errors import SlopError
from slop_tui.providers import ProviderError, make_provider
from slop_tui.providers import sdk_adapter
from slop_tui.testing import LLMServer
from tests.providers.helpers import ADAPTERS, KEY, call, spec_for, user_request

MODES = pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
KINDS = pytest.mark.parametrize("kind", ADAPTERS)


def assert_clean(error: ProviderError, kind: str) -> None:
    """One line, names provider and model, carries no key and no chained SDK exception."""
    message = str(error)
    assert isinstance(error, SlopError)
    assert message.startswith(f"provider 'test-{kind}' model 'test-model': ")
    assert "\n" not in message
    assert KEY not in message
    assert error.__cause__ is None and error.__context__ is None
    rendered = "".join(traceback.format_exception(error))
    assert "httpx2" not in rendered and KEY not in rendered


@MODES
@KINDS
async def test_429_with_retry_after_is_retried_after_the_wait(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.fail_next(429, retry_after=0.3)
    srv.push_text("after the wait")
    reply = await call(provider, user_request(), streamed)
    assert reply.text == "after the wait"
    assert len(srv.requests) == 2
    # Measured between the two requests the server saw: the SDK's first import (seconds on a
    # loaded machine) is not the retry's business.
    gap = srv.requests[1].at - srv.requests[0].at
    assert gap >= 0.28, f"Retry-After not honoured: retried after {gap:.2f} s"
    assert gap < 2.5, f"retried after {gap:.2f} s: the SDK's own backoff, not Retry-After's 0.3 s"
    await provider.aclose()


@MODES
@KINDS
async def test_500_then_success(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.fail_next(500)
    srv.push_text("recovered")
    reply = await call(provider, user_request(), streamed)
    assert reply.text == "recovered"
    assert len(srv.requests) == 2
    await provider.aclose()


@KINDS
@pytest.mark.parametrize(
    ("status", "words"),
    [(429, "rate limited"), (500, "server error"), (529, "overloaded")],
)
async def test_persistent_status_ends_in_one_clear_error(kind: str, status: int, words: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv, max_retries=2))  # type: ignore[arg-type]
    srv.fail_next(status, retry_after=0.05, times=3)
    srv.push_text("never reached")
    with pytest.raises(ProviderError) as caught:
        await provider.complete(user_request())
    assert_clean(caught.value, kind)
    assert f"HTTP {status} after 3 tries ({words}: scripted failure {status})" in str(caught.value)
    assert len(srv.requests) == 3
    await provider.aclose()


@MODES
@KINDS
async def test_slow_reply_times_out_within_its_budget(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv, max_retries=1, timeout_s=0.5))  # type: ignore[arg-type]
    srv.slow(60, times=2)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await call(provider, user_request(), streamed)
    elapsed = time.monotonic() - started
    assert_clean(caught.value, kind)
    assert "timed out after 2 tries (0.5 s each)" in str(caught.value)
    # Two tries of 0.5 s plus one back-off of at most 0.5 s: ~1.5 s, where waiting out the slow
    # reply takes 60 s (the server lets go at once when the test ends): the bound says the
    # reply was not waited out, and has room for any loaded machine.
    assert elapsed < 30
    assert len(srv.requests) == 2
    await provider.aclose()


@MODES
@KINDS
async def test_slow_first_try_then_success(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv, max_retries=1, timeout_s=0.5))  # type: ignore[arg-type]
    srv.slow(5)
    srv.push_text("second try")
    reply = await call(provider, user_request(), streamed)
    assert reply.text == "second try"
    await provider.aclose()


@MODES
@KINDS
async def test_dropped_connection_is_retried(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.drop()
    srv.push_text("reconnected")
    reply = await call(provider, user_request(), streamed)
    assert reply.text == "reconnected"
    assert len(srv.requests) == 2
    await provider.aclose()


@KINDS
async def test_connection_dropped_every_time_is_a_clear_error(kind: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.drop(times=2)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(user_request())
    assert_clean(caught.value, kind)
    assert "connection failed after 2 tries" in str(caught.value)
    await provider.aclose()


@KINDS
async def test_nobody_listening_is_a_clear_error(kind: str) -> None:
    with LLMServer() as gone:
        spec = spec_for(kind, gone, max_retries=0)  # type: ignore[arg-type]
    provider = make_provider(spec)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(user_request())
    assert_clean(caught.value, kind)
    assert "connection failed after 1 try" in str(caught.value)
    await provider.aclose()


@MODES
@KINDS
async def test_malformed_json_is_a_clear_error(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.malformed()
    with pytest.raises(ProviderError) as caught:
        await call(provider, user_request(), streamed)
    assert_clean(caught.value, kind)
    assert "malformed response" in str(caught.value)
    await provider.aclose()


@KINDS
async def test_truncated_stream_is_a_clear_error(kind: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.truncated_stream()
    srv.push_text("this reply will be cut in the middle of its stream")
    with pytest.raises(ProviderError) as caught:
        await call(provider, user_request(), True)
    assert_clean(caught.value, kind)
    assert "the stream ended before the reply was complete" in str(caught.value)
    await provider.aclose()


@KINDS
async def test_body_cut_short_is_retried(kind: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.truncated_stream()
    srv.push_text("cut")
    srv.push_text("whole")
    reply = await provider.complete(user_request())
    assert reply.text == "whole"
    assert len(srv.requests) == 2
    await provider.aclose()


@KINDS
async def test_bad_request_is_not_retried(kind: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv, max_retries=2))  # type: ignore[arg-type]
    srv.fail_next(400, message="max_tokens: too large")
    with pytest.raises(ProviderError) as caught:
        await provider.complete(user_request())
    assert_clean(caught.value, kind)
    assert str(caught.value).endswith("HTTP 400 (bad request: max_tokens: too large)")
    assert len(srv.requests) == 1
    await provider.aclose()


async def test_server_echoing_the_key_is_masked(srv: LLMServer) -> None:
    provider = make_provider(spec_for("openai", srv, max_retries=0))
    srv.fail_next(403, message=f"key {KEY} is not allowed here")
    with pytest.raises(ProviderError) as caught:
        await provider.complete(user_request())
    assert KEY not in str(caught.value)
    assert "key *** is not allowed here" in str(caught.value)
    await provider.aclose()


@KINDS
async def test_a_long_retry_after_cannot_hang_the_call(
    kind: str, srv: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDKs honour a Retry-After of minutes (Anthropic's of any length); the adapter's
    # deadline bounds the wait.
    monkeypatch.setattr(sdk_adapter, "MAX_RETRY_WAIT_S", 0.5)
    provider = make_provider(spec_for(kind, srv, max_retries=1, timeout_s=0.5))  # type: ignore[arg-type]
    srv.fail_next(429, retry_after=30)
    srv.push_text("too late")
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await provider.complete(user_request())
    assert time.monotonic() - started < 10  # ~1.5 s; the Retry-After asked for 30
    assert_clean(caught.value, kind)
    assert "no answer within 1.5 s over 2 tries" in str(caught.value)
    assert len(srv.requests) == 1
    await provider.aclose()
