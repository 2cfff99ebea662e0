"""What the planners and the worker are sent of the repository map, read from the requests a
scripted HTTP server recorded during a real `slop run --yes` (real SDK clients, real HTTP):
the map is there (the repository's central class among it), no map is over its budget, and a
ticket's new file is in the map by the time the next ticket starts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from slop_tui.agents.context import RELATED_MAP_SHARE
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer
from slop_tui.tokens import estimate_tokens

KEY = "sk-map-test-key-0123456789"
MAP_TOKENS = 400
CONTEXT_TOKENS = 3000
CENTRAL = "CentralLedger"


def make_repo(root: Path) -> Path:
    """40 modules that all use one class, each with ten functions: far more than a 400-token
    map holds, so every map here is cut to its budget."""
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text(
        f"class {CENTRAL}:\n    def add(self, amount: int) -> None:\n        self.total = amount\n"
    )
    for n in range(40):
        functions = "".join(
            f"\n\ndef step_{n}_{i}(ledger: {CENTRAL}, value: int = 3) -> int:\n    return value\n"
            for i in range(10)
        )
        (pkg / f"module_{n}.py").write_text(f"from pkg.core import {CENTRAL}\n{functions}")
    (pkg / "report.py").write_text(
        f"from pkg.core import {CENTRAL}\n\n\ndef monthly(ledger: {CENTRAL}) -> str:\n    return ''\n"
    )
    return root


def section(text: str, start: str, end: str) -> str:
    assert start in text, text[:500]
    return text.split(start, 1)[1].split(end, 1)[0]


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


def test_planners_and_worker_get_the_map_within_their_budgets(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    track = {"tracks": [{"id": "report", "title": "Monthly report",
                         "description": "Make pkg/report.py's monthly() print the ledger total."}]}
    tickets = {"tickets": [
        {"id": "totals", "title": "Add grand_total", "description": "Add pkg/totals.py.",
         "archetype": "implementer", "depends_on": [], "target_files": ["pkg/totals.py"]},
        {"id": "monthly", "title": "Print the total in monthly()",
         "description": "In pkg/report.py, monthly(ledger) returns grand_total(ledger).",
         "archetype": "implementer", "depends_on": ["totals"], "target_files": ["pkg/report.py"]},
    ]}
    totals = f"from pkg.core import {CENTRAL}\n\n\ndef grand_total(ledger: {CENTRAL}) -> int:\n    return 0\n"
    finish = HTTPReply(tool_calls=[HTTPToolCall(name="finish", arguments={"summary": "done"})])
    with LLMServer(api_key=KEY) as server:
        server.push(HTTPReply(text=json.dumps(track)), "messages")
        server.push(HTTPReply(text=json.dumps(tickets)), "chat")
        server.push(HTTPReply(tool_calls=[HTTPToolCall(
            name="write_file", arguments={"path": "pkg/totals.py", "content": totals})]), "chat")
        server.push(finish, "chat")
        server.push(finish, "chat")
        config = tmp_path / "config"
        config.mkdir()
        (config / "agents.toml").write_text(
            f"""
[providers.claudeish]
kind = "anthropic"
base_url = "{server.base_url}"
key_env = "TEST_MAP_KEY"
max_retries = 0

[providers.gptish]
kind = "openai"
base_url = "{server.base_url}/v1"
key_env = "TEST_MAP_KEY"
max_retries = 0

[models]
planner = "claudeish:claude-test"
lead = "gptish:gpt-test"
worker = "gptish:gpt-test"
default_cheap = "claudeish:claude-test"

[run]
map_tokens = {MAP_TOKENS}
context_tokens = {CONTEXT_TOKENS}
"""
        )
        done = subprocess.run(
            [sys.executable, "-m", "slop_tui", "run", "Report the monthly total", "--repo", str(repo), "--yes"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "SLOP_CONFIG_DIR": str(config), "TEST_MAP_KEY": KEY,
                 "SLOP_CACHE_DIR": str(tmp_path / "cache")},
        )
        requests = list(server.requests)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    planner, lead, _, _, worker = requests

    # Tier 1: folders, then the most central definitions; the central class among them.
    assert planner.path == "/v1/messages"
    overview = section(text_of(planner.body["messages"][0]), "Repository overview:\n", "\n\nGive at most")
    assert re.search(r"^pkg/ .*\b43 files\b", overview, re.MULTILINE), overview  # the folder line
    assert f"pkg/core.py:\n  class {CENTRAL}" in overview
    assert estimate_tokens(overview) <= MAP_TOKENS
    assert "not shown" in overview  # cut to the budget, and it says so

    # Tier 2: the map personalized by the track: the file it names first.
    lead_text = text_of(lead.body["messages"][-1])
    track_map = section(lead_text, "(the definitions most related to this track first):\n", "\n\nGive at most")
    assert track_map.startswith("pkg/report.py:\n  def monthly(ledger)")
    assert CENTRAL in track_map
    assert estimate_tokens(track_map) <= MAP_TOKENS
    assert "not shown" in track_map

    # Tier 3: the curated target, then the related map; the whole context within its budget.
    system = text_of(worker.body["messages"][0])
    first = text_of(worker.body["messages"][1])
    assert "### pkg/report.py (target, curated view)" in first
    related = section(first, "(a map: one line each)\n```\n", "\n```\n")
    assert f"pkg/core.py:\n  class {CENTRAL}" in related
    assert "def monthly" not in related  # the target's own definitions are not repeated
    # The first ticket's new file landed before this context was built: the map has it.
    assert "pkg/totals.py:\n  def grand_total(ledger)" in related
    assert estimate_tokens(system) + estimate_tokens(first) <= CONTEXT_TOKENS
    assert estimate_tokens(related) <= CONTEXT_TOKENS // RELATED_MAP_SHARE  # the map's share
    assert "not shown" in related
