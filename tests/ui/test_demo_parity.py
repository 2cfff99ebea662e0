"""The demo's scenario on the sample repository, through `slop run --yes` and through the TUI
(pilot, approving every clutch): the same final files and the same ticket outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from slop_tui.demo import DEMO_PROMPT
from slop_tui.models import TicketState
from slop_tui.store import Store
from slop_tui.ui.launch import build_app, prepare_demo
from tests.conductor.demo import scaled_scenario
from tests.ui.helpers import screen_text, tree_files
from tests.ui.test_pilot import run_to_end

ROOT = Path(__file__).resolve().parents[2]


def without_latency(env: dict[str, str], base: Path) -> dict[str, str]:
    """The demo's config with its scenario's latencies at 0: the same replies, at test speed."""
    config = Path(env["SLOP_CONFIG_DIR"]) / "agents.toml"
    scenario = scaled_scenario(base, 0.0)
    config.write_text(config.read_text().replace("scripted:demo", f"scripted:{scenario}"))
    return env


def outcomes(repo: Path) -> dict[str, TicketState]:
    state = Store(repo).load_state()
    assert state is not None and state.finished
    return {ticket.id: ticket.state for _, ticket in state.tickets()}


async def test_tui_and_headless_runs_end_the_same(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    headless_repo, headless_env = prepare_demo(tmp_path / "a")
    headless_env = without_latency(headless_env, tmp_path / "a")
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "run", DEMO_PROMPT, "--repo", str(headless_repo), "--yes"],
        env={**os.environ, **headless_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    tui_repo, tui_env = prepare_demo(tmp_path / "b")
    tui_env = without_latency(tui_env, tmp_path / "b")
    app = build_app(tui_repo, env=tui_env, demo=True, initial_prompt=DEMO_PROMPT, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "prefs")})
    async with app.run_test(size=(120, 40)) as pilot:
        assert "offline demo" in screen_text(app)
        await run_to_end(pilot, app, timeout=180)
        # The failing command's QA hint reached the log pane.
        assert any(e.level.name == "HINT" and e.raw for e in app.view.log)

    assert outcomes(tui_repo) == outcomes(headless_repo)
    assert set(outcomes(tui_repo).values()) == {TicketState.DONE}
    assert tree_files(tui_repo) == tree_files(headless_repo)
