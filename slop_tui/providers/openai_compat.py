"""OpenAI-compatible chat completions adapter (`openai.AsyncOpenAI` with `base_url`): OpenAI,
DeepSeek, Ollama, vLLM, OpenRouter.

Structured output tries, in order: `response_format` with a JSON Schema, then JSON mode with
the schema in the system prompt, then the schema in the prompt alone. The first mode an
endpoint accepts is remembered, so the refusals cost one round trip each per provider object.

OpenAI's and DeepSeek's prompt caches are automatic and match prefixes byte for byte, so a
request is a pure function of its `ModelRequest`: tools in the order given (fixed for a
ticket), the system text as given, no timestamps or ids of our own; the cached part comes back
as `cache_read_tokens` (`prompt_tokens_details.cached_tokens`, or DeepSeek's
`prompt_cache_hit_tokens`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

from slop_tui.models import ChatMessage, ToolCall, Usage
from slop_tui.providers.base import (
    STOP_END_TURN,
    STOP_MAX_TOKENS,
    STOP_TOOL_USE,
    ModelReply,
    ModelRequest,
    ProviderError,
    StreamItem,
    ToolCallPiece,
    schema_instruction,
)
from slop_tui.providers.sdk_adapter import PROMPT_LEVEL, SDKAdapter
from slop_tui.providers.usage import priced

DEFAULT_BASE_URL = "https://api.openai.com/v1"
JSON_SCHEMA_LEVEL = "json_schema"
JSON_OBJECT_LEVEL = "json_object"

_STOP_REASONS = {
    "stop": STOP_END_TURN,
    "tool_calls": STOP_TOOL_USE,
    "function_call": STOP_TOOL_USE,
    "length": STOP_MAX_TOKENS,
    "content_filter": "refusal",
}


def to_openai_messages(system: str, messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Neutral messages to chat completion messages (`tool_calls`, role `tool`)."""
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for message in messages:
        if message.role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id or "",
                    "content": message.content,
                }
            )
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments or "{}"},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def _schema_name(name: str) -> str:
    """`response_format` names allow `[A-Za-z0-9_-]{1,64}` only."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    return cleaned or "answer"


def _usage(raw: Any) -> Usage:
    """Chat completion usage. `prompt_tokens` includes cached ones; like Anthropic's counts,
    `input_tokens` here is the uncached part and `cache_read_tokens` the cached part."""
    if raw is None:
        return Usage()
    prompt = int(getattr(raw, "prompt_tokens", 0) or 0)
    details = getattr(raw, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    if not cached:
        # DeepSeek reports its context cache in its own fields.
        cached = int(getattr(raw, "prompt_cache_hit_tokens", 0) or 0)
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=int(getattr(raw, "completion_tokens", 0) or 0),
        cache_read_tokens=cached,
    )


class OpenAICompatProvider(SDKAdapter):
    FORMAT_LEVELS = (JSON_SCHEMA_LEVEL, JSON_OBJECT_LEVEL, PROMPT_LEVEL)

    def _needs_key(self) -> bool:
        # Local servers (Ollama, vLLM) need no key; api.openai.com does.
        return self.spec.provider.base_url is None

    def _import_sdk(self) -> ModuleType:
        import openai

        return openai

    def _make_client(self, sdk: ModuleType, api_key: str | None, http_client: Any) -> Any:
        # An explicit base_url and key: the SDK would otherwise read $OPENAI_BASE_URL and
        # $OPENAI_API_KEY, and could send the user's OpenAI key to another endpoint.
        return sdk.AsyncOpenAI(
            api_key=api_key or "no-key",
            base_url=self.spec.provider.base_url or DEFAULT_BASE_URL,
            max_retries=self.spec.provider.max_retries,
            timeout=self.spec.provider.timeout_s,
            http_client=http_client,
        )

    def _params(self, request: ModelRequest, level: str) -> dict[str, Any]:
        system = request.system
        params: dict[str, Any] = {"model": self.spec.model}
        # api.openai.com's newer models refuse `max_tokens`; other servers know only it.
        if self.spec.provider.base_url is None:
            params["max_completion_tokens"] = request.max_tokens
        else:
            params["max_tokens"] = request.max_tokens
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        schema = request.response_schema
        if schema is not None:
            if level == JSON_SCHEMA_LEVEL:
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": _schema_name(request.schema_name), "schema": schema},
                }
            else:
                if level == JSON_OBJECT_LEVEL:
                    params["response_format"] = {"type": "json_object"}
                instruction = schema_instruction(schema, request.schema_name)
                system = f"{system}\n\n{instruction}" if system else instruction
        params["messages"] = to_openai_messages(system, request.messages)
        return params

    async def _create(self, client: Any, params: dict[str, Any], stream: bool) -> Any:
        if stream:
            return await client.chat.completions.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
        return await client.chat.completions.create(**params)

    def _reply_from(self, response: Any) -> ModelReply:
        if not response.choices:
            raise ProviderError(self.spec, "malformed response (no choices)")
        choice = response.choices[0]
        message = choice.message
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
            for call in (message.tool_calls or [])
            if getattr(call, "type", "function") == "function"
        ]
        return ModelReply(
            text=message.content or "",
            tool_calls=calls,
            stop_reason=_stop(choice.finish_reason),
            usage=priced(_usage(response.usage), self.spec.price),
            model=response.model or self.spec.model,
        )

    async def _replies_from(self, stream: Any) -> AsyncIterator[StreamItem]:
        texts: list[str] = []
        # index -> [id, name, argument pieces]: a call's pieces share its index.
        tools: dict[int, list[Any]] = {}
        usage = Usage()
        model = self.spec.model
        finish: str | None = None
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    texts.append(delta.content)
                    yield delta.content
                for piece in delta.tool_calls or []:
                    index = piece.index if piece.index is not None else len(tools)
                    entry = tools.setdefault(index, ["", "", []])
                    if piece.id:
                        entry[0] = piece.id
                    if piece.function is not None:
                        if piece.function.name:
                            entry[1] = piece.function.name
                        if piece.function.arguments:
                            entry[2].append(piece.function.arguments)
                        yield ToolCallPiece(index=index, name=entry[1], arguments=piece.function.arguments or "")
            if choice.finish_reason:
                finish = choice.finish_reason
        if finish is None:
            raise ProviderError(self.spec, "the stream ended before the reply was complete")
        calls = [
            ToolCall(id=entry[0], name=entry[1], arguments="".join(entry[2]) or "{}")
            for _, entry in sorted(tools.items())
        ]
        yield ModelReply(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=_stop(finish),
            usage=priced(usage, self.spec.price),
            model=model,
        )


def _stop(reason: str | None) -> str:
    if reason is None:
        return STOP_END_TURN
    return _STOP_REASONS.get(reason, reason)
