"""Snapshots of the clutch at 80x24 and 120x40: why the call was made over a highlighted diff,
hunk by hunk selection, long lines wrapped whole, a command with `network: off`.

Update after a deliberate change with
`pytest tests/ui/test_clutch_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from textual.pilot import Pilot

from slop_tui.models import Proposal, ProposalContext, WriteFileArgs
from slop_tui.tools.proposals import unified_diff
from slop_tui.ui.screens.clutch import ClutchScreen
from tests.ui.helpers import SIZES, command_proposal, write_proposal
from tests.ui.test_clutch_screen import many_hunks
from tests.ui.test_snapshots import replayed_app

WHY = ProposalContext(
    reason=(
        "The globals are read in three modules; one frozen Settings dataclass gives them a typed "
        "home, and get_settings() keeps the old call sites working until use-config moves them."
    ),
    ticket_title="Implement load_settings",
    number=2,
    model="openai:gpt-4.1",
    tokens=18_400,
)


def _with_why(proposal: Proposal, reason: str | None = None) -> Proposal:
    context = WHY if reason is None else msgspec.structs.replace(WHY, reason=reason)
    return msgspec.structs.replace(proposal, context=context)


def long_lines() -> Proposal:
    before = 'HELP = "short"\n'
    after = (
        'HELP = "Settings are read from the environment first, then from settings.toml in the '
        'repository, then from the defaults written here; the first value found wins and is read here and nowhere else"\n'
    )
    return Proposal(
        id="p-long-1",
        ticket_id="impl-config",
        tool="write_file",
        arguments=WriteFileArgs(path="app/help.py", content=after),
        diff=unified_diff("app/help.py", before, after),
    )


def _show(proposal: Proposal, *keys: str) -> Any:
    async def before(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(ClutchScreen(proposal, waiting=1))
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.pause()

    return before


@SIZES
def test_clutch_why_over_a_highlighted_diff(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), run_before=_show(_with_why(write_proposal())), terminal_size=size)


@SIZES
def test_clutch_hunk_selection(snap_compare: Any, size: tuple[int, int]) -> None:
    proposal = _with_why(many_hunks(), "Three renames in one file; the middle one is optional.")
    assert snap_compare(replayed_app(), run_before=_show(proposal, "down", "space"), terminal_size=size)


@SIZES
def test_clutch_long_lines_wrapped(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(replayed_app(), run_before=_show(_with_why(long_lines(), "One line of help.")), terminal_size=size)


@SIZES
def test_clutch_command_network_off(snap_compare: Any, size: tuple[int, int]) -> None:
    proposal = _with_why(command_proposal(), "Run the config tests to see whether the rename broke anything.")
    assert snap_compare(replayed_app(), run_before=_show(proposal), terminal_size=size)
