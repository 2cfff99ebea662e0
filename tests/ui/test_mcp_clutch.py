"""The TUI's clutch for an MCP call, through the pilot: the server, the tool, the arguments and
the sentence that the server acts with its own powers; an edit changes the arguments only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from textual.app import App
from textual.widgets import Footer, TextArea

from slop_tui.models import Decision, Edit, McpCallArgs, Proposal, Reject
from slop_tui.ui.screens.clutch import ClutchScreen
from tests.ui.helpers import screen_text

ARGS = McpCallArgs(server="git", name="git_commit", arguments={"repo_path": "/repo", "message": "wip\x1b[2J"})


def mcp_proposal() -> Proposal:
    return Proposal(id="p-mcp-1", ticket_id="impl-config", tool="mcp__git__git_commit", arguments=ARGS)


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Decision | None] = []

    def on_mount(self) -> None:
        self.push_screen(ClutchScreen(mcp_proposal()), self.answers.append)


def footer(app: App[Any]) -> str:
    return " ".join(str(child.render()) for child in app.screen.query_one(Footer).query("*"))


async def test_the_clutch_shows_server_tool_arguments_and_the_servers_own_powers() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "mcp__git__git_commit" in text
        assert "MCP server git · tool git_commit" in text
        assert "The server acts with its own powers" in text
        assert '"repo_path": "/repo"' in text
        assert "\x1b" not in text and "\\u001b[2J" in text  # the escape is shown, not obeyed
        keys = footer(app)
        assert "approve" in keys and "allow network" not in keys and "always" not in keys
        await pilot.press("r")
        await pilot.press(*"not now")
        await pilot.press("enter")
        await pilot.pause()
    assert app.answers == [Reject(reason="not now")]


async def test_an_edit_changes_only_the_tools_arguments() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen.query_one("#edit-json", TextArea)
        assert '"server"' not in editor.text and '"message"' in editor.text  # the arguments alone
        editor.text = "[1, 2]"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "must be a JSON object" in screen_text(app) and app.answers == []
        editor.text = '{"repo_path": "/repo", "message": "a better message"}'
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.answers == [
        Edit(arguments=McpCallArgs(server="git", name="git_commit", arguments={"repo_path": "/repo", "message": "a better message"}))
    ]


async def test_the_tuis_doctor_lists_the_servers_without_starting_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slop_tui.ui.screens.doctor import doctor_report

    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.toml").write_text('[mcp.servers.git]\ncommand = "mcp-server-git"\ntools = ["git_status"]\n')
    monkeypatch.setenv("SLOP_CONFIG_DIR", str(config))
    report = doctor_report(tmp_path)  # inside a running loop, as the TUI calls it
    assert "MCP servers (a run starts them)" in report
    assert "git            stdio  mcp-server-git  (approve = reads, tools git_status)" in report
