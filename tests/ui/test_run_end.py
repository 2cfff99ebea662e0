"""The end-of-run screen on a real git repository (Textual's pilot): it lists the run's ticket
commits and shows the whole diff, `l` lands the run, `d` asks and then drops it, and a git
failure is one line in a toast with nothing moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.command import CommandList

from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.board import BoardScreen
from slop_tui.ui.screens.run_end import ConfirmDropScreen, RunEndScreen
from slop_tui.vcs import RunBranch
from tests.ui.git_run import BRANCH, branch_sha, git, make_git_run
from tests.ui.helpers import screen_text, wait_for

SIZE = (100, 40)


class Toasts:
    """Every `notify` the app shows, as (message, severity)."""

    def __init__(self, app: SlopApp) -> None:
        self.seen: list[tuple[str, str]] = []
        original = app.notify

        def record(message: str, **kwargs: Any) -> None:
            self.seen.append((message, kwargs.get("severity", "information")))
            original(message, **kwargs)

        app.notify = record  # type: ignore[method-assign]


def plain_app(repo: Path) -> SlopApp:
    return SlopApp(repo_root=repo, session_factory=None, prefs_env={"SLOP_CONFIG_DIR": str(repo.parent / "prefs")})


async def open_screen(pilot: Any, app: SlopApp, repo: Path, run: RunBranch) -> RunEndScreen:
    screen = RunEndScreen(repo, run)
    app.push_screen(screen)
    await wait_for(lambda: screen.loaded is not None, pilot=pilot)
    await pilot.pause()
    return screen


async def test_lists_the_ticket_commits_and_shows_the_whole_diff(tmp_path: Path) -> None:
    repo, run = make_git_run(tmp_path)
    app = plain_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot, app, repo, run)
        assert screen.loaded is not None
        assert [c.ticket_id for c in screen.loaded.commits] == ["a", "c"]
        text = screen_text(app)
        for commit in screen.loaded.commits:
            assert commit.sha[:7] in text
        assert "Write add" in text and "(a)" in text and "calc.py" in text
        assert "notes.md" in text and "+def add(a, b):" in text
        assert "2 tickets · +4 -0" in text
        # A title and a file from the run with escapes and markup: shown as written, never run.
        assert "Write notes \\x1b[31m[bold]loud[/]" in text
        assert "+\\x1b[2J\\x1b[31mred [@click=app.quit]x[/]" in text
        assert "\x1b" not in text


async def test_l_lands_the_run_on_the_base_branch(tmp_path: Path) -> None:
    repo, run = make_git_run(tmp_path)
    tip = branch_sha(repo, BRANCH)
    app = plain_app(repo)
    toasts = Toasts(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, app, repo, run)
        await pilot.press("l")
        await wait_for(lambda: isinstance(app.screen, BoardScreen), pilot=pilot)
        assert branch_sha(repo, "main") == tip
        assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
        assert toasts.seen and toasts.seen[-1][1] == "information"


async def test_d_asks_first_and_drops_only_when_confirmed(tmp_path: Path) -> None:
    repo, run = make_git_run(tmp_path)
    tip = branch_sha(repo, BRANCH)
    app = plain_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, app, repo, run)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDropScreen)
        assert f"Drop {BRANCH}?" in screen_text(app)
        await pilot.press("escape")  # kept: nothing changed
        await pilot.pause()
        assert isinstance(app.screen, RunEndScreen)
        assert branch_sha(repo, BRANCH) == tip
        await pilot.press("enter")  # Enter is no answer to a destructive question
        await pilot.press("d", "y")
        await wait_for(lambda: isinstance(app.screen, BoardScreen), pilot=pilot)
        assert branch_sha(repo, BRANCH) is None
        assert branch_sha(repo, "main") == run.base_sha
        assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"


async def test_a_git_failure_is_one_line_and_moves_nothing(tmp_path: Path) -> None:
    repo, run = make_git_run(tmp_path)
    tip = branch_sha(repo, BRANCH)
    git(repo, "branch", "-D", "main")  # the branch to land on is gone: git refuses
    app = plain_app(repo)
    toasts = Toasts(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot, app, repo, run)
        await pilot.press("l")
        await wait_for(lambda: any(severity == "error" for _, severity in toasts.seen), pilot=pilot)
        message = next(m for m, severity in toasts.seen if severity == "error")
        assert "\n" not in message and "Traceback" not in message and message
        assert isinstance(app.screen, RunEndScreen)  # still there to try again or go back
        assert branch_sha(repo, BRANCH) == tip
        assert git(repo, "symbolic-ref", "--short", "HEAD") == BRANCH


async def test_g_on_the_board_opens_it_and_escape_goes_back(tmp_path: Path) -> None:
    repo, _run = make_git_run(tmp_path)
    app = plain_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")  # the prompt has the keys at first: give them to the board
        await pilot.press("g")
        await wait_for(lambda: isinstance(app.screen, RunEndScreen), pilot=pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)


async def test_the_palette_command_opens_it(tmp_path: Path) -> None:
    repo, _run = make_git_run(tmp_path)
    app = plain_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"run branch")

        def found() -> bool:
            return any("Run branch" in str(option.prompt) for option in app.screen.query_one(CommandList).options)

        await wait_for(found, pilot=pilot)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, RunEndScreen), pilot=pilot)


async def test_g_in_a_plain_folder_says_there_is_no_run_branch(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    repo.mkdir()
    app = plain_app(repo)
    toasts = Toasts(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "g")
        await wait_for(lambda: bool(toasts.seen), pilot=pilot)
        assert "No run branch" in toasts.seen[-1][0]
        assert isinstance(app.screen, BoardScreen)


async def test_a_run_in_a_git_repository_ends_on_this_screen_and_lands(tmp_path: Path) -> None:
    from tests.ui.scenario import CALC_V2, NOTES, app_on, make_repo
    from tests.ui.test_pilot import run_to_end

    repo, env = make_repo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "Initial commit")
    base = branch_sha(repo, "main")
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        await wait_for(lambda: isinstance(app.screen, RunEndScreen), pilot=pilot)
        screen = app.screen
        assert isinstance(screen, RunEndScreen)
        await wait_for(lambda: screen.loaded is not None, pilot=pilot)
        assert screen.loaded is not None
        assert sorted(c.ticket_id for c in screen.loaded.commits) == ["a", "b", "c"]
        assert branch_sha(repo, "main") == base  # the user's branch did not move during the run
        tip = branch_sha(repo, screen.run.branch)
        await pilot.press("l")
        await wait_for(lambda: isinstance(app.screen, BoardScreen), pilot=pilot)
    assert branch_sha(repo, "main") == tip
    assert (repo / "calc.py").read_text() == CALC_V2 and (repo / "notes.md").read_text() == NOTES
