"""Snapshots for issue 19's defects, at 80x24 and 120x40: plan review with its dependencies
in view at 80 columns, the log pane maximised.

Update after a deliberate change with
`pytest tests/ui/test_defect_snapshots.py --snapshot-update` (the whole file: run with `-k`,
syrupy deletes the snapshots it did not run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from slop_tui.models import Archetype, Ticket, Track
from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from tests.ui.helpers import SIZES, sample_events


def demo_tracks() -> list[Track]:
    """The demo's plan with its real (long) titles: the titles are what crowded `after` out."""
    def t(tid: str, title: str, arch: Archetype, deps: list[str], files: list[str]) -> Ticket:
        return Ticket(id=tid, title=title, description=f"{title}.", archetype=arch, depends_on=deps, target_files=files)

    return [
        Track(
            id="config",
            title="Refactor the config system",
            description="One typed Settings object instead of globals.",
            tickets=[
                t("stub-config", "Stub the Settings interface in app/config.py", Archetype.CONTRACT_STUBBER, [],
                  ["app/config.py"]),
                t("impl-config", "Implement load_settings and friends", Archetype.IMPLEMENTER, ["stub-config"],
                  ["app/config.py"]),
                t("use-config", "Read settings everywhere instead of the globals and PENNY_* lookups",
                  Archetype.IMPLEMENTER, ["stub-config"], ["app/storage.py", "app/report.py", "app/notify.py", "app/cli.py"]),
                t("test-config", "Test the new Settings: precedence, errors, overrides", Archetype.TESTER,
                  ["impl-config", "use-config"], ["tests/test_settings.py"]),
            ],
        )
    ]


def bare_app() -> SlopApp:
    return SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)


@SIZES
def test_plan_review_shows_dependencies(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(PlanReviewScreen(demo_tracks()))
        await pilot.pause()
        await pilot.press("down", "down", "down", "down")

    assert snap_compare(bare_app(), run_before=before, terminal_size=size)


@SIZES
def test_log_pane_maximised(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#log").focus()
        await pilot.pause()
        pilot.app.screen.action_maximize()
        await pilot.pause()

    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())
    assert snap_compare(app, run_before=before, terminal_size=size)
