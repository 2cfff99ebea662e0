"""Shared pieces of the worker and QA tests: repositories on disk, scripted models, deps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from slop_tui.agents.qa import QaTranslator
from slop_tui.agents.worker import WorkerDeps
from slop_tui.conductor.bus import EventBus
from slop_tui.config import ModelSpec, ProviderSpec, RunSettings
from slop_tui.memory.file_cache import FileCache
from slop_tui.models import AnyEvent, Secret, Ticket, TicketStateChanged, Tier
from slop_tui.providers import ModelReply, ModelRequest, Provider, UsageLedger, make_provider
from slop_tui.providers.base import StreamItem
from slop_tui.providers.scripted import Scenario, ScriptedProvider, ScriptedReply, ScriptedToolCall
from slop_tui.tools.clutch import ApproveAll, Clutch
from slop_tui.tools.executor import ToolExecutor


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def call(tool: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(tool=tool, arguments=arguments)


def step(*calls: ScriptedToolCall, text: str = "") -> ScriptedReply:
    return ScriptedReply(text=text, tool_calls=list(calls))


def scripted(tier: Tier, replies: dict[str, list[ScriptedReply]]) -> ScriptedProvider:
    spec = ModelSpec(tier=tier, provider=ProviderSpec(name="scripted", kind="scripted"), model="")
    if tier is Tier.WORKER:
        scenario = Scenario(worker=replies)
    else:
        scenario = Scenario(default_cheap=replies)
    return ScriptedProvider(spec, scenario, "<test>")


def http_spec(base_url: str, tier: Tier = Tier.WORKER, model: str = "deepseek-chat") -> ModelSpec:
    """A DeepSeek-like OpenAI-compatible model served by the scripted HTTP server."""
    return ModelSpec(
        tier=tier,
        provider=ProviderSpec(name="deepseek", kind="openai", base_url=f"{base_url}/v1", max_retries=0),
        model=model,
        api_key=Secret("sk-test-key-123456"),
    )


def http_provider(base_url: str, tier: Tier = Tier.WORKER) -> Provider:
    return make_provider(http_spec(base_url, tier))


class Events:
    """A real bus without a store, and everything it published, in order."""

    def __init__(self) -> None:
        self.bus = EventBus(None)
        self._queue = self.bus.subscribe()
        self.seen: list[AnyEvent] = []

    async def emit(self, event: AnyEvent) -> AnyEvent:
        return await self.bus.publish(event)

    def all(self) -> list[AnyEvent]:
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is not None:
                self.seen.append(event)
        return self.seen

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.all() if isinstance(e, kind)]

    def moves(self) -> list[tuple[str, str]]:
        return [(e.old.value, e.new.value) for e in self.of(TicketStateChanged)]


def make_deps(
    repo: Path,
    provider: Provider,
    events: Events,
    *,
    qa_provider: Provider | None = None,
    clutch: Clutch | None = None,
    settings: RunSettings | None = None,
) -> WorkerDeps:
    ledger = UsageLedger()
    return WorkerDeps(
        repo_root=repo,
        provider=provider,
        qa=QaTranslator(qa_provider, ledger=ledger, emit=events.emit),
        executor=ToolExecutor(repo, command_timeout_s=60),
        clutch=clutch if clutch is not None else ApproveAll(),
        emit=events.emit,
        ledger=ledger,
        settings=settings if settings is not None else RunSettings(),
        file_cache=FileCache(),
    )


def ticket(tid: str = "t1", targets: Iterable[str] = ("mod.py",), description: str = "") -> Ticket:
    return Ticket(id=tid, title=f"ticket {tid}", description=description, target_files=list(targets))


class Recording:
    """A provider wrapper that keeps every request (to assert what a model was sent)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.label = inner.label
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        self.requests.append(request)
        return await self.inner.complete(request, ticket_id=ticket_id)

    def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        self.requests.append(request)
        return self.inner.stream(request, ticket_id=ticket_id)

    async def aclose(self) -> None:
        await self.inner.aclose()
