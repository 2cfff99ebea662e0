"""`slop status` through the real command line after the scripted demo: every ticket, every
tier and the run show input / cached / output tokens and a cost (the scripted team priced as
the default models), and the figures are the recorded ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.conductor.status import usage_line
from slop_tui.config import DEFAULT_MODELS
from slop_tui.store import Store
from tests.conductor.demo import DemoRun


def test_status_shows_tokens_and_cost_per_ticket_tier_and_run(tmp_path: Path, demo: DemoRun) -> None:
    repo = Path(shutil.copytree(demo.repo, tmp_path / "repo"))
    status = subprocess.run(
        [sys.executable, "-m", "slop_tui", "status", "--repo", str(repo)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "SLOP_CONFIG_DIR": demo.config.config_dir},
    )
    assert status.returncode == 0, status.stderr
    out = status.stdout
    state = Store(repo).load_state()
    assert state is not None
    # The scripted worker stands for a model with a prefix cache: reads show, and are priced.
    assert state.usage.cost_usd is not None and state.usage.cost_usd > 0
    assert state.usage.cache_read_tokens > 0
    lines = out.splitlines()
    for _, ticket in state.tickets():
        row = next(n for n, line in enumerate(lines) if line.split()[:1] == [ticket.id])
        assert lines[row + 1].split() == ["tokens:", *usage_line(ticket.usage).split()]
        assert ticket.usage.cost_usd is not None
    assert f"({usage_line(state.usage)})" in out
    for tier, usage in state.usage_by_tier.items():
        assert f"  {tier.value:<14} {usage_line(usage)}" in lines
    assert "cost unknown" not in out
    # Whose prices those are, said once (an offline team costs nothing itself).
    assert (
        "costs: the scripted (offline) team priced as the default models "
        f"(planner {DEFAULT_MODELS['planner']}, lead {DEFAULT_MODELS['lead']}, "
        f"worker {DEFAULT_MODELS['worker']}, default_cheap {DEFAULT_MODELS['default_cheap']})"
    ) in lines
    assert "$" in usage_line(state.usage) and " cached, " in usage_line(state.usage)


def test_doctor_says_whose_prices_the_scripted_team_borrows(demo: DemoRun, capsys: pytest.CaptureFixture[str]) -> None:
    from slop_tui.commands.doctor import _prices

    _prices(demo.config, 20)
    out = capsys.readouterr().out
    assert f"offline, priced as {DEFAULT_MODELS['worker']}" in out
    assert "no cost" not in out
