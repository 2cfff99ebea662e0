"""The history economy as the model sees it: the real worker, the real OpenAI SDK, the scripted
HTTP server; every assertion reads the request bodies the server recorded."""

from __future__ import annotations

import asyncio
import json
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slop_tui.agents import history
from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.models import Approve, ApproveHunks, Decision, Edit, Proposal, TicketState, WriteFileArgs
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer
from slop_tui.tools.clutch import AskForChanges

from tests.agents.helpers import Events, http_provider, make_deps, make_repo, ticket

A1 = "".join(f"value_{n} = {n}  # the first version\n" for n in range(120))
A2 = A1.replace("the first version", "the second version")
A3 = A2.replace("value_5 = 5", "value_5 = 55")
B1 = "print('b')\n"
B2 = "print('b, rewritten')\n"
NOISY = "python -c \"print('\\n'.join('row %d' % n for n in range(40)))\""
STUB = object()  # the request names the file with a stub that says how to get it back


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer(api_key="sk-test-key-123456") as srv:
        yield srv


@pytest.fixture(autouse=True)
def checkpoint_every_three_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints at steps 4 and 7 exactly, whatever the tail weighs."""
    monkeypatch.setattr(history, "CHECKPOINT_EVERY_STEPS", 3)
    monkeypatch.setattr(history, "CHECKPOINT_TAIL_TOKENS", 10**9)
    monkeypatch.setattr(history, "MIN_SAVING_SHARE", 0.0)  # every saving is rewritten


def tool(name: str, **arguments: Any) -> HTTPReply:
    return HTTPReply(tool_calls=[HTTPToolCall(name=name, arguments=arguments)])


def worker_messages(server: LLMServer) -> list[list[dict[str, Any]]]:
    return [r.body["messages"] for r in server.requests if r.body and r.body.get("tools")]


def tool_results(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    """(tool name, arguments as sent, result text) of every call in a request, in order."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out: list[tuple[str, dict[str, Any], str]] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call["function"]
            calls[call["id"]] = (function["name"], json.loads(function["arguments"]))
        if message["role"] == "tool":
            name, arguments = calls[message["tool_call_id"]]
            out.append((name, arguments, message["content"]))
    return out


def known_texts(messages: list[dict[str, Any]]) -> dict[str, object]:
    """What a reader of the request can know of each file: its text, or STUB."""
    known: dict[str, object] = {}
    for name, arguments, result in tool_results(messages):
        path = posixpath.normpath(arguments.get("path", "."))
        if name == "read_file":
            stubbed = result.startswith(f"[{path} as read at step") and "read" in result[1:]
            known[path] = STUB if stubbed else result
        elif name == "write_file" and result.startswith("wrote"):
            content = arguments["content"]
            stubbed = content.startswith("[content written to") and "read_file" in content
            known[path] = STUB if stubbed else content
        elif name == "edit_file" and result.startswith("edited"):
            before = known.get(path)
            if "read_file shows" in arguments["old"] + arguments["new"] or before is STUB:
                known[path] = STUB
            elif isinstance(before, str):
                known[path] = before.replace(arguments["old"], arguments["new"], 1)
    return known


async def test_the_prefix_is_stable_between_checkpoints_and_history_shrinks_at_them(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": A1, "b.py": B1})
    # Each step, and the files on disk once it has run.
    script: list[tuple[HTTPReply, dict[str, str]]] = [
        (tool("read_file", path="a.py", view="raw"), {"a.py": A1}),
        (tool("write_file", path="a.py", content=A2), {"a.py": A2}),
        (tool("run_command", command=NOISY), {"a.py": A2}),
        (tool("edit_file", path="a.py", old="value_5 = 5  #", new="value_5 = 55  #"), {"a.py": A3}),
        (tool("read_file", path="./b.py", view="raw"), {"a.py": A3, "b.py": B1}),
        (tool("write_file", path="b.py", content=B2), {"a.py": A3, "b.py": B2}),
        (tool("run_command", command=NOISY), {"a.py": A3, "b.py": B2}),
        (tool("finish", summary="done"), {"a.py": A3, "b.py": B2}),
    ]
    for reply, _files in script:
        server.push(reply)
    outcome = await run_worker_lifecycle(
        ticket(targets=["a.py"]), make_deps(repo, http_provider(server.base_url), Events())
    )
    assert outcome.state is TicketState.DONE
    requests = worker_messages(server)
    assert len(requests) == 8
    dumped = [json.dumps(m) for messages in requests for m in messages]
    assert dumped  # the server recorded what the SDK sent

    for n in range(1, len(requests)):
        step = n + 1
        before, now = requests[n - 1], requests[n]
        same = json.dumps(now[: len(before)]) == json.dumps(before)
        # Steps 4 and 7 are checkpoints: history may change there, and only there.
        assert same is (step not in (4, 7)), step

    results = {step: tool_results(requests[step - 1]) for step in (3, 4, 7, 8)}
    # Before the checkpoint everything is whole; at it the superseded read is a stub...
    assert results[3][0][2] == A1
    assert results[4][0][2] == "[a.py as read at step 1; changed since, read it again for the current text]"
    # ...and the applied write's content is elided in the model's own call, as valid JSON.
    assert results[3][1][1]["content"] == A2
    assert results[4][1][1] == {
        "path": "a.py",
        "content": f"[content written to a.py at step 2: {len(A2):,} characters; read_file shows the file now]",
    }
    assert results[4][1][2] == "wrote a.py: +120 -120"
    assert results[7][3][2] == "edited a.py: +1 -1"
    # A command's output stays whole for two steps, then keeps its exit code and first line.
    assert results[4][2][2].count("\n") > 30
    assert results[7][2][2] == (
        "exit code 0\nrow 0\n[40 more lines of output from step 3 cut; run the command again to see them]"
    )
    assert results[8][6][2].count("\n") > 30  # step 7's own output, still recent
    # The read of `./b.py` is the read of b.py that the write at step 6 superseded.
    assert results[7][4][2] == "[b.py as read at step 5; changed since, read it again for the current text]"

    # Every request carries each file's current text, or a stub that says how to get it.
    for n, messages in enumerate(requests):
        on_disk = script[n - 1][1] if n else {}
        known = known_texts(messages)
        for path, text in on_disk.items():
            assert known.get(path) in (STUB, text), (n + 1, path, known.get(path))
    assert json.dumps(requests[-1]).count("the first version") == 0  # A1 is gone entirely


class EditsTheFirstWrite:
    """A person who edits the first write's content at the clutch, then approves everything."""

    def __init__(self) -> None:
        self.edited = False

    async def decide(self, proposal: Proposal) -> Decision:
        await asyncio.sleep(0.01)
        arguments = proposal.arguments
        if isinstance(arguments, WriteFileArgs) and not self.edited:
            self.edited = True
            content = arguments.content.replace("value_60 = 60", "value_60 = 600")
            return Edit(arguments=WriteFileArgs(path=arguments.path, content=content))
        return Approve()


async def test_a_write_edited_at_the_clutch_comes_back_as_a_diff(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": A1})
    server.push(tool("write_file", path="a.py", content=A2))
    server.push(tool("finish", summary="done"))
    deps = make_deps(
        repo, http_provider(server.base_url), Events(), clutch=AskForChanges(EditsTheFirstWrite())
    )
    outcome = await run_worker_lifecycle(ticket(targets=["a.py"]), deps)
    assert outcome.state is TicketState.DONE
    assert (repo / "a.py").read_text() == A2.replace("value_60 = 60", "value_60 = 600")
    told = tool_results(worker_messages(server)[1])[0][2]
    assert told.startswith("The person edited your call before it ran; what ran differs from yours:")
    assert "-value_60 = 60  # the second version" in told
    assert "+value_60 = 600  # the second version" in told
    assert told.endswith("wrote a.py: +120 -120")
    assert "value_10 = 10" not in told and len(told) < 600  # a diff, not the whole file again


HUNKY = A1.replace("value_5 = 5 ", "value_5 = 50 ").replace("value_60 = 60 ", "value_60 = 600 ").replace(
    "value_110 = 110 ", "value_110 = 1100 "
)


class KeepsTheOuterHunks:
    """A person who applies only the first and last hunk of a write, and approves the rest."""

    async def decide(self, proposal: Proposal) -> Decision:
        await asyncio.sleep(0)
        if isinstance(proposal.arguments, WriteFileArgs):
            return ApproveHunks(hunks=[0, 2], reason="line 60 stays")
        return Approve()


async def test_a_write_approved_in_part_is_told_as_a_diff_and_never_stubbed_as_written(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": A1, "b.py": B1})
    server.push(tool("write_file", path="a.py", content=HUNKY))
    server.push(tool("read_file", path="b.py", view="raw"))
    server.push(tool("read_file", path="b.py", view="raw"))
    server.push(tool("finish", summary="done"))
    deps = make_deps(
        repo, http_provider(server.base_url), Events(), clutch=AskForChanges(KeepsTheOuterHunks())
    )
    outcome = await run_worker_lifecycle(ticket(targets=["a.py"]), deps)
    assert outcome.state is TicketState.DONE
    ran = A1.replace("value_5 = 5 ", "value_5 = 50 ").replace("value_110 = 110 ", "value_110 = 1100 ")
    assert (repo / "a.py").read_text() == ran
    requests = worker_messages(server)
    assert len(requests) == 4
    told = tool_results(requests[1])[0][2]
    assert "applied only part of your change to a.py: 2 of 3 hunks" in told
    # The model learns exactly which of its lines ran: the diff of yours -> what ran.
    assert "What ran differs from yours:\n--- a.py (yours)\n+++ a.py (ran)\n" in told
    assert "-value_60 = 600  # the first version" in told
    assert "+value_60 = 60  # the first version" in told
    assert "value_5 = 50" not in told and len(told) < 1200  # the kept hunks are not echoed
    assert told.endswith("wrote a.py: +2 -2")
    # At the checkpoint (step 4) the model's own call is elided, but never as if it ran.
    name, arguments, _result = tool_results(requests[3])[0]
    assert name == "write_file"
    assert arguments["content"] == (
        f"[content you proposed for a.py at step 1: {len(HUNKY):,} characters; the person changed "
        "it before it ran (this call's result shows how); read_file shows the file now]"
    )
    assert "[content written to" not in json.dumps(requests[3])
