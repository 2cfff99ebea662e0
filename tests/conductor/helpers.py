"""Shared pieces of the conductor tests: scripted providers built in code, a recorder, plans."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from slop_tui.config import ModelSpec, ProviderSpec
from slop_tui.models import AnyEvent, Archetype, Ticket, Tier, Track
from slop_tui.providers.base import ModelReply, ModelRequest, StreamItem
from slop_tui.providers.scripted import Scenario, ScriptedProvider, ScriptedReply, ScriptedToolCall


def scripted_spec(tier: Tier) -> ModelSpec:
    return ModelSpec(tier=tier, provider=ProviderSpec(name="scripted", kind="scripted"), model="")


class Recording:
    """A scripted provider that keeps every request it was sent (a test looks at them)."""

    def __init__(self, tier: Tier, scenario: Scenario) -> None:
        self.inner = ScriptedProvider(scripted_spec(tier), scenario, "<test>")
        self.spec = self.inner.spec
        self.label = self.inner.label
        self.requests: list[tuple[str | None, ModelRequest]] = []

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        self.requests.append((ticket_id, request))
        return await self.inner.complete(request, ticket_id=ticket_id)

    async def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        self.requests.append((ticket_id, request))
        async for item in self.inner.stream(request, ticket_id=ticket_id):
            yield item

    async def aclose(self) -> None:
        return None


def reply(data: Any = None, *, text: str | None = None) -> ScriptedReply:
    return ScriptedReply(text=text if text is not None else json.dumps(data))


def call(tool: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(tool=tool, arguments=arguments)


def tool_reply(tool: str, latency_s: float = 0.0, **arguments: Any) -> ScriptedReply:
    return ScriptedReply(tool_calls=[call(tool, **arguments)], latency_s=latency_s)


def ticket(
    tid: str,
    deps: list[str] | None = None,
    files: list[str] | None = None,
    archetype: Archetype = Archetype.IMPLEMENTER,
) -> Ticket:
    return Ticket(
        id=tid,
        title=f"ticket {tid}",
        archetype=archetype,
        depends_on=list(deps or []),
        target_files=list(files if files is not None else [f"{tid}.py"]),
    )


def track(*tickets: Ticket, tid: str = "TR") -> Track:
    return Track(id=tid, title="track", tickets=list(tickets))


class EventSink:
    """An `emit` that numbers and keeps events (the dispatcher's tests need no store)."""

    def __init__(self) -> None:
        self.events: list[AnyEvent] = []

    async def __call__(self, event: AnyEvent) -> AnyEvent:
        event.seq = len(self.events) + 1
        self.events.append(event)
        return event
