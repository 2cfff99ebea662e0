"""The protocol's payloads and the neutral-to-API message mapping."""

from __future__ import annotations

import pytest

from slop_tui.config import ModelSpec, ProviderSpec
from slop_tui.models import TOOL_ARGS, ChatMessage, Secret, Tier, ToolCall, tool_json_schema
from slop_tui.providers import ModelRequest, ProviderError, make_provider, tool_specs_for
from slop_tui.providers.anthropic import to_anthropic_messages
from slop_tui.providers.base import redact
from slop_tui.providers.openai_compat import to_openai_messages


def test_tool_specs_come_from_the_tool_structs() -> None:
    specs = tool_specs_for(TOOL_ARGS.values())
    assert [s.name for s in specs] == list(TOOL_ARGS)
    by_name = {s.name: s for s in specs}
    assert by_name["edit_file"].parameters == tool_json_schema(TOOL_ARGS["edit_file"])
    assert set(by_name["edit_file"].parameters["required"]) == {"path", "old", "new"}
    assert all(s.description for s in specs)


def test_model_request_defaults() -> None:
    request = ModelRequest(system="s", messages=[])
    assert (request.tools, request.response_schema, request.schema_name, request.max_tokens) == ([], None, "answer", 4096)


CONVERSATION = [
    ChatMessage(role="user", content="fix it"),
    ChatMessage(
        role="assistant",
        content="",
        tool_calls=[
            ToolCall(id="a", name="read_file", arguments='{"path": "x.py"}'),
            ToolCall(id="b", name="run_command", arguments="{not json"),
        ],
    ),
    ChatMessage(role="tool", content="print(1)", tool_call_id="a"),
    ChatMessage(role="tool", content="exit 1", tool_call_id="b"),
    ChatMessage(role="user", content="System Hint: import os"),
]


def test_anthropic_mapping_merges_tool_results_into_one_user_turn() -> None:
    turns = to_anthropic_messages(CONVERSATION)
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "tool_use", "id": "a", "name": "read_file", "input": {"path": "x.py"}},
        {"type": "tool_use", "id": "b", "name": "run_command", "input": {"invalid_json": "{not json"}},
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": "print(1)"},
        {"type": "tool_result", "tool_use_id": "b", "content": "exit 1"},
        {"type": "text", "text": "System Hint: import os"},
    ]


def test_openai_mapping_uses_tool_calls_and_tool_role() -> None:
    messages = to_openai_messages("sys", CONVERSATION)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool", "user"]
    assert messages[2]["content"] is None
    assert messages[2]["tool_calls"][1] == {
        "id": "b",
        "type": "function",
        "function": {"name": "run_command", "arguments": "{not json"},
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "a", "content": "print(1)"}
    assert to_openai_messages("", CONVERSATION)[0]["role"] == "user"


def spec(kind: str, key: str | None = "sk-abcdefgh12345678") -> ModelSpec:
    return ModelSpec(
        tier=Tier.LEAD,
        provider=ProviderSpec(name="deepseek", kind=kind, base_url="http://127.0.0.1:9/v1"),  # type: ignore[arg-type]
        model="deepseek-chat",
        api_key=Secret(key) if key else None,
    )


def test_provider_error_names_provider_and_model_and_never_the_key() -> None:
    error = ProviderError(spec("openai"), "HTTP 429 after 3 tries (rate limited: key sk-abcdefgh12345678 over quota)")
    assert str(error) == (
        "provider 'deepseek' model 'deepseek-chat': HTTP 429 after 3 tries (rate limited: key *** over quota)"
    )
    assert redact("a sk-x b", "sk-x") == "a *** b"
    assert redact("short ab", "ab") == "short ab"  # too short to mask without mangling text


def test_make_provider_chooses_by_kind_and_labels() -> None:
    openai_provider = make_provider(spec("openai"))
    anthropic_provider = make_provider(spec("anthropic"))
    assert type(openai_provider).__name__ == "OpenAICompatProvider"
    assert type(anthropic_provider).__name__ == "AnthropicProvider"
    assert openai_provider.label == "deepseek:deepseek-chat"
    with pytest.raises(ProviderError, match="unknown provider kind 'gemini'"):
        make_provider(spec("gemini"))
