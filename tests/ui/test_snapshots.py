"""Snapshots of every screen at 80x24 and 120x40, from a fixed run (no clock, no temp path).

Files live in the top-level `snapshots/` folder (see conftest). Each test is named for what it
shows. Update after a deliberate change with `pytest tests/ui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TextArea

from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.clutch import ClutchScreen
from tests.ui.helpers import SIZES, command_proposal, hostile_command_proposal, sample_events, write_proposal


def replayed_app(*, demo: bool = True) -> SlopApp:
    # A fixed repository path that never appears on screen; the session is never started.
    return SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=demo, replay=sample_events())


@SIZES
def test_board_mid_run(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), terminal_size=size)


@SIZES
def test_board_empty_before_a_run(snap_compare: Any, size: tuple[int, int]) -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, initial_prompt="Refactor config system")
    assert snap_compare(app, terminal_size=size)


@SIZES
def test_ticket_detail_overview(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), press=["down", "down", "enter"], terminal_size=size)


@SIZES
def test_ticket_detail_diffs(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), press=["down", "down", "enter", "4"], terminal_size=size)


async def _clutch(pilot: Pilot[Any], proposal: Any = None, waiting: int = 2) -> None:
    pilot.app.push_screen(ClutchScreen(proposal or write_proposal(), waiting=waiting))
    await pilot.pause()


@SIZES
def test_clutch_diff(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), run_before=_clutch, terminal_size=size)


@SIZES
def test_clutch_command(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await _clutch(pilot, command_proposal(), waiting=1)

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)


@SIZES
def test_clutch_hostile_command_shown_escaped_and_whole(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await _clutch(pilot, hostile_command_proposal(), waiting=1)

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)


@SIZES
def test_clutch_edit_json(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await _clutch(pilot)
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)


@SIZES
def test_clutch_invalid_edit(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await _clutch(pilot)
        await pilot.press("e")
        await pilot.pause()
        pilot.app.screen.query_one("#edit-json", TextArea).text = '{"path": "app/config.py", "content": 42}\n'
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)


@SIZES
def test_clutch_reject_needs_a_reason(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await _clutch(pilot)
        await pilot.press("r", "enter")  # an empty reason is refused inline
        await pilot.pause()

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)


@SIZES
def test_log_hint_with_raw_stderr(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), press=["s"], terminal_size=size)


@SIZES
def test_log_filtered_to_one_ticket_warnings_up(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), press=["down", "down", "f", "v", "v"], terminal_size=size)


def test_light_theme_board(snap_compare: Any) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "slop-light"
        await pilot.pause()

    assert snap_compare(replayed_app(), run_before=before, terminal_size=(80, 24))


@SIZES
def test_run_end_commits_and_whole_diff(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    from slop_tui.ui.screens.run_end import RunEndScreen
    from tests.ui.git_run import make_git_run
    from tests.ui.helpers import wait_for

    repo, run = make_git_run(tmp_path)  # fixed identity and dates: the same shas every time

    async def before(pilot: Pilot[Any]) -> None:
        screen = RunEndScreen(repo, run)
        pilot.app.push_screen(screen)
        await wait_for(lambda: screen.loaded is not None, pilot=pilot)
        await pilot.pause()

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)
