"""Anthropic Messages API adapter (`anthropic.AsyncAnthropic`), tool use and streaming.

Structured output goes through `output_config.format` (a JSON Schema); an endpoint that
refuses it gets the schema in the system prompt instead. The Messages API has no JSON mode.

Prompt caching (`cache_breakpoints`): the API caches only up to blocks marked `cache_control`,
at most 4 a request. A request marks the last tool and the system text (fixed for a ticket),
the first message (the worker's context, rewritten only at checkpoints) and the last block of
the latest turn (rolling: the next request reads everything up to it and appends).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

from slop_tui.models import ChatMessage, ToolCall, Usage
from slop_tui.providers.base import (
    STOP_END_TURN,
    ModelReply,
    ModelRequest,
    ProviderError,
    StreamItem,
    ToolCallPiece,
    schema_instruction,
)
from slop_tui.providers.sdk_adapter import PROMPT_LEVEL, SDKAdapter
from slop_tui.providers.usage import priced

DEFAULT_BASE_URL = "https://api.anthropic.com"
JSON_SCHEMA_LEVEL = "json_schema"


def _tool_input(arguments: str) -> Any:
    """A past tool call's input: the API wants an object, the model may have sent junk."""
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {"invalid_json": arguments}
    return value if isinstance(value, dict) else {"value": value}


def to_anthropic_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Neutral messages to Messages API turns.

    Tool results become `tool_result` blocks in a user turn, and consecutive turns of one
    role are merged: the API wants user and assistant to alternate, with every result of one
    assistant turn in the next user turn.
    """
    turns: list[dict[str, Any]] = []
    for message in messages:
        blocks: list[dict[str, Any]] = []
        if message.role == "tool":
            role = "user"
            blocks.append(
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id or "",
                    "content": message.content,
                }
            )
        else:
            role = message.role
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            for call in message.tool_calls:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": _tool_input(call.arguments),
                    }
                )
        if not blocks:
            blocks.append({"type": "text", "text": "(empty)"})
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


EPHEMERAL: dict[str, str] = {"type": "ephemeral"}  # the default 5-minute lifetime


def _mark(block: dict[str, Any]) -> None:
    block["cache_control"] = dict(EPHEMERAL)


def cache_breakpoints(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with its cache breakpoints marked (at most 4; see the module docstring).

    The system text becomes a one-block list, the form that can carry `cache_control`; the
    turns are copied before they are marked, so the caller's messages stay unmarked.
    """
    tools = params.get("tools")
    if tools:
        tools = [dict(tool) for tool in tools]
        _mark(tools[-1])
        params["tools"] = tools
    system = params.get("system")
    if isinstance(system, str) and system:
        params["system"] = [{"type": "text", "text": system}]
        _mark(params["system"][-1])
    turns = [dict(turn, content=[dict(b) for b in turn["content"]]) for turn in params["messages"]]
    for turn in {0, len(turns) - 1} if turns else ():
        if turns[turn]["content"]:
            _mark(turns[turn]["content"][-1])
    params["messages"] = turns
    return params


def _usage(raw: Any) -> Usage:
    return Usage(
        input_tokens=int(getattr(raw, "input_tokens", 0) or 0),
        output_tokens=int(getattr(raw, "output_tokens", 0) or 0),
        cache_read_tokens=int(getattr(raw, "cache_read_input_tokens", 0) or 0),
        cache_write_tokens=int(getattr(raw, "cache_creation_input_tokens", 0) or 0),
    )


class AnthropicProvider(SDKAdapter):
    FORMAT_LEVELS = (JSON_SCHEMA_LEVEL, PROMPT_LEVEL)

    def _import_sdk(self) -> ModuleType:
        import anthropic

        return anthropic

    def _make_client(self, sdk: ModuleType, api_key: str | None, http_client: Any) -> Any:
        # An explicit base_url: the SDK would otherwise read $ANTHROPIC_BASE_URL or a profile.
        return sdk.AsyncAnthropic(
            api_key=api_key,
            base_url=self.spec.provider.base_url or DEFAULT_BASE_URL,
            max_retries=self.spec.provider.max_retries,
            timeout=self.spec.provider.timeout_s,
            http_client=http_client,
        )

    def _params(self, request: ModelRequest, level: str) -> dict[str, Any]:
        system = request.system
        params: dict[str, Any] = {
            "model": self.spec.model,
            "max_tokens": request.max_tokens,
            "messages": to_anthropic_messages(request.messages),
        }
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        if request.response_schema is not None:
            if level == JSON_SCHEMA_LEVEL:
                params["output_config"] = {
                    "format": {"type": "json_schema", "schema": request.response_schema}
                }
            else:
                instruction = schema_instruction(request.response_schema, request.schema_name)
                system = f"{system}\n\n{instruction}" if system else instruction
        if system:
            params["system"] = system
        return cache_breakpoints(params) if request.prompt_cache else params

    async def _create(self, client: Any, params: dict[str, Any], stream: bool) -> Any:
        if stream:
            return await client.messages.create(**params, stream=True)
        return await client.messages.create(**params)

    def _reply_from(self, response: Any) -> ModelReply:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in response.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = json.dumps(block.input, ensure_ascii=False)
                calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
        return ModelReply(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=response.stop_reason or STOP_END_TURN,
            usage=priced(_usage(response.usage), self.spec.price),
            model=response.model or self.spec.model,
        )

    async def _replies_from(self, stream: Any) -> AsyncIterator[StreamItem]:
        texts: list[str] = []
        # index -> [id, name, partial JSON pieces]; blocks arrive interleaved only by index.
        tools: dict[int, tuple[str, str, list[str]]] = {}
        usage = Usage()
        model = self.spec.model
        stop_reason: str | None = None
        finished = False
        async for event in stream:
            kind = event.type
            if kind == "message_start":
                model = event.message.model or model
                usage = _usage(event.message.usage)
            elif kind == "content_block_start":
                block = event.content_block
                if block.type == "tool_use":
                    tools[event.index] = (block.id, block.name, [])
                    yield ToolCallPiece(index=event.index, name=block.name)
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta":
                    texts.append(delta.text)
                    yield delta.text
                elif delta.type == "input_json_delta" and event.index in tools:
                    tools[event.index][2].append(delta.partial_json)
                    yield ToolCallPiece(index=event.index, name=tools[event.index][1], arguments=delta.partial_json)
            elif kind == "message_delta":
                stop_reason = event.delta.stop_reason or stop_reason
                # The final delta carries cumulative output tokens (and, on some endpoints,
                # the input counts again); keep what it reports and the rest from the start.
                delta_usage = event.usage
                usage = Usage(
                    input_tokens=int(getattr(delta_usage, "input_tokens", None) or usage.input_tokens),
                    output_tokens=int(delta_usage.output_tokens or 0),
                    cache_read_tokens=int(
                        getattr(delta_usage, "cache_read_input_tokens", None)
                        or usage.cache_read_tokens
                    ),
                    cache_write_tokens=int(
                        getattr(delta_usage, "cache_creation_input_tokens", None)
                        or usage.cache_write_tokens
                    ),
                )
            elif kind == "message_stop":
                finished = True
        if not finished:
            raise ProviderError(self.spec, "the stream ended before the reply was complete")
        calls = [
            ToolCall(id=tool_id, name=name, arguments=_normalised_json("".join(parts)))
            for _, (tool_id, name, parts) in sorted(tools.items())
        ]
        yield ModelReply(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=stop_reason or STOP_END_TURN,
            usage=priced(usage, self.spec.price),
            model=model,
        )


def _normalised_json(text: str) -> str:
    """A streamed tool input: `{}` when the model streamed none; otherwise the text as it came
    (callers validate it, and a broken payload must reach them as it was sent)."""
    return text if text.strip() else "{}"
