"""The context window guard: the real worker over the scripted HTTP server (the real OpenAI SDK),
and the planner, with a model whose window is small enough to matter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from slop_tui.agents import history
from slop_tui.agents.planner import PlanningFailed, plan_tracks
from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.config import DEFAULT_WINDOWS, load_config
from slop_tui.config.files import ConfigError
from slop_tui.models import TicketState, TicketStateChanged, Tier
from slop_tui.providers import ModelRequest, UsageLedger, make_provider
from slop_tui.providers.window import ContextWindowExceeded, TokenTally, check_window
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer

from tests.agents.helpers import Events, Recording, http_spec, make_deps, make_repo, ticket

BIG = "".join(f"value_{n} = {n}  # a line of the module as it was first written\n" for n in range(300))
BIG2 = BIG.replace("as it was first written", "as the worker rewrote it")


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer(api_key="sk-test-key-123456") as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_regular_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the guard may rewrite history here."""
    monkeypatch.setattr(history, "CHECKPOINT_EVERY_STEPS", 10**6)
    monkeypatch.setattr(history, "CHECKPOINT_TAIL_TOKENS", 10**9)


def tool(name: str, **arguments: Any) -> HTTPReply:
    return HTTPReply(tool_calls=[HTTPToolCall(name=name, arguments=arguments)])


def worker_bodies(server: LLMServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.body and r.body.get("tools")]


def windowed_provider(base_url: str, window: int) -> Any:
    spec = msgspec.structs.replace(http_spec(base_url), context_window=window)
    return make_provider(spec)


def blocked_reason(events: Events) -> str | None:
    moves = [e for e in events.of(TicketStateChanged) if e.new is TicketState.BLOCKED]
    return moves[-1].reason if moves else None


def script(server: LLMServer) -> None:
    server.push(tool("read_file", path="big.py", view="raw"))
    server.push(tool("write_file", path="big.py", content=BIG2))
    server.push(tool("finish", summary="rewritten"))


async def test_over_the_window_history_is_compacted_first_and_then_fits(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"big.py": BIG})
    script(server)
    tally = TokenTally()
    # A window the third request (the read, then the whole write, both whole) does not fit,
    # but does once the superseded read and the written content are stubs.
    recording = Recording(windowed_provider(server.base_url, 10**9))
    outcome = await run_worker_lifecycle(ticket(targets=["big.py"]), make_deps(repo, recording, Events()))
    assert outcome.state is TicketState.DONE
    needed = [tally.needed(r) for r in recording.requests]
    assert needed[2] > needed[1]  # the write's content rides along whole without a window
    window = needed[2] - 1

    server.requests.clear()
    repo = make_repo(tmp_path / "repo2", {"big.py": BIG})
    script(server)
    events = Events()
    outcome = await run_worker_lifecycle(
        ticket(targets=["big.py"]), make_deps(repo, windowed_provider(server.base_url, window), events)
    )
    assert outcome.state is TicketState.DONE, blocked_reason(events)
    assert (repo / "big.py").read_text() == BIG2
    bodies = worker_bodies(server)
    assert len(bodies) == 3
    first, second, third = (b["messages"] for b in bodies)
    assert third[: len(second)] != second  # history was rewritten for the third request only
    assert second[: len(first)] == first
    results = [m["content"] for m in third if m["role"] == "tool"]
    assert results[0] == "[big.py as read at step 1; changed since, read it again for the current text]"
    written = json.loads(third[-2]["tool_calls"][0]["function"]["arguments"])["content"]
    assert written.startswith("[content written to big.py at step 2:")
    assert "as it was first written" not in json.dumps(third[1:])  # the old text is gone


async def test_still_over_the_window_after_compaction_the_ticket_blocks_with_the_reason(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"big.py": BIG})
    script(server)
    events = Events()
    outcome = await run_worker_lifecycle(
        ticket(targets=["big.py"]), make_deps(repo, windowed_provider(server.base_url, 5_000), events)
    )
    assert outcome.state is TicketState.BLOCKED
    assert outcome.steps == 0
    reason = blocked_reason(events)
    assert reason is not None
    assert reason.startswith("context window: the request needs ~")
    assert "deepseek:deepseek-chat takes 5,000; split the ticket or use a larger model" in reason
    needed = int(reason.split("~", 1)[1].split(" ", 1)[0].replace(",", ""))
    assert needed > 5_000
    assert worker_bodies(server) == []  # never sent: no API error, no tokens spent
    assert (repo / "big.py").read_text() == BIG


async def test_a_planner_request_over_the_window_fails_clearly_before_any_call(
    server: LLMServer,
) -> None:
    spec = msgspec.structs.replace(http_spec(server.base_url, Tier.PLANNER), context_window=2_000)
    provider = make_provider(spec)
    events = Events()
    with pytest.raises(PlanningFailed) as caught:
        await plan_tracks(
            provider,
            "Refactor everything",
            repo_summary=BIG,
            retries=2,
            ledger=UsageLedger(),
            emit=events.emit,
        )
    message = str(caught.value)
    assert "context window: the request needs ~" in message
    assert "takes 2,000; split the ticket or use a larger model" in message
    assert "\n" not in message
    assert server.requests == []


def test_an_unknown_window_is_never_checked_and_a_known_one_is() -> None:
    spec = http_spec("http://127.0.0.1:9")
    request = ModelRequest(system="s" * 10, messages=[], max_tokens=4096)
    check_window(spec, request)  # no window: nothing to check
    with pytest.raises(ContextWindowExceeded, match="the request needs ~4,"):
        check_window(msgspec.structs.replace(spec, context_window=4_000), request)
    check_window(msgspec.structs.replace(spec, context_window=4_200), request)


def test_windows_come_from_the_built_ins_and_models_windows(tmp_path: Path) -> None:
    env = {"SLOP_CONFIG_DIR": str(tmp_path), "DEEPSEEK_API_KEY": "sk-x", "OPENAI_API_KEY": "sk-y"}
    config = load_config(env=env, read_credentials=False)
    assert config.model_for(Tier.WORKER).context_window == DEFAULT_WINDOWS["deepseek:deepseek-chat"]
    (tmp_path / "agents.toml").write_text(
        '[models]\nworker = "ollama:qwen2.5-coder"\n'
        '[models.windows]\n"ollama:qwen2.5-coder" = 32768\n"deepseek:deepseek-chat" = 64000\n'
    )
    config = load_config(env=env, read_credentials=False)
    assert config.model_for(Tier.WORKER).context_window == 32768
    assert config.windows["deepseek:deepseek-chat"] == 64000
    assert config.model_for(Tier.DEFAULT_CHEAP).context_window == 128_000
    (tmp_path / "agents.toml").write_text('[models]\nworker = "ollama:other"\n')
    assert load_config(env=env, read_credentials=False).model_for(Tier.WORKER).context_window is None
    (tmp_path / "agents.toml").write_text('[models.windows]\n"ollama:qwen2.5-coder" = 0\n')
    with pytest.raises(ConfigError, match="must be at least 1"):
        load_config(env=env, read_credentials=False)
    (tmp_path / "agents.toml").write_text('[models.windows]\nqwen = 4096\n')
    with pytest.raises(ConfigError, match='name the model as "provider:model"'):
        load_config(env=env, read_credentials=False)


def test_doctor_shows_each_tiers_window_and_where_it_comes_from(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "agents.toml").write_text(
        '[models]\nworker = "ollama:qwen2.5-coder"\n'
        '[models.windows]\n"anthropic:claude-sonnet-4-5" = 150000\n'
    )
    env = {"SLOP_CONFIG_DIR": str(config_dir), "PATH": os.environ.get("PATH", ""),
           "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "slop_tui", "doctor", "--repo", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path,
    ).stdout
    section = out.split("context windows", 1)[1].split("\n\n", 1)[0]
    assert "anthropic:claude-sonnet-4-5          150,000 (your [models.windows])" in section
    assert 'ollama:qwen2.5-coder                 unknown: not checked' in section
    assert f"openai:gpt-4o-mini                   {DEFAULT_WINDOWS['openai:gpt-4o-mini']:,} (built-in, " in section
