"""The worker and Tier 4 against the scripted HTTP server posing as DeepSeek (real SDK, real
HTTP on 127.0.0.1): what each request carries is read back from the server's records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.models import HintGiven, TicketState, Tier, ToolResult, UsageUpdated
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer
from slop_tui.tokens import estimate_tokens

from tests.agents.helpers import Events, http_provider, make_deps, make_repo, ticket

LEVELS = 90


def deep_script() -> str:
    """A script whose traceback is ~200 lines: 90 distinct frames, then a broken import."""
    lines = ["import sys", ""]
    for n in range(LEVELS):
        lines += [f"def level_{n}():", f"    return level_{n + 1}()", ""]
    lines += [f"def level_{LEVELS}():", "    import broken", "", "level_0()", ""]
    return "\n".join(lines)


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer(api_key="sk-test-key-123456") as srv:
        yield srv


def tool(name: str, **arguments: Any) -> HTTPReply:
    return HTTPReply(tool_calls=[HTTPToolCall(name=name, arguments=arguments)])


def worker_bodies(server: LLMServer) -> list[str]:
    """Every worker request as JSON text (worker requests offer tools; QA requests do not)."""
    return [json.dumps(r.body) for r in server.requests if r.body and r.body.get("tools")]


def qa_bodies(server: LLMServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.body and not r.body.get("tools")]


async def test_a_trace_never_reaches_the_worker_only_a_short_hint(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"deep.py": deep_script(), "broken.py": "X = 1\n"})
    hint = "Line 3 of broken.py has an unclosed parameter list; write `def f():` instead."
    server.push(tool("write_file", path="broken.py", content="X = 1\n\ndef f(:\n    return X\n"))
    server.push(tool("run_command", command="python deep.py"))
    server.push(HTTPReply(text=hint))  # Tier 4's answer
    server.push(tool("write_file", path="broken.py", content="X = 1\n\ndef f():\n    return X\n"))
    server.push(tool("run_command", command="python deep.py"))
    server.push(tool("finish", summary="fixed the syntax error"))
    events = Events()
    deps = make_deps(
        repo,
        http_provider(server.base_url),
        events,
        qa_provider=http_provider(server.base_url, Tier.DEFAULT_CHEAP),
    )
    outcome = await run_worker_lifecycle(ticket(targets=["broken.py"]), deps)
    assert outcome.state is TicketState.DONE

    raw = events.of(HintGiven)[0].raw_output
    assert raw.count("\n") >= 180 and "level_45" in raw and "SyntaxError" in raw  # the real trace
    failed = [r for r in events.of(ToolResult) if r.tool == "run_command"][0]
    assert failed.output == f"Command failed (exit code 1). System Hint: {hint}"
    assert estimate_tokens(failed.output) <= 40

    workers = worker_bodies(server)
    assert len(workers) == 5
    for body in workers[2:]:  # every request after the failure
        assert "level_45" not in body and "Traceback" not in body and "SyntaxError" not in body
        assert "System Hint" in body
    # Tier 4 saw the head and tail of the trace and the code around the failing line.
    (qa,) = qa_bodies(server)
    assert qa["messages"][0] == {
        "role": "system",
        "content": "You are an error parser. Output only a 1-2 sentence instruction on how to fix this error.",
    }
    question = qa["messages"][1]["content"]
    assert "SyntaxError" in question and "level_0" in question
    assert "broken.py around line 3:" in question and "> 3 | def f(:" in question
    assert qa["model"] == "deepseek-chat"
    tiers = [u.tier for u in events.of(UsageUpdated)]
    assert tiers.count(Tier.DEFAULT_CHEAP) == 1 and tiers.count(Tier.WORKER) == 5


async def test_when_tier_4_fails_the_hint_comes_from_the_trace(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"deep.py": deep_script(), "broken.py": "def f(:\n"})
    server.push(tool("run_command", command="python deep.py"))
    server.push(tool("finish", summary="reported"))
    with LLMServer(api_key="sk-test-key-123456") as cheap:
        cheap.fail_next(500, message="overloaded")
        events = Events()
        deps = make_deps(
            repo,
            http_provider(server.base_url),
            events,
            qa_provider=http_provider(cheap.base_url, Tier.DEFAULT_CHEAP),
        )
        await run_worker_lifecycle(ticket(targets=["broken.py"]), deps)
        assert len(cheap.requests) == 1
    failed = [r for r in events.of(ToolResult) if r.tool == "run_command"][0]
    assert failed.output.startswith("Command failed (exit code 1). System Hint: broken.py:1: SyntaxError")
    assert estimate_tokens(failed.output) <= 40
    assert "level_" not in worker_bodies(server)[-1]


async def test_the_next_ticket_starts_with_nothing_of_the_last_one(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "A = 1\n", "b.py": "B = 2\n"})
    server.push(HTTPReply(text="MARKER-FIRST-TICKET thinking", tool_calls=[
        HTTPToolCall(name="read_file", arguments={"path": "README.txt"})
    ]))
    server.push(tool("write_file", path="a.py", content="A = 'SECRET-SAUCE-OF-A'\n"))
    server.push(tool("finish", summary="a changed"))
    server.push(tool("finish", summary="b looked at"))
    events = Events()
    provider = http_provider(server.base_url)
    deps = make_deps(repo, provider, events)
    first = ticket("t1", targets=["a.py"])
    await run_worker_lifecycle(first, deps)
    second = ticket("t2", targets=["b.py"])
    await run_worker_lifecycle(second, deps)
    assert (first.state, second.state) == (TicketState.DONE, TicketState.DONE)

    bodies = worker_bodies(server)
    assert len(bodies) == 4
    assert "MARKER-FIRST-TICKET" in bodies[1] and "SECRET-SAUCE" in bodies[2]
    last = bodies[3]
    for trace_of_first in ("MARKER-FIRST-TICKET", "SECRET-SAUCE", "README.txt", "a changed", "t1"):
        assert trace_of_first not in last
    assert [m["role"] for m in json.loads(last)["messages"]] == ["system", "user"]
