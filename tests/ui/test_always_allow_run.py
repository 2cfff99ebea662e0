"""Always allow in a real run (scripted team, real sandbox): `A` with a prefix approves the
command, the next command it covers skips the clutch, the header shows the rule, and the
palette's "Revoke always-allow" removes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from slop_tui.models import Approve, DecisionMade, RunCommandArgs
from slop_tui.store import Store
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.widgets.run_header import RunHeader
from tests.ui.helpers import screen_text, wait_for
from tests.ui.scenario import PLAN_TRACKS, _reply, _toml_str, app_on
from tests.ui.test_pilot import drive


async def test_an_always_allowed_prefix_skips_the_clutch_shows_in_the_header_and_is_revoked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("calc\n")
    tickets = {"tickets": [{"id": "a", "title": "Check", "description": "Check twice.", "archetype": "implementer",
                            "depends_on": [], "target_files": ["README.md"]}]}
    scenario = tmp_path / "scenario.toml"
    scenario.write_text("\n".join([
        f"[[planner]]\ntext = {_toml_str(json.dumps(PLAN_TRACKS))}\n",
        f"[[lead]]\ntext = {_toml_str(json.dumps(tickets))}\n",
        _reply("a", "run_command", command="test -f README.md", timeout_s=30),
        _reply("a", "run_command", command="test -f README.md -a -s README.md", timeout_s=30),
        _reply("a", "finish", summary="checked"),
    ]))
    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.toml").write_text(
        "[models]\n" + "".join(f'{t} = "scripted:{scenario}"\n' for t in ("planner", "lead", "worker", "default_cheap"))
    )
    app = app_on(repo, {"SLOP_CONFIG_DIR": str(config)}, tmp_path)
    asked: list[str] = []

    async def always_prefix(pilot: Any, screen: ClutchScreen) -> bool:
        args = screen.proposal.arguments
        assert isinstance(args, RunCommandArgs)
        asked.append(args.command)
        if not screen.proposal.sandboxed:
            pytest.skip("no working OS sandbox here: always-allow is never offered unsandboxed")
        await pilot.press("A")
        await pilot.pause()
        screen.query_one("#ask-input", Input).value = "test -f"
        await pilot.press("enter")
        await pilot.pause()
        return True

    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("enter")
        await drive(pilot, app, always_prefix, timeout=30)
        assert asked == ["test -f README.md"]  # the second command matched the rule
        assert app.allow_list.rules() == ["test -f"]
        header = app.board.query_one(RunHeader)
        assert "always allowed: test -f" in screen_text(app)
        assert "always allowed: test -f" in getattr(header.tooltip, "plain", str(header.tooltip))
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Revoke always")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(lambda: app.allow_list.rules() == [], pilot=pilot)
        await pilot.pause()
        assert "always allowed" not in screen_text(app)
    decisions = [e.decision for e in Store(repo).events() if isinstance(e, DecisionMade)]
    assert Approve(always="test -f") in decisions
