"""The scripted server itself, spoken to with the standard library's HTTP client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from slop_tui.testing import HTTPReply, HTTPToolCall, LLMServer


def post(url: str, body: object, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_binds_loopback_on_an_ephemeral_port() -> None:
    with LLMServer() as a, LLMServer() as b:
        assert a.base_url.startswith("http://127.0.0.1:")
        assert a.port != b.port and a.port > 0


def test_records_requests_and_checks_the_key_in_either_header() -> None:
    with LLMServer(api_key="k-123456") as srv:
        srv.push_text("one", endpoint="chat")
        srv.push_text("two", endpoint="messages")
        status, _, _ = post(f"{srv.base_url}/v1/messages", {"model": "m"}, {"x-api-key": "wrong"})
        assert status == 401
        status, _, data = post(f"{srv.base_url}/v1/messages", {"model": "m"}, {"x-api-key": "k-123456"})
        assert status == 200 and json.loads(data)["content"][0]["text"] == "two"
        status, _, data = post(f"{srv.base_url}/v1/chat/completions", {"model": "m"}, {"Authorization": "Bearer k-123456"})
        assert status == 200 and json.loads(data)["choices"][0]["message"]["content"] == "one"
        assert [r.path for r in srv.requests] == ["/v1/messages"] * 2 + ["/v1/chat/completions"]
        assert srv.requests[0].body == {"model": "m"}
        assert srv.requests[0].headers["x-api-key"] == "wrong"


def test_unknown_route_and_empty_queue_are_clear() -> None:
    with LLMServer() as srv:
        assert post(f"{srv.base_url}/v2/other", {})[0] == 404
        status, _, data = post(f"{srv.base_url}/v1/chat/completions", {"model": "m"})
        assert status == 418
        assert "no scripted reply queued" in json.loads(data)["error"]["message"]


def test_fault_status_carries_retry_after() -> None:
    with LLMServer() as srv:
        srv.fail_next(429, retry_after=1.5)
        status, headers, data = post(f"{srv.base_url}/v1/messages", {})
        assert status == 429 and headers["Retry-After"] == "1.5"
        assert json.loads(data)["error"]["type"] == "rate_limit_error"


def test_streams_are_server_sent_events() -> None:
    with LLMServer(chunk_chars=2) as srv:
        srv.push(HTTPReply(text="abcd", tool_calls=[HTTPToolCall(name="finish", arguments={"summary": "s"}, id="c")]))
        status, headers, data = post(
            f"{srv.base_url}/v1/chat/completions", {"stream": True, "stream_options": {"include_usage": True}}
        )
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = [line[len("data: "):] for line in data.decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "abcd"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7


@pytest.mark.parametrize("endpoint", ["chat", "messages"])
def test_endpoint_queues_are_separate(endpoint: str) -> None:
    with LLMServer() as srv:
        srv.push_text("only here", endpoint=endpoint)  # type: ignore[arg-type]
        other = "/v1/messages" if endpoint == "chat" else "/v1/chat/completions"
        assert post(f"{srv.base_url}{other}", {})[0] == 418
