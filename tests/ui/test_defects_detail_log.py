"""Defects from a day at the board (issue 19), continued: the ticket detail and the log pane."""

from __future__ import annotations

from pathlib import Path

import pytest

from slop_tui.models import (
    AnyEvent,
    Approve,
    ApproveHunks,
    ErrorRaised,
    HintGiven,
    ModelText,
    PlanAccepted,
    Proposal,
    ProposalMade,
    Reject,
    Tier,
    ToolResult,
    WriteFileArgs,
)
from slop_tui.ui.app import SlopApp
from slop_tui.ui.run_view import RunView, TicketView, describe_decision
from slop_tui.ui.screens.ticket_detail import TicketDetailScreen, event_line
from slop_tui.ui.widgets.log_pane import LogPane
from tests.ui.helpers import sample_events, sample_tracks, screen_text


# -- ticket detail ---------------------------------------------------------------------------


def _seq(events: list[AnyEvent]) -> list[AnyEvent]:
    for n, event in enumerate(events, start=1):
        event.seq, event.at = n, 0.0
    return events


def detail_view(*extra: AnyEvent) -> tuple[RunView, TicketView]:
    run = RunView()
    for event in _seq([PlanAccepted(tracks=sample_tracks()), *extra]):
        run.apply(event)
    view = run.find("impl-config")
    assert view is not None
    return run, view


async def test_the_worker_tab_separates_turns_and_joins_streamed_pieces() -> None:
    _, view = detail_view(
        ModelText(ticket_id="impl-config", tier=Tier.WORKER, text="I read the file"),
        ModelText(ticket_id="impl-config", tier=Tier.WORKER, text=" first."),
        ToolResult(ticket_id="impl-config", tool="read_file", ok=True, output="..."),
        ModelText(ticket_id="impl-config", tier=Tier.WORKER, text="Now I write it."),
    )
    assert view.text == ["I read the file first.", "Now I write it."]
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(TicketDetailScreen(view))
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        lines = [line.strip() for line in screen_text(app).splitlines() if line.strip()]
        first = lines.index("I read the file first.")
        assert set(lines[first + 1]) == {"─"} and lines[first + 2] == "Now I write it."


def test_the_events_tab_has_one_short_line_per_event() -> None:
    payload = "x = 1\n" * 400
    _, view = detail_view(
        ProposalMade(proposal=Proposal(id="p1", ticket_id="impl-config", tool="write_file",
                                       arguments=WriteFileArgs(path="app/config.py", content=payload))),
        ToolResult(ticket_id="impl-config", tool="run_command", ok=False, output="exit code 1\n" + "E   boom\n" * 50),
        ErrorRaised(ticket_id="impl-config", message="bad payload " + '{"content": "' + "y" * 5000 + '"}'),
    )
    lines = [event_line(entry).plain for entry in view.history]
    assert len(lines) == 3
    assert all("\n" not in line and len(line) < 200 for line in lines), lines
    assert lines[1].endswith("warn  run_command failed: exit code 1")
    assert "error" in lines[2] and lines[2].endswith("…")


async def test_a_no_op_write_says_no_change_not_its_payload() -> None:
    content = "SECRET_PAYLOAD_LINE = 1\n"
    _, view = detail_view(
        ProposalMade(proposal=Proposal(id="p1", ticket_id="impl-config", tool="write_file",
                                       arguments=WriteFileArgs(path="app/config.py", content=content), diff="")),
    )
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(100, 24)) as pilot:
        app.push_screen(TicketDetailScreen(view))
        await pilot.pause()
        await pilot.press("4")
        await pilot.pause()
        text = screen_text(app)
    assert "write_file app/config.py: no change" in text
    assert "SECRET_PAYLOAD_LINE" not in text


@pytest.mark.parametrize("tab", ["1", "2", "3"])
async def test_ticket_detail_scrolls_without_tab(tab: str) -> None:
    many = [ToolResult(ticket_id="impl-config", tool="read_file", ok=True, output=f"line {n}") for n in range(60)]
    texts = [ModelText(ticket_id="impl-config", tier=Tier.WORKER, text=f"turn {n}") for n in range(3)]
    mixed: list[AnyEvent] = []
    for n, event in enumerate(many):
        mixed.append(event)
        if n < 30:
            mixed.append(ModelText(ticket_id="impl-config", tier=Tier.WORKER, text=f"turn {n}"))
    _, view = detail_view(*mixed, *texts[:0])
    view.ticket.description = "\n".join(f"description line {n}" for n in range(60))
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(TicketDetailScreen(view))
        await pilot.pause()
        await pilot.press(tab)
        await pilot.pause()
        pane = app.screen.query_one(f"#{ {'1': 'overview', '2': 'worker', '3': 'events'}[tab]} .pane-scroll")
        if tab == "2":
            pane.scroll_home(animate=False)
            await pilot.pause()
        before = pane.scroll_y
        await pilot.press("pagedown")
        await pilot.pause()
        assert pane.scroll_y > before


def test_decisions_are_described_precisely() -> None:
    diff = "".join(
        f"--- a/f.py\n+++ b/f.py\n" if n == 0 else "" for n in range(1)
    ) + "".join(f"@@ -{10 * n + 1},1 +{10 * n + 1},1 @@\n-old{n}\n+new{n}\n" for n in range(3))
    proposal = Proposal(id="p", ticket_id="t", tool="write_file", arguments=WriteFileArgs(path="f.py", content=""), diff=diff)
    assert describe_decision(ApproveHunks(hunks=[2, 0], reason="keep the old name"), proposal) == (
        "approved hunks 1, 3 of 3 (keep the old name)"
    )
    assert describe_decision(ApproveHunks(hunks=[1], reason=""), proposal) == "approved hunk 2 of 3"
    assert describe_decision(Approve(always="pytest -q")) == "approved, always for this run: pytest -q"
    assert describe_decision(Approve()) == "approved"
    assert describe_decision(Reject(reason="no")) == "rejected (no)"


# -- the log pane ----------------------------------------------------------------------------


def replayed() -> SlopApp:
    return SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())


async def test_the_log_pane_grows_with_the_screen_and_maximises() -> None:
    heights: dict[int, int] = {}
    for rows in (24, 40):
        app = replayed()
        async with app.run_test(size=(100, rows)) as pilot:
            await pilot.pause()
            log = app.screen.query_one("#log")
            heights[rows] = log.size.height
            if rows == 40:
                log.focus()
                await pilot.pause()
                app.screen.action_maximize()
                await pilot.pause()
                assert log.size.height >= rows - 2  # all but the footer
                app.screen.action_minimize()
                await pilot.pause()
                assert log.size.height == heights[rows]
    assert heights[40] > heights[24] + 4


def test_a_qa_hint_is_not_repeated_in_the_failed_result_after_it() -> None:
    hint = "System Hint: app/config.py line 12 says Setings; the class is Settings."
    run, view = detail_view(
        HintGiven(ticket_id="impl-config", command="pytest -q", exit_code=1, hint=hint, raw_output="boom"),
        ToolResult(ticket_id="impl-config", tool="run_command", ok=False,
                   output=f"Command failed (exit code 1). {hint}"),
    )
    hint_line, result_line = [e.text for e in view.history]
    assert hint in hint_line
    assert hint not in result_line and "run_command failed: Command failed (exit code 1). (QA hint above)" == result_line
    assert view.hints == 1
    other = run.find("use-config")
    assert other is not None and other.hints == 0


def test_plan_accepted_counts_in_words() -> None:
    run, _ = detail_view()
    assert run.log[0].text == "plan accepted: 1 track, 4 tickets"


async def test_slash_searches_the_log() -> None:
    app = replayed()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        log = app.screen.query_one("#log", LogPane)
        log.focus()
        await pilot.press("slash")
        await pilot.press(*"setings", "enter")  # case-insensitive: the hint says "Setings"
        await pilot.pause()
        shown = [strip.text for strip in log.lines]
        levels = ("debug", "info", "hint", "warn", "error")
        entries = [line for line in shown if line.split(" ", 1)[0] in levels]  # wrapped lines follow theirs
        assert len(entries) == 1 and "Setings" in " ".join(shown), shown
        assert "search: setings" in str(log.border_title)
        await pilot.press("slash")
        await pilot.press("ctrl+u", "enter")  # an empty search: everything again
        await pilot.pause()
        assert len(log.lines) > len(shown)
