"""The offline provider: plays a scenario file instead of calling a model.

A scenario holds, for the planner and the lead, an ordered list of replies; for the worker and
Tier 4 (`default_cheap`), replies keyed by ticket id, played in order within each ticket, so
parallel workers and a resumed run each get their own. Cursors live in the provider object:
make one provider per tier per run. It powers `slop demo` and the tests, and its label is
"scripted (offline)" wherever its output is shown.

A scripted team answers the person too:
- a reply's `if_rejected` is played instead of it when the person rejected the call the model
  made just before (the scripted worker must not go on as if its `pytest` had run);
- `sent_back.planner` replies answer a plan sent back at review (the planner's request carries
  the reviewer's comment; `{{reviewer_comment}}` in their text becomes it, JSON-escaped), and
  `sent_back.lead` replies follow once the lead's own are used up (the lead is asked again
  only for a plan made again). Both are played in a cycle, so any number of send-backs works.

A reply without scripted usage reports what the tier's default model would: the prompt's
estimated tokens, split by that model's prompt cache (`cache_sim`: Anthropic's breakpoints as
the Anthropic adapter marks them, or the automatic prefix cache of OpenAI and DeepSeek), so
cache reads of the previous request's prefix show in a scripted run as they would in a real one.
Unless `[prices]` names the scripted model, a reply is priced as that default model too
(`priced_as`), so a demo shows what the run would cost rather than no cost at all.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from slop_tui.config import DEFAULT_MODELS, DEFAULT_PRICES, ModelSpec
from slop_tui.errors import SlopError
from slop_tui.models import Tier, ToolCall, Usage
from slop_tui.tokens import estimate_tokens
from slop_tui.providers.base import (
    SCRIPTED_LABEL,
    STOP_END_TURN,
    STOP_TOOL_USE,
    ModelReply,
    ModelRequest,
    ProviderError,
    StreamItem,
    ToolCallPiece,
    clean_reply,
    clean_text,
    request_text,
)
from slop_tui.providers.cache_sim import AnthropicCache, OpenAIPrefixCache
from slop_tui.providers.usage import priced


class ScriptedToolCall(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One tool call. `arguments` is the usual form; `raw_arguments` is sent verbatim, so a
    scenario can play a model that sends a broken payload."""

    tool: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    raw_arguments: str | None = None
    id: str | None = None


class ScriptedReply(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: str = ""
    tool_calls: list[ScriptedToolCall] = msgspec.field(default_factory=list)
    latency_s: float = 0.0
    usage: Usage | None = None  # None: estimated from text lengths (a token per 4 chars)
    if_rejected: ScriptedReply | None = None  # played instead when the call before was rejected


class SentBack(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The planner's and the lead's replies for a plan sent back at review."""

    planner: list[ScriptedReply] = msgspec.field(default_factory=list)
    lead: list[ScriptedReply] = msgspec.field(default_factory=list)


class Scenario(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    planner: list[ScriptedReply] = msgspec.field(default_factory=list)
    lead: list[ScriptedReply] = msgspec.field(default_factory=list)
    worker: dict[str, list[ScriptedReply]] = msgspec.field(default_factory=dict)
    default_cheap: dict[str, list[ScriptedReply]] = msgspec.field(default_factory=dict)
    sent_back: SentBack = msgspec.field(default_factory=SentBack)


# The words agents/planner.py puts before a reviewer's comment (a test sends a plan back for
# real, so a change there is caught), and the worker's words for a rejected call.
_SENT_BACK = "A reviewer sent the previous plan back with this comment:\n"
_REJECTED = "Rejected by the person:"
_COMMENT_SLOT = "{{reviewer_comment}}"
ARGUMENT_PIECE = 64  # characters of a tool call's arguments per streamed piece


def reviewer_comment(request: ModelRequest) -> str | None:
    """The comment a plan was sent back with, if this (planner) request carries one."""
    for message in reversed(request.messages):
        if message.role == "user" and _SENT_BACK in message.content:
            return message.content.split(_SENT_BACK, 1)[1].strip()
    return None


def last_call_rejected(request: ModelRequest) -> bool:
    """Whether the person rejected a call of the model's last turn."""
    for message in reversed(request.messages):
        if message.role == "assistant":
            return False
        if message.role == "tool" and message.content.startswith(_REJECTED):
            return True
    return False


_cache: dict[tuple[Path, int, int], Scenario] = {}
_cache_lock = threading.Lock()


def _decode(path: Path, data: bytes) -> Scenario:
    if path.suffix.lower() == ".toml":
        return msgspec.toml.decode(data, type=Scenario)
    return msgspec.json.decode(data, type=Scenario)


def load_scenario(path: str | Path) -> Scenario:
    """Parse a scenario file (`.toml`, else JSON); cached per path while it is unchanged.

    A missing or bad file is a `SlopError` naming the file and, for a bad value, its path in
    the document (msgspec's `$.worker.T1[0].latency_s`).
    """
    file = Path(path).expanduser()
    try:
        stat = file.stat()
        key = (file.resolve(), stat.st_size, stat.st_mtime_ns)
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        data = file.read_bytes()
    except OSError as exc:
        raise SlopError(f"scripted scenario {file}: cannot read ({exc.strerror or exc})") from None
    try:
        scenario = _decode(file, data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SlopError(f"scripted scenario {file}: {exc}") from None
    problem = _check(scenario)
    if problem:
        raise SlopError(f"scripted scenario {file}: {problem}")
    with _cache_lock:
        _cache[key] = scenario
    return scenario


def _check(scenario: Scenario) -> str | None:
    """Values msgspec's types cannot express: latencies and raw payload choice."""
    groups: list[tuple[str, list[ScriptedReply]]] = [
        ("$.planner", scenario.planner),
        ("$.lead", scenario.lead),
        ("$.sent_back.planner", scenario.sent_back.planner),
        ("$.sent_back.lead", scenario.sent_back.lead),
    ]
    for tier, table in (("worker", scenario.worker), ("default_cheap", scenario.default_cheap)):
        groups.extend((f"$.{tier}.{ticket}", replies) for ticket, replies in table.items())
    for where, replies in groups:
        for i, reply in enumerate(replies):
            problem = _check_reply(reply, f"{where}[{i}]")
            if problem:
                return problem
    return None


def _check_reply(reply: ScriptedReply, where: str) -> str | None:
    if reply.latency_s < 0:
        return f"negative latency_s - at `{where}.latency_s`"
    for j, call in enumerate(reply.tool_calls):
        if call.raw_arguments is not None and call.arguments:
            return f"give arguments or raw_arguments, not both - at `{where}.tool_calls[{j}]`"
    if reply.if_rejected is not None:
        return _check_reply(reply.if_rejected, f"{where}.if_rejected")
    return None


_ids = itertools.count(1)


def _tool_call(call: ScriptedToolCall) -> ToolCall:
    arguments = (
        call.raw_arguments
        if call.raw_arguments is not None
        else json.dumps(call.arguments, ensure_ascii=False)
    )
    return ToolCall(id=call.id or f"scripted_{next(_ids)}", name=call.tool, arguments=arguments)


def priced_as(tier: Tier) -> str | None:
    """The model a scripted `tier` is priced as when `[prices]` does not price it."""
    model = DEFAULT_MODELS.get(tier.value, "")
    return model if model in DEFAULT_PRICES else None


class ScriptedProvider:
    """Plays `scenario` for `spec.tier`; `spec.model` names the scenario file."""

    def __init__(self, spec: ModelSpec, scenario: Scenario, source: str) -> None:
        self.spec = spec
        self.label = SCRIPTED_LABEL
        self.scenario = scenario
        self.source = source
        self._cursors: dict[str | None, int] = {}
        self._sent_back = 0  # replies played from `sent_back`, for the cycle
        stands_for = DEFAULT_MODELS.get(spec.tier.value, "")
        self.stands_for = stands_for
        self.priced_as: str | None = None  # the model whose prices this one borrows, if any
        if spec.price is None and stands_for in DEFAULT_PRICES:
            # The ledger prices calls from `spec.price`: priced here, the whole run is.
            self.spec = msgspec.structs.replace(spec, price=DEFAULT_PRICES[stands_for])
            self.priced_as = stands_for
        self._anthropic = AnthropicCache() if stands_for.startswith("anthropic:") else None
        self._prefix = None if self._anthropic is not None else OpenAIPrefixCache()

    def _split(self, request: ModelRequest, total: int) -> Usage:
        """`total` prompt tokens split as the stood-for model's cache would report them."""
        from slop_tui.providers.anthropic import cache_breakpoints, to_anthropic_messages
        from slop_tui.providers.openai_compat import to_openai_messages

        tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters}
                 for t in request.tools]
        if self._anthropic is not None:
            body: dict[str, Any] = {
                "model": self.stands_for,
                "tools": tools,
                "system": request.system,
                "messages": to_anthropic_messages(request.messages),
            }
            split = self._anthropic.account(
                cache_breakpoints(body) if request.prompt_cache else body
            )
        else:
            assert self._prefix is not None
            body = {
                "model": self.stands_for,
                "tools": tools,
                "messages": to_openai_messages(request.system, request.messages),
            }
            split = self._prefix.account(body)
        # The simulator counts the wire body (tool JSON, escapes); the prompt's size stays the
        # estimate this provider always reported, split in the simulator's proportions.
        scale = total / split.prompt_tokens if split.prompt_tokens else 0.0
        read = min(round(split.cache_read_tokens * scale), total)
        written = min(round(split.cache_write_tokens * scale), total - read)
        return Usage(
            input_tokens=total - read - written, cache_read_tokens=read, cache_write_tokens=written
        )

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ScriptedProvider:
        path = resolve_scenario_path(spec.model)
        return cls(spec, load_scenario(path), str(path))

    def _script(self, ticket_id: str | None) -> list[ScriptedReply]:
        tier = self.spec.tier
        if tier is Tier.PLANNER:
            return self.scenario.planner
        if tier is Tier.LEAD:
            return self.scenario.lead
        table = self.scenario.worker if tier is Tier.WORKER else self.scenario.default_cheap
        if ticket_id is None:
            raise ProviderError(
                None,
                f"scripted scenario {self.source}: {tier.value} replies are keyed by ticket, "
                "and the call named none",
                provider="scripted",
            )
        return table.get(ticket_id, [])

    def _next(self, request: ModelRequest, ticket_id: str | None) -> ScriptedReply:
        """Take the next reply; the cursor moves before any await, so concurrent calls for
        one ticket never get the same reply."""
        keyed = self.spec.tier in (Tier.WORKER, Tier.DEFAULT_CHEAP)
        script = self._script(ticket_id)
        cursor_key = ticket_id if keyed else None
        position = self._cursors.get(cursor_key, 0)
        again = self._sent_back_reply(request, exhausted=position >= len(script))
        if again is not None:
            return again
        if position >= len(script):
            where = f" for ticket {ticket_id}" if keyed else ""
            raise ProviderError(
                None,
                f"scripted scenario {self.source}: no more {self.spec.tier.value} replies{where}"
                f" (played {position})",
                provider="scripted",
            )
        self._cursors[cursor_key] = position + 1
        reply = script[position]
        if reply.if_rejected is not None and last_call_rejected(request):
            return reply.if_rejected
        return reply

    def _sent_back_reply(self, request: ModelRequest, *, exhausted: bool) -> ScriptedReply | None:
        """A reply for a plan sent back at review, or None when this call is not one."""
        tier = self.spec.tier
        if tier is Tier.PLANNER:
            comment = reviewer_comment(request)
            replies = self.scenario.sent_back.planner
            if comment is None or not replies:
                return None
        elif tier is Tier.LEAD and exhausted and self.scenario.sent_back.lead:
            comment, replies = None, self.scenario.sent_back.lead
        else:
            return None
        reply = replies[self._sent_back % len(replies)]
        self._sent_back += 1
        if comment is not None and _COMMENT_SLOT in reply.text:
            escaped = json.dumps(comment, ensure_ascii=False)[1:-1]
            reply = msgspec.structs.replace(reply, text=reply.text.replace(_COMMENT_SLOT, escaped))
        return reply

    def _reply(self, request: ModelRequest, scripted: ScriptedReply) -> ModelReply:
        calls = [_tool_call(call) for call in scripted.tool_calls]
        usage = scripted.usage
        if usage is None:
            produced = scripted.text + "".join(call.arguments for call in calls)
            split = self._split(request, estimate_tokens(request_text(request)))
            usage = msgspec.structs.replace(split, output_tokens=estimate_tokens(produced))
        return clean_reply(
            ModelReply(
                text=scripted.text,
                tool_calls=calls,
                stop_reason=STOP_TOOL_USE if calls else STOP_END_TURN,
                usage=priced(usage, self.spec.price),
                model=SCRIPTED_LABEL,
            )
        )

    def remaining(self, ticket_id: str | None = None) -> int:
        """Replies left for this tier (and ticket): lets a demo tell when the script is over."""
        keyed = self.spec.tier in (Tier.WORKER, Tier.DEFAULT_CHEAP)
        script = self._script(ticket_id)
        return len(script) - self._cursors.get(ticket_id if keyed else None, 0)

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        scripted = self._next(request, ticket_id)
        if scripted.latency_s:
            await asyncio.sleep(scripted.latency_s)
        return self._reply(request, scripted)

    async def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        scripted = self._next(request, ticket_id)
        reply = self._reply(request, scripted)
        pieces: list[str | ToolCallPiece] = [clean_text(p) for p in re.findall(r"\S+\s*|\s+", scripted.text)]
        for index, call in enumerate(reply.tool_calls):  # then each tool call, as a model writes it
            pieces.append(ToolCallPiece(index=index, name=call.name))
            pieces += [
                ToolCallPiece(index=index, name=call.name, arguments=call.arguments[at : at + ARGUMENT_PIECE])
                for at in range(0, len(call.arguments), ARGUMENT_PIECE)
            ]
        # The latency is spread over the pieces, so the UI shows a reply arriving as it would.
        pause = scripted.latency_s / max(len(pieces), 1)
        for piece in pieces:
            if pause:
                await asyncio.sleep(pause)
            yield piece
        if not pieces and scripted.latency_s:
            await asyncio.sleep(scripted.latency_s)
        yield reply

    async def aclose(self) -> None:
        return None


def resolve_scenario_path(model: str) -> Path:
    """`spec.model` as a path; empty means the built-in demo scenario shipped in the wheel."""
    if model:
        return Path(model).expanduser()
    demo = Path(__file__).resolve().parent.parent / "demo"
    for name in ("scenario.toml", "scenario.json"):
        if (demo / name).is_file():
            return demo / name
    raise SlopError(
        "scripted provider: no scenario file given (set the model to a scenario path) and no "
        f"built-in demo scenario in {demo}"
    )
