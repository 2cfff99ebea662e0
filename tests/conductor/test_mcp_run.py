"""A headless `slop ticket` whose worker calls MCP tools through the clutch: the real
`mcp-server-time` and `mcp-server-git` from PyPI over stdio in the sandbox, a fixture server
that exits mid-run, and the scripted HTTP server posing as DeepSeek recording every request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import slop_tui
from slop_tui.models import ContextBuilt, DecisionMade, ProposalMade, Reject, ToolResult
from slop_tui.store import Store
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer

KEY = "sk-deepseek-test-0123456789"
PROJECT = Path(slop_tui.__file__).resolve().parent.parent
FIXTURE = PROJECT / "tests" / "tools" / "mcp_fixture_server.py"


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as srv:
        yield srv


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def _repo(root: Path) -> Path:
    root.mkdir()
    (root / "mod.py").write_text("X = 1\n")
    # The sandbox shows a server the repository and the toolchains only: the fixture lives here.
    (root / "fixture_server.py").write_text(FIXTURE.read_text())
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "start")
    return root


def _environment(tmp_path: Path, server: LLMServer, repo: Path) -> dict[str, str]:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "agents.toml").write_text(
        "[models]\n"
        'worker = "deepseek:deepseek-chat"\n'
        'default_cheap = "deepseek:deepseek-chat"\n\n'
        "[providers.deepseek]\n"
        f'base_url = "{server.base_url}/v1"\n\n'
        "[mcp.servers.time]\n"
        f"command = {json.dumps(sys.executable)}\n"
        'args = ["-m", "mcp_server_time"]\n\n'
        "[mcp.servers.git]\n"
        'command = "mcp-server-git"\n'
        'args = ["--repository", "."]\n'
        'tools = ["git_status", "git_diff"]\n'
        'approve = "ask"\n\n'
        "[mcp.servers.fx]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f'args = [{json.dumps(str(repo / "fixture_server.py"))}, "exit_after_first"]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
    env.update(
        SLOP_CONFIG_DIR=str(directory),
        DEEPSEEK_API_KEY=KEY,
        PYTHONPATH=str(PROJECT),
        COLUMNS="120",
    )
    return env


def _tool(name: str, **arguments: Any) -> HTTPReply:
    return HTTPReply(text=f"calling {name}", tool_calls=[HTTPToolCall(name=name, arguments=dict(arguments))])


def _tool_results(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def test_a_worker_calls_mcp_tools_through_the_clutch(tmp_path: Path, server: LLMServer) -> None:
    repo = _repo(tmp_path / "repo")
    server.push(_tool("mcp__time__get_current_time", timezone="UTC"))  # read-only: not asked
    server.push(_tool("mcp__git__git_status", repo_path=str(repo)))  # approve = "ask": asked
    server.push(_tool("mcp__fx__shout", text="loud"))  # not annotated: asked, rejected
    server.push(_tool("mcp__fx__echo", text="first"))
    server.push(_tool("mcp__fx__echo", text="second"))  # the server exits on this one
    server.push(_tool("finish", summary="looked around"))
    # The person first edits git_status's arguments into something its schema refuses.
    plan = tmp_path / "editor-plan.json"
    plan.write_text(json.dumps(['{"repo_path": 5}']))
    env = _environment(tmp_path, server, repo)
    env.update(EDITOR=f"{sys.executable} {PROJECT / 'tests' / 'tools' / 'fake_editor.py'}", FAKE_EDITOR_PLAN=str(plan))
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "ticket", "Look around", "--repo", str(repo)],
        input="e\na\nr not now, thanks\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Traceback" not in out + done.stderr
    # git_status (twice: after the refused edit) and shout; the read-only tools ran at once.
    assert out.count("[a]pprove") == 3
    assert "edit refused: mcp__git__git_status: repo_path: 5 is not of type 'string'" in out
    assert "MCP server git · tool git_status" in out
    assert "The server acts with its own powers" in out

    requests = [r.body for r in server.requests]
    assert len(requests) == 6
    names = [t["function"]["name"] for t in requests[0]["tools"]]
    assert names[:6] == ["read_file", "list_files", "write_file", "edit_file", "run_command", "finish"]
    assert {"mcp__time__get_current_time", "mcp__git__git_status", "mcp__git__git_diff", "mcp__fx__echo"} <= set(names)
    assert "mcp__git__git_commit" not in names  # not on the server's allow-list
    assert all([t["function"]["name"] for t in r["tools"]] == names for r in requests)  # fixed per ticket

    results = _tool_results(requests[-1])
    assert json.loads(results[0])["timezone"] == "UTC"
    assert "Repository status" in results[1] and "mod.py" not in results[1]  # a clean tree
    assert results[2] == "Rejected by the person: not now, thanks"
    assert results[3] == "echo: first"
    assert results[4].startswith("fx/echo failed: the server's connection closed")
    assert "ticket done: looked around" in out

    events = list(Store(repo).events())
    proposals = [e.proposal for e in events if isinstance(e, ProposalMade)]
    assert [p.tool for p in proposals[:3]] == ["mcp__time__get_current_time", "mcp__git__git_status", "mcp__fx__shout"]
    rejects = [e.decision for e in events if isinstance(e, DecisionMade) and isinstance(e.decision, Reject)]
    assert [r.reason for r in rejects] == ["not now, thanks"]
    logged = [e for e in events if isinstance(e, ToolResult) and e.tool == "mcp__fx__echo"]
    assert [e.ok for e in logged] == [True, False]
    built = [e for e in events if isinstance(e, ContextBuilt)][0]
    rows = {f.path: f for f in built.files if f.role == "tools"}
    assert set(rows) == {"mcp: time", "mcp: git", "mcp: fx"} and all(r.tokens > 0 for r in rows.values())
    assert built.total_tokens >= sum(r.tokens for r in rows.values())
    assert built.budget == 12000  # the definitions were taken out of it, the report shows all of it


def test_a_server_that_does_not_start_stops_the_run_before_anything(tmp_path: Path, server: LLMServer) -> None:
    repo = _repo(tmp_path / "repo")
    env = _environment(tmp_path, server, repo)
    agents = Path(env["SLOP_CONFIG_DIR"]) / "agents.toml"
    agents.write_text(agents.read_text().replace('"exit_after_first"', '"crash_at_start"'))
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "ticket", "Look around", "--repo", str(repo), "--yes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    assert "MCP server 'fx'" in done.stderr and "did not start" in done.stderr
    assert "fixture: giving up" in done.stderr  # the last lines of its stderr
    assert server.requests == []


def _fixture_processes(repo: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-af", str(repo / "fixture_server.py")], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_ctrl_c_during_a_hanging_call_stops_the_servers(tmp_path: Path, server: LLMServer) -> None:
    repo = _repo(tmp_path / "repo")
    env = _environment(tmp_path, server, repo)
    agents = Path(env["SLOP_CONFIG_DIR"]) / "agents.toml"
    agents.write_text(agents.read_text().replace('"exit_after_first"', '"hang"'))
    server.push(_tool("mcp__fx__hang"))
    process = subprocess.Popen(
        [sys.executable, "-m", "slop_tui", "ticket", "Wait", "--repo", str(repo), "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(e for e in _events(repo) if isinstance(e, DecisionMade)):
            assert time.monotonic() < deadline and process.poll() is None, "the call never started"
            time.sleep(0.2)
        assert _fixture_processes(repo)  # the server is there, its call hanging
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "Traceback" not in out + err
    assert "interrupted" in err
    assert _fixture_processes(repo) == []


def _events(repo: Path) -> list[Any]:
    try:
        return list(Store(repo).events())
    except Exception:  # the log is being written: try again
        return []
