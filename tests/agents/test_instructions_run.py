"""End to end: a headless `slop run --yes` over real HTTP, where the repository's AGENTS.md
reaches the planner's, the lead's and every worker's request (as the scripted server recorded
them) and each ticket's context report; a nested one only the ticket under its folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer, RecordedRequest
from tests.agents.helpers import make_repo

KEY = "sk-instructions-test-0123456789"
ROOT_LINE = "Zebra rule: name every helper after a striped animal."
NESTED_LINE = "Okapi rule: code under pkg/inner logs through `inner_log` only."
PROJECT = Path(__file__).resolve().parents[2]


def _plan() -> list[HTTPReply]:
    tracks = {"tracks": [{"id": "main", "title": "Tidy", "description": "Tidy top.py and pkg/inner/mod.py"}]}
    tickets = {
        "tickets": [
            {"id": "top", "title": "Tidy top.py", "description": "tidy", "archetype": "implementer",
             "depends_on": [], "target_files": ["top.py"]},
            {"id": "inner", "title": "Tidy mod.py", "description": "tidy", "archetype": "implementer",
             "depends_on": ["top"], "target_files": ["pkg/inner/mod.py"]},
        ]
    }
    finish = HTTPReply(tool_calls=[HTTPToolCall(name="finish", arguments={"summary": "tidied"})])
    return [HTTPReply(text=json.dumps(tracks)), HTTPReply(text=json.dumps(tickets)), finish, finish]


def _system(request: RecordedRequest) -> str:
    messages: list[dict[str, Any]] = request.body["messages"]
    return "".join(m["content"] for m in messages if m["role"] == "system")


def _first_user(request: RecordedRequest) -> str:
    messages: list[dict[str, Any]] = request.body["messages"]
    return next(m["content"] for m in messages if m["role"] == "user")


def test_agents_md_reaches_planners_workers_and_the_context_report(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "AGENTS.md": f"# How we work\n{ROOT_LINE}\n",
            "pkg/inner/AGENTS.md": NESTED_LINE + "\n",
            "pkg/__init__.py": "",
            "pkg/inner/__init__.py": "",
            "pkg/inner/mod.py": "def f() -> int:\n    return 1\n",
            "top.py": "X = 1\n",
        },
    )
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    with LLMServer(api_key=KEY) as server:
        for reply in _plan():
            server.push(reply, "chat")
        (config_dir / "agents.toml").write_text(
            f"""
[run]
allow_unsandboxed = true

[providers.local]
kind = "openai"
base_url = "{server.base_url}/v1"
key_env = "INSTRUCTIONS_TEST_KEY"
max_retries = 0

[models]
planner = "local:m"
lead = "local:m"
worker = "local:m"
default_cheap = "local:m"
"""
        )
        env = {**os.environ, "SLOP_CONFIG_DIR": str(config_dir), "INSTRUCTIONS_TEST_KEY": KEY,
               "PYTHONPATH": os.environ.get("PYTHONPATH", str(PROJECT))}
        done = subprocess.run(
            [sys.executable, "-m", "slop_tui", "run", "Tidy the code", "--repo", str(repo), "--yes",
             "--workers", "1"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, env=env,
        )
        requests = list(server.requests)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(requests) == 4, [r.path for r in requests]
    planner, lead, top, inner = requests
    assert _system(planner).startswith("You are Tier 1")
    for request in (planner, lead, top, inner):
        system = _system(request)
        assert ROOT_LINE in system, system[-800:]
        assert "The project's instructions" in system
        assert ROOT_LINE not in _first_user(request)  # the system prompt's, not the request's
    # The nested file: for the ticket under pkg/inner only, after the root's.
    assert "# Ticket top:" in _first_user(top) and "# Ticket inner:" in _first_user(inner)
    assert NESTED_LINE not in _system(planner) + _system(lead) + _system(top)
    assert _system(inner).index(ROOT_LINE) < _system(inner).index(NESTED_LINE)

    # The context report of each ticket, as the event log keeps it.
    events = [json.loads(line) for line in (repo / ".slop" / "events.jsonl").read_text().splitlines()]
    built = {e["ticket_id"]: e for e in events if e.get("kind") == "context_built"}
    rows = {
        ticket: [(f["path"], f["view"], f["tokens"]) for f in e["files"] if f["role"] == "instructions"]
        for ticket, e in built.items()
    }
    assert [path for path, _, _ in rows["top"]] == ["AGENTS.md"]
    assert [path for path, _, _ in rows["inner"]] == ["AGENTS.md", "pkg/inner/AGENTS.md"]
    assert all(view == "raw" and tokens > 0 for view, tokens in ((v, t) for _, v, t in rows["inner"]))
    # The log carries the report, never the file's text.
    assert ROOT_LINE not in (repo / ".slop" / "events.jsonl").read_text()

    doctor = subprocess.run(
        [sys.executable, "-m", "slop_tui", "doctor", "--repo", str(repo)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env,
    )
    tokens = rows["top"][0][2]
    assert f"instructions: AGENTS.md, {tokens} tokens" in doctor.stdout, doctor.stdout
