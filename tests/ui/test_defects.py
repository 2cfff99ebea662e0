"""Defects from a day at the board (issue 19), each pinned by a test through the pilot: a
refused undo in the board's words, plan review's columns and count, doctor in the demo, the
keys after the startup doctor. The ticket detail and the log pane: test_defects_detail_log."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest
from textual.widgets import Input

from slop_tui.commands import doctor
from slop_tui.models import TicketState
from slop_tui.ui.app import SlopApp
from slop_tui.ui.launch import build_app, prepare_demo
from slop_tui.ui.screens.board import BoardScreen
from slop_tui.ui.screens.doctor import DoctorScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from slop_tui.ui.screens.run_end import RunEndScreen
from tests.ui.git_run import git
from tests.ui.helpers import screen_text, wait_for
from tests.ui.scenario import app_on, make_repo
from tests.ui.test_defect_snapshots import demo_tracks
from tests.ui.test_pilot import SIZE, run_to_end, states
from tests.ui.test_run_end import Toasts


@pytest.mark.parametrize("in_git", [True, False], ids=["git", "plain"])
async def test_a_refused_undo_offers_what_the_board_can_do(tmp_path: Path, in_git: bool) -> None:
    """`a` wrote calc.py, `b` changed it since: undoing `a` is refused, and the refusal says to
    undo `b` first with the board's key, never a command-line flag."""
    repo, env = make_repo(tmp_path)
    if in_git:
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "README.md")
        git(repo, "commit", "-q", "-m", "Initial commit")
    app = app_on(repo, env, tmp_path)
    toasts = Toasts(app)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        if in_git:
            await wait_for(lambda: isinstance(app.screen, RunEndScreen), pilot=pilot)
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, BoardScreen), pilot=pilot)
        view = app.view.find("a")
        assert view is not None
        app.ticket_action("undo", view, confirmed=True)  # the refusal is under test, not the question
        await wait_for(lambda: any(s == "error" for _, s in toasts.seen), pilot=pilot)
        assert states(app)["a"] is TicketState.DONE
    said = [m for m, s in toasts.seen if s == "error"]
    assert len(said) == 1
    assert "Select b and press u on it first, then u on a again" in said[0]
    assert "--force" not in said[0] and "slop undo" not in said[0]
    assert (repo / "calc.py").exists()


@pytest.mark.parametrize("width", [80, 100])
async def test_plan_review_shows_every_dependency_whole(width: int) -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(width, 24)) as pilot:
        app.push_screen(PlanReviewScreen(demo_tracks()))
        await pilot.pause()
        rows = screen_text(app).splitlines()
        row = next(line for line in rows if "test-config" in line)
        assert "impl-config, use-config" in row
        assert "1 track, 4 tickets" in rows[0]
        await pilot.press("down", "down", "down", "down", "d", "y")  # test-config: nothing depends on it (asked first)
        await pilot.pause()
        rows = screen_text(app).splitlines()
        assert "1 track, 3 tickets" in rows[0]
        assert not any("test-config" in line for line in rows)


async def test_plan_review_refusing_a_delete_counts_its_dependents() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(120, 30)) as pilot:
        app.push_screen(PlanReviewScreen(demo_tracks()))
        await pilot.pause()
        await pilot.press("down", "down", "d")  # impl-config: test-config waits for it
        await pilot.pause()
        assert "test-config depends on it; edit its dependencies first" in screen_text(app)
        assert "4 tickets" in screen_text(app).splitlines()[0]


async def test_doctor_in_the_demo_reads_the_demos_config(tmp_path: Path) -> None:
    """The person's config (conftest: an empty folder, no keys) cannot run; the demo's can."""
    repo, env = prepare_demo(tmp_path)
    app = build_app(repo, env=env, demo=True, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "prefs")})
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_doctor()
        await wait_for(lambda: isinstance(app.screen, DoctorScreen), pilot=pilot)
        await pilot.pause()
        text = str(app.screen.query_one("#doctor-report").render())
        assert "CANNOT RUN" not in screen_text(app)
    assert "CANNOT RUN" not in text
    assert text.count("ok: offline built-in demo scenario") == 4
    assert env["SLOP_CONFIG_DIR"] in text


LONG_MODEL = "gpt-4o-mini-2024-07-18-ft-personal-with-a-very-long-fine-tune-suffix-abc123"


def test_doctor_columns_hold_with_a_long_model_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.toml").write_text(
        f'[models]\nplanner = "openai:{LONG_MODEL}"\nlead = "scripted:"\nworker = "scripted:"\ndefault_cheap = "scripted:"\n'
    )
    (tmp_path / "repo").mkdir()
    doctor.run(Namespace(repo=tmp_path / "repo"), env={"SLOP_CONFIG_DIR": str(config)})
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ") and line.split()[0] in
            ("planner", "lead", "worker", "default_cheap") and ("CANNOT RUN" in line or " ok: " in line)]
    assert len(rows) == 4 and LONG_MODEL in rows[0]
    status = {line.index("CANNOT RUN") if "CANNOT RUN" in line else line.index(" ok: ") + 1 for line in rows}
    assert len(status) == 1, rows  # one column for every tier's status


async def test_doctor_screen_scrolls_a_long_line_rather_than_wrapping_it(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.toml").write_text(f'[models]\nplanner = "openai:{LONG_MODEL}"\n')
    app = SlopApp(repo_root=tmp_path, session_factory=None, config_env={"SLOP_CONFIG_DIR": str(config)})
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_doctor()
        await wait_for(lambda: isinstance(app.screen, DoctorScreen), pilot=pilot)
        await pilot.pause()
        report = app.screen.query_one("#doctor-report")
        line = next(x for x in str(report.render()).splitlines() if LONG_MODEL in x)
        assert report.size.width >= len(line) > 80


async def test_after_the_startup_doctor_esc_then_q_types_nothing(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.toml").write_text('[models]\nplanner = "anthropic:claude-x"\n')  # no key anywhere
    repo = tmp_path / "repo"
    repo.mkdir()
    app = build_app(repo, env={"SLOP_CONFIG_DIR": str(config)}, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "prefs")})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: isinstance(app.screen, DoctorScreen), pilot=pilot)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, BoardScreen), pilot=pilot)
        await pilot.pause()
        prompt = app.screen.query_one("#prompt", Input)
        assert not prompt.has_focus
        await pilot.press("q")
        await pilot.pause()
        assert prompt.value == ""
