"""The one async protocol every model call goes through, and the payloads it speaks.

Nothing here imports a provider SDK: the adapters import theirs on their first call, so
importing `slop_tui` (and drawing the TUI) stays fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

import msgspec

from slop_tui.config import ModelSpec
from slop_tui.errors import SlopError
from slop_tui.models import ChatMessage, Secret, ToolArgs, ToolCall, Usage, tool_json_schema

SCRIPTED_LABEL = "scripted (offline)"

# Stop reasons are normalised to Anthropic's vocabulary so callers test one set of names.
STOP_END_TURN = "end_turn"
STOP_TOOL_USE = "tool_use"
STOP_MAX_TOKENS = "max_tokens"


class ToolSpec(msgspec.Struct, kw_only=True):
    """A tool as a model is shown it: name, what it does, and its arguments' JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]


def _description_of(cls: type[ToolArgs]) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else f"The {cls.TOOL} tool."


def tool_specs_for(tools: Iterable[type[ToolArgs]]) -> list[ToolSpec]:
    """Tool definitions generated from the tool argument Structs (`models.tool_json_schema`)."""
    return [
        ToolSpec(name=cls.TOOL, description=_description_of(cls), parameters=tool_json_schema(cls))
        for cls in tools
    ]


class ModelRequest(msgspec.Struct, kw_only=True):
    """Everything one model call takes; provider-neutral."""

    system: str
    messages: list[ChatMessage]
    tools: list[ToolSpec] = msgspec.field(default_factory=list)
    response_schema: dict[str, Any] | None = None  # JSON Schema of the answer, when structured
    schema_name: str = "answer"
    max_tokens: int = 4096
    # Mark prompt-cache breakpoints (Anthropic); False sends the request as it was before
    # caching existed (the ticket-cost benchmark's baseline).
    prompt_cache: bool = True


class ModelReply(msgspec.Struct, kw_only=True):
    """What one call produced. Tool call arguments stay raw JSON text: callers validate them
    with `models.decode_tool_args(name, arguments)`, so a bad payload is their clear error."""

    text: str
    tool_calls: list[ToolCall]
    stop_reason: str  # end_turn | tool_use | max_tokens | stop_sequence | refusal | API's own
    usage: Usage
    model: str


class ToolCallPiece(msgspec.Struct, kw_only=True, frozen=True):
    """A piece of a tool call's arguments as the reply streams, for a screen to show progress
    (the call itself comes whole, checked, in the final `ModelReply`)."""

    index: int  # which tool call of the reply
    name: str  # the tool, once the stream has named it ("" before)
    arguments: str = ""  # this piece of the JSON arguments


# What `Provider.stream` yields: text pieces and tool-call pieces as they come, then the reply.
StreamItem = str | ToolCallPiece | ModelReply


class ProviderError(SlopError):
    """A model call failed for good: names the provider, the model and what happened.

    Built only from status codes, error classes and server messages with every key masked;
    adapters raise it outside their `except` blocks, so no chained SDK exception (with its
    request headers) travels along.
    """

    def __init__(self, spec: ModelSpec | None, what: str, *, provider: str | None = None) -> None:
        if spec is not None:
            where = f"provider {spec.provider.name!r} model {spec.model!r}"
        else:
            where = f"provider {provider or 'unknown'!r}"
        message = redact(f"{where}: {what}", spec.api_key if spec is not None else None)
        super().__init__(clean_text(message))  # a server's error body is model-side text too
        self.what = clean_text(what)


class Provider(Protocol):
    """One model endpoint for one tier. `stream` yields text deltas, then the `ModelReply`."""

    spec: ModelSpec
    label: str  # "deepseek:deepseek-chat", or "scripted (offline)"

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        ...

    def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        ...

    async def aclose(self) -> None:
        """Release the HTTP client (idempotent)."""
        ...


# ---------------------------------------------------------------------------
# Helpers shared by the adapters
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# The provider boundary: no lone surrogate gets past it
# ---------------------------------------------------------------------------

# JSON may spell a lone UTF-16 surrogate (`"\udcff"` is valid JSON) and the SDKs' `json.loads`
# turns it into a `str` that UTF-8 cannot encode: the event log, msgspec and every terminal
# refuse it. So every text a model sends is cleaned here, once, before anything else sees it.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A surrogate written as a JSON escape inside tool-call arguments (`\udcff`, any case).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def clean_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD; a high+low pair that arrived split
    (two stream chunks) becomes its one character. Text without surrogates is returned as is."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _clean_json_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json_value(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean_json_value(v) for k, v in value.items()}
    return value


def clean_arguments(arguments: str) -> str:
    """Tool-call arguments (raw JSON text) with no lone surrogate, raw or escaped.

    Arguments without an escaped surrogate are returned as sent (byte for byte, broken JSON
    included: the caller's decoder reports that). With one, the JSON is re-encoded with its
    strings cleaned; arguments that do not parse are left for the decoder to refuse.
    """
    text = clean_text(arguments)
    if not _ESCAPED_SURROGATE.search(text):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    cleaned = _clean_json_value(value)
    if cleaned == value:  # only well-formed pairs (an emoji escaped): nothing to change
        return text
    try:
        return json.dumps(cleaned, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError):
        return text


def clean_reply(reply: ModelReply) -> ModelReply:
    """A reply with every model-supplied text cleaned (`clean_text`, `clean_arguments`).
    Every adapter, the scripted one included, passes its replies through this."""
    return ModelReply(
        text=clean_text(reply.text),
        tool_calls=[
            ToolCall(
                id=clean_text(call.id),
                name=clean_text(call.name),
                arguments=clean_arguments(call.arguments),
            )
            for call in reply.tool_calls
        ],
        stop_reason=clean_text(reply.stop_reason),
        usage=reply.usage,
        model=clean_text(reply.model),
    )


def redact(text: str, secret: Secret | str | None) -> str:
    """`text` with every occurrence of the key (and of a long enough prefix) masked."""
    if secret is None:
        return text
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if len(value) < 4:
        return text
    return text.replace(value, "***")


def one_line(text: str, limit: int = 200) -> str:
    """Collapse whitespace and cut, so a server's error body fits in a one-line message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def schema_instruction(schema: dict[str, Any], name: str) -> str:
    """What the system prompt says when the endpoint cannot enforce the schema itself."""
    return (
        f"Answer with exactly one JSON object named {name!r} and nothing else (no prose, no code "
        "fences). It must validate against this JSON Schema:\n"
        + json.dumps(schema, separators=(",", ":"), sort_keys=True)
    )


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> str:
    """The JSON part of a reply: models asked by prompt sometimes add fences or a sentence.

    Returns the text unchanged when it already is JSON; otherwise the first fenced block, or
    the span from the first `{`/`[` to the last matching closer. Decoding stays the caller's.
    """
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        return stripped
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return stripped
    start = min(starts)
    closer = "}" if text[start] == "{" else "]"
    end = text.rfind(closer)
    return text[start : end + 1] if end > start else stripped


def request_text(request: ModelRequest) -> str:
    """All the text a request carries, for token estimates."""
    parts = [request.system]
    for message in request.messages:
        parts.append(message.content)
        parts.extend(call.arguments for call in message.tool_calls)
    parts.extend(json.dumps(tool.parameters) + tool.description for tool in request.tools)
    if request.response_schema is not None:
        parts.append(json.dumps(request.response_schema))
    return "".join(parts)
