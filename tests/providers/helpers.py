"""Shared pieces of the provider tests: specs pointed at the scripted server, stream collection."""

from __future__ import annotations

from typing import Any

from slop_tui.config import ModelSpec, PriceSpec, ProviderKind, ProviderSpec
from slop_tui.models import ChatMessage, Secret, Tier
from slop_tui.providers import ModelReply, ModelRequest, Provider
from slop_tui.providers.base import ToolCallPiece
from slop_tui.testing import LLMServer

KEY = "sk-test-0123456789abcdefSECRET"
ADAPTERS: tuple[ProviderKind, ...] = ("openai", "anthropic")


def base_url_for(kind: str, srv: LLMServer) -> str:
    # The OpenAI SDK appends /chat/completions to base_url; the Anthropic SDK appends /v1/messages.
    return f"{srv.base_url}/v1" if kind == "openai" else srv.base_url


def spec_for(
    kind: ProviderKind,
    srv: LLMServer,
    *,
    tier: Tier = Tier.WORKER,
    max_retries: int = 1,
    timeout_s: float = 1.0,
    key: str | None = KEY,
    price: PriceSpec | None = None,
    model: str = "test-model",
) -> ModelSpec:
    return ModelSpec(
        tier=tier,
        provider=ProviderSpec(
            name=f"test-{kind}",
            kind=kind,
            base_url=base_url_for(kind, srv),
            key_env="TEST_KEY",
            max_retries=max_retries,
            timeout_s=timeout_s,
        ),
        model=model,
        api_key=Secret(key) if key is not None else None,
        price=price,
    )


def user_request(text: str = "hello", **kwargs: Any) -> ModelRequest:
    return ModelRequest(system="You are a test.", messages=[ChatMessage(role="user", content=text)], **kwargs)


async def collect(provider: Provider, request: ModelRequest, **kwargs: Any) -> tuple[list[str], ModelReply]:
    """Drain `stream`: the text deltas, and the final reply (which must come last, once). The
    tool-call pieces before it must name each call of the reply, in order, and carry its
    arguments (as the model sent them, so not compared: the reply's are cleaned, normalised)."""
    deltas: list[str] = []
    replies: list[ModelReply] = []
    tools: dict[int, list[str]] = {}  # index -> [name, arguments so far]
    async for item in provider.stream(request, **kwargs):
        assert not replies, "nothing may follow the final ModelReply"
        if isinstance(item, ModelReply):
            replies.append(item)
        elif isinstance(item, ToolCallPiece):
            entry = tools.setdefault(item.index, ["", ""])
            entry[0] = item.name or entry[0]
            entry[1] += item.arguments
        else:
            assert isinstance(item, str)
            deltas.append(item)
    assert len(replies) == 1
    reply = replies[0]
    assert [tools[i][0] for i in sorted(tools)] == [c.name for c in reply.tool_calls]
    for (_, (_, streamed)), made in zip(sorted(tools.items()), reply.tool_calls):
        assert streamed or made.arguments in ("", "{}"), f"{made.name}: its arguments never streamed"
    return deltas, reply


async def call(provider: Provider, request: ModelRequest, streamed: bool, **kwargs: Any) -> ModelReply:
    if streamed:
        deltas, reply = await collect(provider, request, **kwargs)
        assert "".join(deltas) == reply.text
        return reply
    return await provider.complete(request, **kwargs)
