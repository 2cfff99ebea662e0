"""Prompt caching end to end: the breakpoints the Anthropic adapter marks, the byte-stable prefix
the OpenAI adapter sends, the scripted server's simulated caches (by the documented rules), the
usage parsed from them, the cache prices the ledger charges, and old usage records decoding."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from slop_tui.config import DEFAULT_PRICES, ModelSpec, PriceSpec, ProviderSpec, load_config
from slop_tui.models import ChatMessage, Tier, ToolCall, Usage, UsageUpdated
from slop_tui.providers import ModelRequest, make_provider
from slop_tui.providers.base import ProviderError, ToolSpec
from slop_tui.providers.cache_sim import AnthropicCache, CacheRuleError, OpenAIPrefixCache
from slop_tui.providers.scripted import Scenario, ScriptedProvider, ScriptedReply
from slop_tui.providers.usage import UsageLedger, cost_of
from slop_tui.testing import LLMServer
from slop_tui.testing.llm_server import HTTPReply
from tests.providers.helpers import KEY, spec_for

EPHEMERAL = {"type": "ephemeral"}
CODE = "".join(f"def handler_{i}(request, value={i}):\n    return request.respond(value * {i})\n\n" for i in range(160))
TOOLS = [
    ToolSpec(name=f"tool_{i}", description=f"Tool number {i}.", parameters={"type": "object", "properties": {"path": {"type": "string"}}})
    for i in range(3)
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def caching(clock: Clock) -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY, cache=True, clock=clock) as server:
        yield server


def history(steps: int) -> list[ChatMessage]:
    """A worker's conversation: the big context first, then `steps` tool calls and results."""
    messages = [ChatMessage(role="user", content="Context:\n" + CODE)]
    for i in range(steps):
        call = ToolCall(id=f"call_{i}", name="tool_0", arguments=f'{{"path": "f{i}.py"}}')
        messages.append(ChatMessage(role="assistant", content="", tool_calls=[call]))
        messages.append(ChatMessage(role="tool", content=f"result {i}\n" + "x = 1\n" * 30, tool_call_id=f"call_{i}"))
    return messages


def request(steps: int, **kwargs: Any) -> ModelRequest:
    return ModelRequest(system="You are the worker. " * 20, messages=history(steps), tools=TOOLS, **kwargs)


def marks(body: dict[str, Any]) -> list[str]:
    """Where a recorded Messages API body carries `cache_control`."""
    found = [f"tools[{i}]" for i, t in enumerate(body.get("tools", [])) if "cache_control" in t]
    system = body.get("system")
    if isinstance(system, list):
        found += [f"system[{i}]" for i, b in enumerate(system) if "cache_control" in b]
    for m, message in enumerate(body["messages"]):
        found += [f"messages[{m}][{b}]" for b, block in enumerate(message["content"]) if "cache_control" in block]
    return found


# -- Anthropic: breakpoints and the simulated cache ------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_anthropic_marks_tools_system_first_and_latest_turn_and_reads_the_prefix(
    streamed: bool, caching: LLMServer, clock: Clock
) -> None:
    provider = make_provider(spec_for("anthropic", caching))
    usages: list[Usage] = []
    for step in range(3):
        caching.push(HTTPReply(text="ok", output_tokens=5))
        req = request(step)
        if streamed:
            reply = None
            async for item in provider.stream(req, ticket_id="T1"):
                reply = item
            assert reply is not None and not isinstance(reply, str)
        else:
            reply = await provider.complete(req, ticket_id="T1")
        usages.append(reply.usage)
        clock.now += 20  # a person's decision between steps
    await provider.aclose()

    bodies = [r.body for r in caching.requests]
    assert marks(bodies[0]) == ["tools[2]", "system[0]", "messages[0][0]"]  # first == latest
    last = len(bodies[2]["messages"]) - 1
    assert marks(bodies[2]) == ["tools[2]", "system[0]", "messages[0][0]", f"messages[{last}][0]"]
    assert all(len(marks(b)) <= 4 for b in bodies)
    assert bodies[2]["system"][0]["cache_control"] == EPHEMERAL

    first, second, third = usages
    # Step 1 writes the whole marked prefix; each later step reads what the one before wrote
    # and writes only what it appended.
    assert first.cache_read_tokens == 0 and first.cache_write_tokens > 1024
    assert second.cache_read_tokens == first.cache_write_tokens
    assert 0 < second.cache_write_tokens < first.cache_write_tokens
    assert third.cache_read_tokens == second.cache_read_tokens + second.cache_write_tokens
    for usage, recorded in zip(usages, caching.requests):
        assert recorded.cache is not None
        assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
            recorded.cache.input_tokens,
            recorded.cache.cache_read_tokens,
            recorded.cache.cache_write_tokens,
        )


async def test_anthropic_cache_expires_after_five_minutes(caching: LLMServer, clock: Clock) -> None:
    provider = make_provider(spec_for("anthropic", caching))
    for _ in range(3):
        caching.push(HTTPReply(text="ok"))
    await provider.complete(request(1))
    clock.now += 299  # a read refreshes the lifetime
    hit = await provider.complete(request(1))
    clock.now += 299
    again = await provider.complete(request(1))
    clock.now += 301
    caching.push(HTTPReply(text="ok"))
    cold = await provider.complete(request(1))
    await provider.aclose()
    assert hit.usage.cache_read_tokens > 1024 and hit.usage.cache_write_tokens == 0
    assert again.usage.cache_read_tokens == hit.usage.cache_read_tokens
    assert cold.usage.cache_read_tokens == 0 and cold.usage.cache_write_tokens > 1024


async def test_anthropic_without_breakpoints_or_below_minimum_caches_nothing(caching: LLMServer) -> None:
    provider = make_provider(spec_for("anthropic", caching))
    short = ModelRequest(system="Short.", messages=[ChatMessage(role="user", content="hi")], tools=TOOLS)
    for req in (request(2, prompt_cache=False), request(2, prompt_cache=False), short, short):
        caching.push(HTTPReply(text="ok"))
        reply = await provider.complete(req)
        assert (reply.usage.cache_read_tokens, reply.usage.cache_write_tokens) == (0, 0)
        assert reply.usage.input_tokens > 0
    await provider.aclose()
    assert marks(caching.requests[0].body) == []
    assert isinstance(caching.requests[0].body["system"], str)
    assert len(marks(caching.requests[2].body)) == 3  # marked, but under 1,024 tokens


async def test_more_than_four_breakpoints_is_refused_as_the_api_does(caching: LLMServer) -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": str(i), "cache_control": EPHEMERAL} for i in range(5)]}
        ],
    }
    with pytest.raises(CacheRuleError, match="maximum of 4"):
        AnthropicCache().account(body)
    import httpx2

    caching.push(HTTPReply(text="ok"))
    response = httpx2.post(f"{caching.base_url}/v1/messages", json=body, headers={"x-api-key": KEY})
    assert response.status_code == 400 and "maximum of 4" in response.text


def test_anthropic_lookback_is_twenty_blocks(clock: Clock) -> None:
    cache = AnthropicCache(clock, min_tokens=10)

    def body(n: int) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": f"block {i} " * 10} for i in range(n)]
        blocks[-1] = {**blocks[-1], "cache_control": EPHEMERAL}
        return {"model": "m", "messages": [{"role": "user", "content": blocks}]}

    written = cache.account(body(5)).cache_write_tokens
    assert cache.account(body(24)).cache_read_tokens == written  # 19 blocks back: found
    assert cache.account(body(50)).cache_read_tokens == 0  # 26 blocks past the nearest entry
    assert AnthropicCache(clock, min_tokens=10).account(body(5)).cache_read_tokens == 0
    fresh = AnthropicCache(clock, min_tokens=10)
    fresh.account(body(5))
    assert fresh.account(body(26)).cache_read_tokens == 0  # 21 blocks back: missed


# -- OpenAI-compatible: automatic prefix cache -----------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_openai_prefix_cache_and_usage(streamed: bool, caching: LLMServer) -> None:
    provider = make_provider(spec_for("openai", caching))
    usages = []
    for step in range(3):
        caching.push(HTTPReply(text="ok"))
        if streamed:
            reply: Any = None
            async for item in provider.stream(request(step)):
                reply = item
        else:
            reply = await provider.complete(request(step))
        usages.append(reply.usage)
    changed = ModelRequest(system="You are the lead. " * 20, messages=history(2), tools=TOOLS)
    caching.push(HTTPReply(text="ok"))
    moved = await provider.complete(changed)
    await provider.aclose()

    assert usages[0].cache_read_tokens == 0
    for before, usage, recorded in zip(usages, usages[1:], caching.requests[1:]):
        cached = usage.cache_read_tokens
        assert cached >= 1024 and (cached - 1024) % 128 == 0
        prompt = before.input_tokens + before.cache_read_tokens
        assert prompt - 128 < cached <= prompt  # the whole previous prompt, in 128-token steps
        assert recorded.cache is not None and recorded.cache.cache_read_tokens == cached
    # Byte-stable: the same request twice sends the same bytes; a changed system text is a miss.
    assert caching.requests[1].raw[:2000] == caching.requests[2].raw[:2000]
    assert moved.usage.cache_read_tokens == 0


def test_openai_cache_minimum_and_lifetime(clock: Clock) -> None:
    cache = OpenAIPrefixCache(clock)
    small = {"model": "m", "messages": [{"role": "user", "content": "hello " * 100}]}
    cache.account(small)
    assert cache.account(small).cache_read_tokens == 0  # under 1,024 tokens
    big = {"model": "m", "messages": [{"role": "user", "content": CODE}]}
    cache.account(big)
    assert cache.account(big).cache_read_tokens >= 1024
    clock.now += 301
    assert cache.account(big).cache_read_tokens == 0


# -- the offline scripted provider -------------------------------------------------------------


def scripted(tier: Tier, replies: int) -> ScriptedProvider:
    scenario = Scenario(
        planner=[ScriptedReply(text="ok")] * replies,
        worker={"T1": [ScriptedReply(text="ok")] * replies},
    )
    spec = ModelSpec(tier=tier, provider=ProviderSpec(name="scripted", kind="scripted"), model="")
    return ScriptedProvider(spec, scenario, "test")


@pytest.mark.parametrize("tier", [Tier.WORKER, Tier.PLANNER], ids=["deepseek-like", "anthropic-like"])
async def test_scripted_provider_reports_cache_reads_of_the_previous_prefix(tier: Tier) -> None:
    provider = scripted(tier, 2)
    first = await provider.complete(request(1), ticket_id="T1")
    second = await provider.complete(request(2), ticket_id="T1")
    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens > 1024
    total = second.usage.input_tokens + second.usage.cache_read_tokens + second.usage.cache_write_tokens
    assert total > second.usage.cache_read_tokens
    if tier is Tier.PLANNER:
        assert first.usage.cache_write_tokens > 1024  # Anthropic writes what it marks
    else:
        assert first.usage.cache_write_tokens == 0 == second.usage.cache_write_tokens


# -- prices ------------------------------------------------------------------------------------


def test_cache_reads_and_writes_are_priced_per_model() -> None:
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=2_000_000, cache_write_tokens=1_000_000, output_tokens=100_000)
    sonnet = DEFAULT_PRICES["anthropic:claude-sonnet-4-5"]
    assert cost_of(usage, sonnet) == pytest.approx(3.0 + 2 * 0.30 + 3.75 + 1.5)
    deepseek = DEFAULT_PRICES["deepseek:deepseek-chat"]
    assert deepseek.read_price() == pytest.approx(deepseek.input * 0.1)
    # Unknown cache prices are charged at the input price: never an underestimate.
    assert cost_of(usage, PriceSpec(input=1.0, output=2.0)) == pytest.approx(1.0 + 2.0 + 1.0 + 0.2)
    event = UsageLedger().record(Tier.LEAD, "anthropic:claude-sonnet-4-5", None, usage, sonnet)
    assert event.usage.cost_usd == pytest.approx(8.85)


def test_prices_table_sets_cache_prices_and_doctor_shows_them(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "agents.toml").write_text(
        '[prices."deepseek:deepseek-chat"]\ninput = 0.5\noutput = 1.0\ncache_read = 0.05\n'
    )
    env = {"SLOP_CONFIG_DIR": str(config_dir), "PATH": os.environ.get("PATH", "")}
    config = load_config(tmp_path, env=env, read_credentials=False)
    assert config.prices["deepseek:deepseek-chat"] == PriceSpec(input=0.5, output=1.0, cache_read=0.05)
    assert config.prices["anthropic:claude-sonnet-4-5"].cache_write == 3.75

    run_env = {**env, "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "slop_tui", "doctor", "--repo", str(tmp_path)],
        capture_output=True, text=True, env=run_env, timeout=60, cwd=tmp_path,
    )
    out = result.stdout
    assert "prices (USD per million tokens: input / cache write / cache read / output)" in out
    assert "deepseek:deepseek-chat               0.5 / 0.5 / 0.05 / 1  (your [prices])" in out
    assert "anthropic:claude-sonnet-4-5          3 / 3.75 / 0.3 / 15  (built-in, " in out


# -- old records -------------------------------------------------------------------------------


def test_old_usage_and_prices_decode_with_defaults() -> None:
    old = msgspec.json.decode(b'{"input_tokens": 5, "output_tokens": 2, "cost_usd": null}', type=Usage)
    assert (old.cache_read_tokens, old.cache_write_tokens) == (0, 0)
    event = msgspec.json.decode(
        b'{"kind": "usage", "ticket_id": "T1", "tier": "worker", "model": "x", "usage": {"input_tokens": 1}}',
        type=UsageUpdated,
    )
    assert event.usage.cache_read_tokens == 0
    assert msgspec.json.decode(b'{"input": 1.0, "output": 2.0}', type=PriceSpec).read_price() == 1.0


async def test_provider_error_for_refused_breakpoints_is_one_line(caching: LLMServer) -> None:
    provider = make_provider(spec_for("anthropic", caching, max_retries=0))
    caching.push(HTTPReply(text="ok"))
    caching.fail_next(400, message="A maximum of 4 blocks with cache_control may be provided. Found 5.")
    with pytest.raises(ProviderError) as caught:
        await provider.complete(request(1))
    await provider.aclose()
    assert "maximum of 4" in str(caught.value) and "\n" not in str(caught.value)
