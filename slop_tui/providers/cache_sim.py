"""Simulated prompt caches, by the vendors' documented rules, over the JSON body a request sends.

Used by the scripted HTTP server (`testing/llm_server.py`) and the offline scripted provider, so
tests, `slop demo` and the ticket-cost benchmark see the usage a real endpoint would report.
Tokens are `tokens.estimate_tokens` of each block's text; time comes from an injectable clock, so
a benchmark can model minutes of human decisions without sleeping.

Anthropic, explicit breakpoints (https://platform.claude.com/docs/en/build-with-claude/prompt-caching):
- the prefix is rendered tools, then system, then messages; a block marked `cache_control`
  caches the whole prefix up to and including it; at most 4 marked blocks (more is a 400);
- a prefix shorter than the model's minimum cacheable length (1,024 tokens for Sonnet 4.x) is
  not cached, silently (both counters stay 0);
- at each breakpoint the API looks for a hit at that block boundary and at up to 20 boundaries
  before it; the longest hit is read (`cache_read_input_tokens`, billed 0.1 x input) and its
  entry's lifetime is refreshed;
- the prefix from the hit up to the last cacheable breakpoint is written
  (`cache_creation_input_tokens`, billed 1.25 x input for the default 5-minute lifetime);
- `input_tokens` is what follows the last breakpoint (or everything not read or written);
- an entry lives 5 minutes after it was last written or read.

OpenAI-compatible, automatic (https://platform.openai.com/docs/guides/prompt-caching):
- no markers: any prompt of 1,024 tokens or more is cached; a later prompt that starts with the
  same text reads the longest cached prefix, counted in 128-token steps from 1,024
  (`usage.prompt_tokens_details.cached_tokens`, part of `prompt_tokens`);
- the prefix must match exactly: tools, system text and messages in the same order, byte for byte;
- entries are evicted after 5-10 minutes of inactivity: 5 here.
DeepSeek's context cache (https://api-docs.deepseek.com/guides/kv_cache) works alike and reports
`prompt_cache_hit_tokens`; it is billed at 0.1 x a miss.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import msgspec

from slop_tui.tokens import estimate_tokens

Clock = Callable[[], float]

ANTHROPIC_MAX_BREAKPOINTS = 4
ANTHROPIC_MIN_TOKENS = 1024  # Claude Sonnet 4.x; Haiku 4.5 and Opus 4.5 need 4,096
ANTHROPIC_LOOKBACK_BLOCKS = 20
OPENAI_MIN_TOKENS = 1024
OPENAI_STEP_TOKENS = 128
CACHE_TTL_S = 300.0


class CacheUsage(msgspec.Struct, kw_only=True, frozen=True):
    """How one prompt splits: uncached input, tokens read from and written to the cache."""

    input_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


class CacheRuleError(ValueError):
    """The request breaks a caching rule the real API answers 400 to (too many breakpoints)."""


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        if isinstance(block.get("text"), str):
            return str(block["text"])
        content = block.get("content")
        if isinstance(content, str):
            return content
        rest = {k: v for k, v in block.items() if k != "cache_control"}
        return json.dumps(rest, sort_keys=True, ensure_ascii=False)
    return json.dumps(block, sort_keys=True, ensure_ascii=False)


def _canonical(role: str, block: Any) -> bytes:
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return json.dumps([role, block], sort_keys=True, ensure_ascii=False).encode()


class _Expiring:
    """Keys with a deadline; expired ones are dropped on every look."""

    def __init__(self, clock: Clock, ttl_s: float, limit: int = 4096) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self.limit = limit
        self._until: OrderedDict[str, float] = OrderedDict()

    def _purge(self, now: float) -> None:
        for key in [k for k, until in self._until.items() if until <= now]:
            del self._until[key]

    def __contains__(self, key: str) -> bool:
        now = self.clock()
        self._purge(now)
        return key in self._until

    def touch(self, key: str) -> None:
        self._until[key] = self.clock() + self.ttl_s
        self._until.move_to_end(key)
        while len(self._until) > self.limit:
            self._until.popitem(last=False)

    def keys(self) -> list[str]:
        self._purge(self.clock())
        return list(self._until)


class AnthropicCache:
    """Anthropic's explicit-breakpoint cache over Messages API bodies (rules in the docstring)."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        min_tokens: int = ANTHROPIC_MIN_TOKENS,
        ttl_s: float = CACHE_TTL_S,
        lookback: int = ANTHROPIC_LOOKBACK_BLOCKS,
    ) -> None:
        self.min_tokens = min_tokens
        self.lookback = lookback
        self._entries = _Expiring(clock or time.monotonic, ttl_s)

    @staticmethod
    def blocks(body: dict[str, Any]) -> list[tuple[str, Any]]:
        """The body's blocks in cache order (tools, system, messages), each with its role."""
        found: list[tuple[str, Any]] = [("tool", tool) for tool in body.get("tools") or []]
        system = body.get("system")
        if isinstance(system, str) and system:
            found.append(("system", {"type": "text", "text": system}))
        elif isinstance(system, list):
            found.extend(("system", block) for block in system)
        for message in body.get("messages") or []:
            role = str(message.get("role", "user"))
            content = message.get("content")
            if isinstance(content, str):
                found.append((role, {"type": "text", "text": content}))
            else:
                found.extend((role, block) for block in content or [])
        return found

    def account(self, body: dict[str, Any]) -> CacheUsage:
        """Split one request's prompt into input, cache read and cache write, and update the
        cache as the API would; `CacheRuleError` when the API would refuse the request."""
        blocks = self.blocks(body)
        marks = [
            i
            for i, (_, block) in enumerate(blocks)
            if isinstance(block, dict) and block.get("cache_control")
        ]
        if len(marks) > ANTHROPIC_MAX_BREAKPOINTS:
            raise CacheRuleError(
                f"A maximum of {ANTHROPIC_MAX_BREAKPOINTS} blocks with cache_control may be "
                f"provided. Found {len(marks)}."
            )
        digest = hashlib.sha256(str(body.get("model", "")).encode())
        hashes: list[str] = []
        totals: list[int] = []
        total = 0
        for role, block in blocks:
            digest.update(_canonical(role, block))
            hashes.append(digest.copy().hexdigest())
            total += estimate_tokens(_block_text(block))
            totals.append(total)
        read_end = -1
        for mark in marks:
            for j in range(mark, max(mark - self.lookback, -1), -1):
                if j <= read_end:
                    break
                if hashes[j] in self._entries:
                    read_end = j
                    break
        if read_end >= 0:
            self._entries.touch(hashes[read_end])
        write_end = read_end
        for mark in marks:
            if mark > read_end and totals[mark] >= self.min_tokens:
                self._entries.touch(hashes[mark])
                write_end = mark
        read = totals[read_end] if read_end >= 0 else 0
        written = totals[write_end] - read if write_end > read_end else 0
        return CacheUsage(
            input_tokens=total - read - written, cache_read_tokens=read, cache_write_tokens=written
        )


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix (binary search over C-level slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def chat_prompt_text(body: dict[str, Any]) -> str:
    """A chat completion body's prompt as the text a prefix cache sees: tools, then messages."""
    parts = [json.dumps(body.get("tools") or [], ensure_ascii=False)]
    for message in body.get("messages") or []:
        parts.append(json.dumps(message, ensure_ascii=False))
    return "\n".join(parts)


class OpenAIPrefixCache:
    """OpenAI's automatic prefix cache over chat completion bodies (rules in the docstring)."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        min_tokens: int = OPENAI_MIN_TOKENS,
        step: int = OPENAI_STEP_TOKENS,
        ttl_s: float = CACHE_TTL_S,
        limit: int = 64,
    ) -> None:
        self.min_tokens = min_tokens
        self.step = step
        self._entries = _Expiring(clock or time.monotonic, ttl_s, limit)
        self._texts: dict[str, str] = {}

    def account(self, body: dict[str, Any]) -> CacheUsage:
        text = f"{body.get('model', '')}\n{chat_prompt_text(body)}"
        total = estimate_tokens(text)
        best, best_key = 0, None
        live = self._entries.keys()
        self._texts = {key: self._texts[key] for key in live if key in self._texts}
        for key in live:
            shared = _common_prefix(text, self._texts[key])
            if shared > best:
                best, best_key = shared, key
        cached = 0
        if best_key is not None:
            tokens = min(estimate_tokens(text[:best]), total)
            if tokens >= self.min_tokens:
                cached = tokens // self.step * self.step
                self._entries.touch(best_key)
        if total >= self.min_tokens:
            key = hashlib.sha256(text.encode()).hexdigest()
            self._texts[key] = text
            self._entries.touch(key)
        return CacheUsage(input_tokens=total - cached, cache_read_tokens=cached)
