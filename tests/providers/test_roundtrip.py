"""One conversation with a tool call, through both adapters, via the real SDKs over real HTTP."""

from __future__ import annotations

import json
import logging

import msgspec
import pytest

from slop_tui.config import PriceSpec
from slop_tui.models import (
    ChatMessage,
    FinishArgs,
    ReadFileArgs,
    Tier,
    ToolCall,
    UsageUpdated,
    decode_tool_args,
    enc_hook,
)
from slop_tui.providers import (
    ModelRequest,
    ProviderError,
    UsageLedger,
    make_provider,
    tool_specs_for,
)
from slop_tui.testing import HTTPReply, HTTPToolCall, LLMServer
from tests.providers.helpers import ADAPTERS, KEY, call, spec_for

TOOLS = tool_specs_for([ReadFileArgs, FinishArgs])


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("kind", ADAPTERS)
async def test_tool_call_conversation_round_trips(
    kind: str, streamed: bool, srv: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = spec_for(kind, srv, price=PriceSpec(input=3.0, output=15.0))  # type: ignore[arg-type]
    provider = make_provider(spec)
    ledger = UsageLedger()
    events: list[UsageUpdated] = []

    srv.push(
        HTTPReply(
            text="Let me look.",
            tool_calls=[HTTPToolCall(name="read_file", arguments={"path": "app/cli.py", "view": "skeleton"}, id="call_a")],
            input_tokens=120,
            output_tokens=30,
            cache_read_tokens=40,
        )
    )
    srv.push(HTTPReply(text="Done: the CLI has two commands.", input_tokens=200, output_tokens=12))

    messages = [ChatMessage(role="user", content="What does app/cli.py do?")]
    request = ModelRequest(system="You are a worker.", messages=messages, tools=TOOLS, max_tokens=512)
    first = await call(provider, request, streamed, ticket_id="T1")
    events.append(ledger.record(Tier.WORKER, provider.label, "T1", first.usage, spec.price))

    assert first.text == "Let me look."
    assert first.stop_reason == "tool_use"
    assert [(c.id, c.name) for c in first.tool_calls] == [("call_a", "read_file")]
    args = decode_tool_args(first.tool_calls[0].name, first.tool_calls[0].arguments)
    assert args == ReadFileArgs(path="app/cli.py", view="skeleton")
    assert first.usage.input_tokens == 120
    assert first.usage.output_tokens == 30
    assert first.usage.cache_read_tokens == 40
    assert first.model == "test-model"

    messages += [
        ChatMessage(role="assistant", content=first.text, tool_calls=first.tool_calls),
        ChatMessage(role="tool", content="def main(): ...", tool_call_id="call_a"),
    ]
    second = await call(
        provider, ModelRequest(system="You are a worker.", messages=messages, tools=TOOLS), streamed, ticket_id="T1"
    )
    events.append(ledger.record(Tier.WORKER, provider.label, "T1", second.usage, spec.price))
    assert second.text == "Done: the CLI has two commands."
    assert second.stop_reason == "end_turn"
    assert second.tool_calls == []

    # What the model was sent, in each API's own shape.
    assert len(srv.requests) == 2
    body = srv.requests[1].body
    assert body["model"] == "test-model"
    assert bool(body.get("stream")) is streamed
    if kind == "openai":
        assert srv.requests[0].path == "/v1/chat/completions"
        assert body["messages"][0] == {"role": "system", "content": "You are a worker."}
        assistant, tool = body["messages"][2], body["messages"][3]
        assert assistant["tool_calls"][0]["id"] == "call_a"
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
            "path": "app/cli.py",
            "view": "skeleton",
        }
        assert tool == {"role": "tool", "tool_call_id": "call_a", "content": "def main(): ..."}
        assert body["tools"][0]["function"]["name"] == "read_file"
        assert "path" in body["tools"][0]["function"]["parameters"]["properties"]
        assert "tool" not in body["tools"][0]["function"]["parameters"]["properties"]
    else:
        assert srv.requests[0].path == "/v1/messages"
        # Prompt-cache breakpoints (tests/providers/test_prompt_cache.py checks where).
        assert body["system"] == [
            {"type": "text", "text": "You are a worker.", "cache_control": {"type": "ephemeral"}}
        ]
        assistant, user = body["messages"][1], body["messages"][2]
        assert assistant["role"] == "assistant"
        assert assistant["content"][1] == {
            "type": "tool_use",
            "id": "call_a",
            "name": "read_file",
            "input": {"path": "app/cli.py", "view": "skeleton"},
        }
        assert user["role"] == "user"
        assert user["content"] == [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "def main(): ...",
             "cache_control": {"type": "ephemeral"}}
        ]
        assert body["tools"][0]["name"] == "read_file"
        assert "path" in body["tools"][0]["input_schema"]["properties"]

    # Usage is counted per call, per ticket, per tier, and priced.
    assert ledger.for_ticket("T1").input_tokens == 320
    assert ledger.for_ticket("T1").output_tokens == 42
    assert ledger.for_tier(Tier.WORKER) == ledger.total == ledger.for_ticket("T1")
    expected_cost = ((120 + 40) * 3.0 + 30 * 15.0 + 200 * 3.0 + 12 * 15.0) / 1e6
    assert ledger.total.cost_usd == pytest.approx(expected_cost)
    assert first.usage.cost_usd == pytest.approx(((120 + 40) * 3.0 + 30 * 15.0) / 1e6)

    # The key reached the server in the Authorization header, and nowhere else.
    for recorded in srv.requests:
        assert recorded.headers["authorization"] == f"Bearer {KEY}"
        others = {k: v for k, v in recorded.headers.items() if k != "authorization"}
        assert KEY not in json.dumps(others)
        assert KEY.encode() not in recorded.raw
    assert KEY not in caplog.text
    for event in events:
        assert KEY not in msgspec.json.encode(event, enc_hook=enc_hook).decode()
    assert KEY not in repr(first) + repr(second) + repr(provider.spec)
    await provider.aclose()


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_wrong_key_is_a_clear_error_without_the_key(kind: str, srv: LLMServer) -> None:
    wrong = "sk-wrong-key-ABCDEFGHIJKLMNOP"
    provider = make_provider(spec_for(kind, srv, key=wrong))  # type: ignore[arg-type]
    srv.push_text("never sent")
    with pytest.raises(ProviderError) as caught:
        await provider.complete(ModelRequest(system="", messages=[ChatMessage(role="user", content="hi")]))
    message = str(caught.value)
    assert message.startswith(f"provider 'test-{kind}' model 'test-model': HTTP 401")
    assert "authentication failed" in message
    assert wrong not in message and KEY not in message
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert len(srv.requests) == 1  # 401 is not retried
    await provider.aclose()


async def test_anthropic_without_key_fails_before_any_request(srv: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK would fall back to $ANTHROPIC_API_KEY; our adapter sends only the configured key.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env-key-should-not-be-used")
    provider = make_provider(spec_for("anthropic", srv, key=None))
    with pytest.raises(ProviderError, match=r"no API key \(set \$TEST_KEY or add it to credentials.toml\)"):
        await provider.complete(ModelRequest(system="", messages=[ChatMessage(role="user", content="hi")]))
    assert srv.requests == []


async def test_openai_compatible_local_server_needs_no_key(srv: LLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ollama and vLLM take no key; the user's $OPENAI_API_KEY must not be sent to them.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user-openai-key-PRIVATE")
    with LLMServer() as open_srv:
        open_srv.push_text("local answer")
        provider = make_provider(spec_for("openai", open_srv, key=None))
        reply = await provider.complete(ModelRequest(system="", messages=[ChatMessage(role="user", content="hi")]))
        assert reply.text == "local answer"
        assert "sk-user-openai-key-PRIVATE" not in open_srv.requests[0].headers.get("authorization", "")
        await provider.aclose()


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("kind", ADAPTERS)
async def test_invalid_tool_arguments_reach_the_caller_raw(kind: str, streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.push(HTTPReply(tool_calls=[HTTPToolCall(name="finish", arguments={"summery": "typo"}, id="c1")]))
    reply = await call(provider, ModelRequest(system="", messages=[ChatMessage(role="user", content="go")], tools=TOOLS), streamed)
    assert reply.tool_calls == [ToolCall(id="c1", name="finish", arguments='{"summery": "typo"}')]
    with pytest.raises(Exception, match="invalid arguments for finish"):
        decode_tool_args("finish", reply.tool_calls[0].arguments)
    await provider.aclose()


async def test_openai_streamed_broken_arguments_stay_verbatim(srv: LLMServer) -> None:
    provider = make_provider(spec_for("openai", srv))
    srv.push(HTTPReply(tool_calls=[HTTPToolCall(name="write_file", arguments='{"path": "a.py", "content": ', id="c9")]))
    reply = await call(provider, ModelRequest(system="", messages=[ChatMessage(role="user", content="go")], tools=TOOLS), True)
    assert reply.tool_calls[0].arguments == '{"path": "a.py", "content": '
    await provider.aclose()


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_two_tool_calls_in_one_streamed_reply_keep_their_order(kind: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    srv.push(
        HTTPReply(
            text="Two reads.",
            tool_calls=[
                HTTPToolCall(name="read_file", arguments={"path": "a.py"}, id="c1"),
                HTTPToolCall(name="list_files", arguments={"path": "src"}, id="c2"),
            ],
        )
    )
    reply = await call(provider, ModelRequest(system="", messages=[ChatMessage(role="user", content="go")], tools=TOOLS), True)
    assert [(c.id, c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("c1", "read_file", {"path": "a.py"}),
        ("c2", "list_files", {"path": "src"}),
    ]
    await provider.aclose()
