"""The board under another screen writes nothing to the terminal (over SSH every byte crosses the
network), and shows what changed meanwhile once it is back on top.

Textual repaints a covered screen's regions through the screen on top: before, each board row
changed under the ticket detail made the app redraw (~24 KB/s at 200 events/s in
`benchmarks/bench_tui.py --bytes`'s setup, for a screen that showed nothing new)."""

from __future__ import annotations

from pathlib import Path

from slop_tui.models import Tier, Usage, UsageUpdated
from slop_tui.testing import TerminalBytes
from slop_tui.ui.app import SlopApp
from slop_tui.ui.messages import SessionEvents
from slop_tui.ui.run_view import format_tokens
from slop_tui.ui.screens.ticket_detail import TicketDetailScreen
from tests.ui.helpers import sample_events, screen_text, wait_for


def use_config_row(app: SlopApp) -> str:
    return next(line for line in screen_text(app).splitlines() if "use-config" in line)


async def test_rows_changed_under_the_ticket_detail_write_nothing_and_show_once_back() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=sample_events())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        shown = format_tokens(5 * 42_000)
        assert shown not in use_config_row(app)
        stub = next(v for v in app.view.tickets.values() if v.ticket.id == "stub-config")
        app.open_ticket(stub)  # a ticket the events below do not touch
        await wait_for(lambda: isinstance(app.screen, TicketDetailScreen), pilot=pilot)
        await pilot.pause(0.3)
        written = TerminalBytes(app)
        app.screen.refresh()  # one frame through the counting driver: it counts
        await pilot.pause(0.3)
        assert written.total > 0
        before = written.total

        usage = Usage(input_tokens=40_000, output_tokens=2_000)
        for _ in range(5):  # five flushes' worth: each changes the use-config row and the header
            app.post_message(SessionEvents([UsageUpdated(
                ticket_id="use-config", track_id="config", tier=Tier.WORKER, model="m", usage=usage)]))
            await pilot.pause(0.15)
        assert written.total == before  # nothing on the terminal changed, nothing was written

        app.pop_screen()
        await wait_for(lambda: shown in use_config_row(app), pilot=pilot)
        assert written.total > before
