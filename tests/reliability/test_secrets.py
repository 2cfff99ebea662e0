"""Secrets: two known fake keys through a whole run, headless and in the TUI; 0 occurrences.

The demo run goes through the real SDK clients over HTTP: the planner and QA on an
Anthropic-style server, the lead and the worker on an OpenAI-style one, each server knowing only
its own key, the keys in `credentials.toml` (mode 600) and, at the same time, more in slop's
environment: a key the credentials file shadows and tokens slop was never told about
(`GITHUB_TOKEN`, `MY_CUSTOM_TOKEN`, `AWS_SECRET_ACCESS_KEY`). The repository is hostile: its model
asks, through ordinary commands, for the credentials file, the environment and slop's own
environment through `/proc/$PPID/environ` (a prompt injection in a real repository could), and
one such command fails so QA reads its output. The headless run is played twice: in the sandbox
(where none of it is in reach) and without one (where masking is the only wall).

Then every place a key could end up is searched: `.slop/` (state, log, pre-images, archived
runs), the repository, what `slop run` and `slop status` print, every request body each server
received and every header but the one that carries that server's own key, and, in the TUI,
the screen at each clutch of the ticket that snoops (SVG screenshots, as the snapshot tests
take them) and everything its log pane holds, raw command output included. A world-readable
`credentials.toml` is refused, and the refusal quotes no key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from slop_tui.demo import DEMO_PROMPT, copy_sample_repo, demo_paths
from slop_tui.models import TicketState
from slop_tui.providers.scripted import ScriptedReply, load_scenario
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer
from tests.reliability.counts import tally

COUNTS = tally("secrets", "places searched", "occurrences", "world-readable credentials refused")
PROJECT = Path(__file__).resolve().parents[2]
ANTHROPIC_KEY = "sk-ant-reliability-FAKE-4f3e2d1c0b9a8877"
OPENAI_KEY = "sk-oai-reliability-FAKE-0a1b2c3d4e5f6071"
# slop's own environment at the same time: a key the credentials file shadows (under a name that
# does not look secret, so only "configured" makes it one), and tokens slop was never told about.
SHADOWED_KEY = "sk-shadowed-reliability-FAKE-77aa88bb99"
ENV_SECRETS = {
    "GPT_ACCESS": SHADOWED_KEY,  # gptish's key_env; credentials.toml wins
    "OPENAI_API_KEY": "sk-env-openai-reliability-FAKE-1357",
    "GITHUB_TOKEN": "ghp_reliabilityFAKE0123456789abcdefXYZ",
    "MY_CUSTOM_TOKEN": "custom-reliability-FAKE-24680",
    "AWS_SECRET_ACCESS_KEY": "aws/reliability+FAKE/secret==",
}
KEYS = (ANTHROPIC_KEY, OPENAI_KEY, *ENV_SECRETS.values())
# What the hostile repository makes the worker run (before its real work): the credentials file,
# its own environment, and slop's through /proc (the command's parent).
SNOOP = 'cat "{creds}"; env | sort; printenv; tr "\\0" "\\n" < /proc/$PPID/environ'
SNOOP_FAILING = 'cat "{creds}" >&2; exit 3'


def _http(reply: ScriptedReply) -> HTTPReply:
    calls = []
    for call in reply.tool_calls:
        arguments: Any = call.raw_arguments if call.raw_arguments is not None else dict(call.arguments)
        if call.tool == "run_command" and isinstance(arguments, dict):
            arguments = {**arguments, "command": "true"}  # the sample's tests: not what is tested here
        calls.append(HTTPToolCall(name=call.tool, arguments=arguments))
    return HTTPReply(text=reply.text, tool_calls=calls)


def _command(command: str) -> HTTPReply:
    return HTTPReply(tool_calls=[HTTPToolCall(name="run_command", arguments={"command": command, "timeout_s": 10})])


def script_servers(anthropic: LLMServer, openai: LLMServer, config_dir: Path) -> None:
    creds = config_dir / "credentials.toml"
    scenario = load_scenario(demo_paths().scenario)
    anthropic.push(_http(scenario.planner[0]), "messages")
    # QA's hint for the failing snoop (the only command that fails in this run).
    anthropic.push(HTTPReply(text="System Hint: the command printed a file and exited 3."), "messages")
    openai.push(_http(scenario.lead[0]), "chat")
    for ticket_id in ("stub-config", "impl-config", "use-config", "test-config"):
        replies = scenario.worker[ticket_id]
        if ticket_id == "stub-config":
            openai.push(_command(SNOOP.format(creds=creds)), "chat")
            openai.push(_command(SNOOP_FAILING.format(creds=creds)), "chat")
        for reply in replies:
            openai.push(_http(reply), "chat")


def write_config(
    config_dir: Path, anthropic: LLMServer, openai: LLMServer, *, mode: int = 0o600, sandboxed: bool = True
) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    # Without a sandbox, `--yes` needs the user's own consent; masking is then the only wall.
    run = "" if sandboxed else "[run]\nallow_unsandboxed = true\n"
    (config_dir / "agents.toml").write_text(
        run
        + f"""
[providers.claudeish]
kind = "anthropic"
base_url = "{anthropic.base_url}"
max_retries = 0

[providers.gptish]
kind = "openai"
base_url = "{openai.base_url}/v1"
key_env = "GPT_ACCESS"
max_retries = 0

[models]
planner = "claudeish:claude-test"
lead = "gptish:gpt-test"
worker = "gptish:gpt-test"
default_cheap = "claudeish:claude-test"
"""
    )
    credentials = config_dir / "credentials.toml"
    credentials.write_text(
        f'[claudeish]\napi_key = "{ANTHROPIC_KEY}"\n\n[gptish]\napi_key = "{OPENAI_KEY}"\n'
    )
    credentials.chmod(mode)


def environment(config_dir: Path, *, sandboxed: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
    env.update(ENV_SECRETS, SLOP_CONFIG_DIR=str(config_dir), PYTHONPATH=str(PROJECT))
    if not sandboxed:
        env["SLOP_BWRAP"] = ""  # the detector's own "no bwrap": the path a macOS user takes
    return env


def slop(*args: str, config_dir: Path, sandboxed: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
        env=environment(config_dir, sandboxed=sandboxed),
    )


class Search:
    """Counts every place searched and every key found, naming where."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def look(self, where: str, data: str | bytes, keys: tuple[str, ...] = KEYS) -> None:
        COUNTS.add("places searched")
        blob = data.encode("utf-8", "replace") if isinstance(data, str) else data
        for key in keys:
            # The key itself, its JSON-escaped or URL-quoted form, or its first 16 characters
            # (already enough to identify it).
            forms = {key, key[:16], json.dumps(key)[1:-1], quote(key, safe="")}
            if any(form.encode() in blob for form in forms):
                COUNTS.add("occurrences")
                self.found.append(f"{where}: {key[:10]}…")

    def tree(self, label: str, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.look(f"{label}/{path.relative_to(root)}", path.read_bytes())

    def server(self, label: str, server: LLMServer, own_key: str) -> None:
        others = tuple(k for k in KEYS if k != own_key)
        for number, request in enumerate(server.requests):
            self.look(f"{label} request {number} body", request.raw)
            for name, value in request.headers.items():
                # The one header that must carry this server's own key, and only it.
                allowed = name in ("authorization", "x-api-key")
                self.look(f"{label} request {number} header {name}", value, others if allowed else KEYS)


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
def test_a_whole_headless_run_leaks_no_key(tmp_path: Path, sandboxed: bool) -> None:
    if sandboxed:
        from slop_tui.sandbox import detect

        if not detect().available:
            pytest.skip("bwrap cannot create namespaces here")
    search = Search()
    repo = copy_sample_repo(tmp_path / "repo")
    config = tmp_path / "config"
    with LLMServer(api_key=ANTHROPIC_KEY) as anthropic, LLMServer(api_key=OPENAI_KEY) as openai:
        script_servers(anthropic, openai, config)
        write_config(config, anthropic, openai, sandboxed=sandboxed)
        done = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", "--workers", "1",
                    config_dir=config, sandboxed=sandboxed)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        status = slop("status", "--repo", str(repo), config_dir=config, sandboxed=sandboxed)
        assert status.returncode == 0, status.stderr
        # The snoops ran and their output reached the log and QA was asked about one. Sandboxed,
        # the credentials file and slop's environment are out of reach (`cat` says so);
        # unsandboxed, the command read both (slop's own config folder is in its environment)
        # and only masking kept the keys out.
        log = (repo / ".slop" / "events.jsonl").read_text()
        outputs = "".join(json.loads(line).get("output", "") for line in log.splitlines() if '"kind":"tool_result"' in line)
        if sandboxed:
            assert "credentials.toml: No such file" in outputs, "the snoop did not run"
            assert f"SLOP_CONFIG_DIR={config}" not in outputs, "slop's environment seen through /proc"
        else:
            assert f"SLOP_CONFIG_DIR={config}" in outputs, "the snoop did not read slop's environment"
            assert 'api_key = "***"' in outputs, "the credentials file was not read, or not masked"
            # Every planted variable was printed by name: its value is what masking removed.
            assert all(f"{name}=" in outputs for name in ENV_SECRETS), outputs[-2000:]
        assert len(anthropic.requests) == 2
        search.server("anthropic", anthropic, ANTHROPIC_KEY)
        search.server("openai", openai, OPENAI_KEY)
    search.look("slop run stdout", done.stdout)
    search.look("slop run stderr", done.stderr)
    search.look("slop status", status.stdout + status.stderr)
    search.tree("repo", repo)  # .slop/ included
    assert not search.found, "\n".join(search.found)


def test_a_world_readable_credentials_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    repo = copy_sample_repo(tmp_path / "repo")
    search = Search()
    with LLMServer(api_key=ANTHROPIC_KEY) as anthropic, LLMServer(api_key=OPENAI_KEY) as openai:
        write_config(tmp_path / "config", anthropic, openai, mode=0o644)
        for args in (["run", DEMO_PROMPT, "--repo", str(repo), "--yes"], ["doctor"]):
            done = slop(*args, config_dir=tmp_path / "config")
            assert done.returncode != 0, done.stdout
            assert "credentials.toml: readable by group or others" in done.stderr + done.stdout
            assert "chmod 600" in done.stderr + done.stdout
            assert "Traceback" not in done.stderr
            search.look(f"slop {args[0]} output", done.stdout + done.stderr)
        assert anthropic.requests == [] and openai.requests == []
    assert not search.found, "\n".join(search.found)
    COUNTS.add("world-readable credentials refused")


async def test_the_tui_run_shows_no_key_on_any_screen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slop_tui.ui.launch import build_app
    from slop_tui.ui.screens.clutch import ClutchScreen
    from slop_tui.ui.screens.plan_review import PlanReviewScreen

    search = Search()
    repo = copy_sample_repo(tmp_path / "repo")
    screens: list[str] = []
    shot: set[str] = set()
    with LLMServer(api_key=ANTHROPIC_KEY) as anthropic, LLMServer(api_key=OPENAI_KEY) as openai:
        script_servers(anthropic, openai, tmp_path / "config")
        write_config(tmp_path / "config", anthropic, openai)
        env = environment(tmp_path / "config")
        for name, value in ENV_SECRETS.items():  # the TUI runs in this process: its environment
            monkeypatch.setenv(name, value)
        app = build_app(repo, env=env, initial_prompt=DEMO_PROMPT,
                        prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "prefs")})

        async def approve_and_shoot(pilot: Any, screen: Any) -> bool:
            # The clutch of every command and of each ticket's first call (the diff or the
            # command, over the board and the log), then approve.
            ticket = screen.proposal.ticket_id
            if screen.proposal.tool == "run_command" or ticket not in shot:
                shot.add(ticket)
                screens.append(app.export_screenshot())
            await pilot.press("a")
            return True

        def stub_done() -> bool:
            return any(
                v.ticket.id == "stub-config" and v.ticket.state is TicketState.DONE
                for v in app.view.tickets.values()
            )

        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("enter")
            # The snoops run in the first ticket; the TUI is searched once it is done.
            deadline = time.monotonic() + 120
            while not stub_done():
                assert time.monotonic() < deadline, "the first ticket never finished"
                await pilot.pause(0.03)
                if isinstance(app.screen, PlanReviewScreen):
                    await pilot.press("s")
                elif isinstance(app.screen, ClutchScreen):
                    await approve_and_shoot(pilot, app.screen)
            screens.append(app.export_screenshot())
            # What the log pane holds, raw command output included (shown on demand).
            shown = [entry.text + "\n" + (entry.raw or "") for entry in app.view.log]
            shown += ["\n".join(view.text) for view in app.view.tickets.values()]
        search.server("anthropic", anthropic, ANTHROPIC_KEY)
        search.server("openai", openai, OPENAI_KEY)
    assert len(screens) >= 4
    assert any("credentials.toml" in text for text in shown), "the snoop's output never reached the TUI"
    for number, svg in enumerate(screens):
        search.look(f"TUI screen {number}", svg)
    for number, text in enumerate(shown):
        search.look(f"TUI log entry {number}", text)
    search.tree("repo", repo)
    assert not search.found, "\n".join(search.found)
