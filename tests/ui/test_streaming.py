"""Streamed text while a model writes: the header's spinner line shows the end of the text of
the call in flight, and the ticket's worker tab shows the worker's reply growing, both before
the call ends; escape codes in it are shown escaped, never sent to the terminal. The scripted
provider spreads its latency over the pieces of a reply, as a model's stream arrives.

Update this file's snapshots (only) with
`pytest tests/ui/test_streaming.py -n 0 --snapshot-update`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import RichLog

from slop_tui.models import ModelCallEnded, ModelCallStarted, ModelText, ModelTextDelta, Tier
from slop_tui.ui.app import SlopApp
from slop_tui.ui.messages import SessionEvents
from slop_tui.ui.pump import LiveText, post_in_order
from slop_tui.ui.run_view import RunView
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from slop_tui.ui.screens.ticket_detail import TicketDetailScreen
from slop_tui.ui.widgets.run_header import ModelCalls, RunHeader, text_tail
from tests.ui.helpers import SIZES, FixedClock, sample_events, screen_text, wait_for
from tests.ui.scenario import PLAN_TRACKS, app_on, make_repo

SIZE = (100, 30)
PLAN = json.dumps(PLAN_TRACKS)
# The worker's reply for ticket `a`, hostile: a colour code and a title-setting sequence.
WORDS = " ".join(f"word{n}" for n in range(40))
HOSTILE = f"Writing calc.py \x1b[31mnow\x1b[0m and \x1b]0;pwned\x07 then {WORDS} END."


def streaming_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The pilot scenario with a planner and ticket `a`'s first worker reply that take a while
    and stream their text in pieces."""
    repo, env = make_repo(tmp_path)
    scenario = tmp_path / "scenario.toml"
    text = scenario.read_text()
    text = text.replace("[[planner]]\n", "[[planner]]\nlatency_s = 0.6\n", 1)
    text = text.replace("[[worker.a]]\n", f"[[worker.a]]\nlatency_s = 2.0\ntext = {json.dumps(HOSTILE)}\n", 1)
    scenario.write_text(text)
    return repo, env


def header(app: SlopApp) -> str:
    return screen_text(app).splitlines()[0]


def worker_tab(app: SlopApp) -> str:
    """The worker tab as drawn: its logged turns, then the rows of the reply still streaming."""
    return screen_text(app)


async def test_the_header_and_the_worker_tab_show_text_as_it_streams(tmp_path: Path) -> None:
    repo, env = streaming_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        # The plan's start, on the spinner line, while the planner's call is under way: the
        # whole reply would not fit there, so this is text that arrived before the end.
        await wait_for(lambda: '{"tracks": [' in header(app) and "T1 planner" in header(app), pilot=pilot)
        assert app.calls and app.calls.streamed() != PLAN
        await wait_for(lambda: isinstance(app.screen, PlanReviewScreen), pilot=pilot)
        assert not app.calls.streamed()  # the call ended: its text went with its spinner
        await pilot.press("s")
        # The ticket's detail, open on its worker tab before its worker writes.
        await wait_for(lambda: "calc/a" in app.view.tickets, pilot=pilot)
        app.open_ticket(app.view.tickets["calc/a"])
        await wait_for(lambda: isinstance(app.screen, TicketDetailScreen), pilot=pilot)
        await pilot.pause()
        await pilot.press("2")
        await wait_for(lambda: app.screen.query_one("#worker-text", RichLog).size.width > 0, pilot=pilot)
        # Growing in the tab before the worker's call ends (nothing logged for it yet).
        view = app.view.tickets["calc/a"]
        await wait_for(lambda: "Writing calc.py" in worker_tab(app), pilot=pilot)
        assert not view.text and view.live and view.live != HOSTILE
        first = worker_tab(app)
        await wait_for(lambda: worker_tab(app) != first and "word" in worker_tab(app), pilot=pilot)
        # The escapes are shown, never sent: in the tab and on the spinner line alike.
        shown = screen_text(app)
        assert "\\x1b[31m" in worker_tab(app) and "\x1b" not in shown and "\x07" not in shown
        await wait_for(lambda: "END." in worker_tab(app) and app.view.tickets["calc/a"].text != [], timeout=10,
                       pilot=pilot)
        # The logged reply took the streamed one's place: the text is there once.
        await pilot.pause(0.15)
        assert worker_tab(app).count("Writing calc.py") == 1
        assert app.view.tickets["calc/a"].live == ""
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, ClutchScreen), pilot=pilot)
        await pilot.press("escape", "S", "y")  # stop the run from the board: the rest is another test's
        await wait_for(lambda: not app.running, timeout=10, pilot=pilot)


async def test_hostile_streamed_text_is_escaped_on_the_spinner_line() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(80, 24)) as pilot:
        app.busy = "planning…"
        app.calls.apply(ModelCallStarted(call=3, tier=Tier.PLANNER, model="m"))
        app.calls.apply(ModelTextDelta(call=3, tier=Tier.PLANNER, text="ok \x1b[2J\x1b]0;pwned\x07\u202e!"))
        app.board.refresh_header()
        await pilot.pause()
        line = header(app)
        assert "\\x1b[2J\\x1b]0;pwned\\x07<U+202E>!" in line, line
        assert "\x1b" not in screen_text(app)


def test_the_tail_keeps_the_end_and_cuts_escapes_whole() -> None:
    assert text_tail("hello\n\n  world", 20) == "hello world"
    assert text_tail("abcdefghij", 5) == "…ghij"
    # A cut never splits an escape: `\x1b` is 4 cells, shown whole or not at all.
    assert text_tail("abc\x1bdef", 6) == "…def"
    assert text_tail("abc\x1bdef", 8) == "…\\x1bdef"
    assert text_tail("", 10) == "" and text_tail("abc", 0) == ""


def test_streamed_text_belongs_to_its_call_and_goes_with_it() -> None:
    calls = ModelCalls(clock=FixedClock(1.0))
    calls.apply(ModelTextDelta(call=9, tier=Tier.WORKER, text="before its start"))  # ignored
    calls.apply(ModelCallStarted(call=9, tier=Tier.WORKER, model="m", ticket_id="a"))
    calls.apply(ModelTextDelta(call=9, tier=Tier.WORKER, text="x" * 500, ticket_id="a"))
    calls.apply(ModelTextDelta(call=9, tier=Tier.WORKER, text="yz", ticket_id="a"))
    assert calls.streamed().endswith("xyz") and len(calls.streamed()) == 400


@SIZES
def test_spinner_line_with_streamed_text(snap_compare: Any, size: tuple[int, int]) -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, initial_prompt="Refactor config system")

    async def before(pilot: Pilot[Any]) -> None:
        clock = FixedClock(100.0)
        app.calls.clock = clock
        app.busy = "planning…"
        app.running = True
        app.calls.apply(ModelCallStarted(call=1, tier=Tier.PLANNER, model="deepseek:deepseek-chat"))
        app.calls.apply(ModelTextDelta(call=1, tier=Tier.PLANNER, text='{"tracks": [{"id": "config", '))
        app.calls.apply(ModelTextDelta(call=1, tier=Tier.PLANNER, text='"title": "One typed Settings object"'))
        clock.now = 107.2
        app.board.refresh_header()
        await pilot.press("escape")
        await pilot.pause()

    assert snap_compare(app, run_before=before, terminal_size=size)


def test_a_logged_reply_replaces_the_streamed_one_in_the_mirror() -> None:
    view = RunView()
    for event in sample_events():
        view.apply(event)
    ticket = next(iter(view.tickets.values()))
    tid = ticket.ticket.id
    turns = len(ticket.text)
    view.apply(ModelCallStarted(call=5, tier=Tier.WORKER, model="m", ticket_id=tid))
    assert view.apply_live(ModelTextDelta(call=5, tier=Tier.WORKER, text="half a ", ticket_id=tid)) == ticket.key
    assert view.apply_live(ModelTextDelta(call=5, tier=Tier.DEFAULT_CHEAP, text="qa", ticket_id=tid)) is None
    view.apply_live(ModelTextDelta(call=5, tier=Tier.WORKER, text="reply", ticket_id=tid))
    assert ticket.live == "half a reply"
    view.apply(ModelText(ticket_id=tid, tier=Tier.WORKER, text="half a reply."))
    assert ticket.live == "" and ticket.text[-1] == "half a reply." and len(ticket.text) == turns + 1
    # A call that failed takes its partial text with it.
    view.apply(ModelCallStarted(call=6, tier=Tier.WORKER, model="m", ticket_id=tid))
    view.apply_live(ModelTextDelta(call=6, tier=Tier.WORKER, text="cut o", ticket_id=tid))
    view.apply(ModelCallEnded(call=6, tier=Tier.WORKER, ok=False, ticket_id=tid))
    assert ticket.live == ""


async def test_the_header_under_another_screen_waits_and_is_current_when_the_board_is_back() -> None:
    """Textual composes the board under the ticket detail: a header repainted there repainted
    the whole detail (4 times a second while a call is under way). It is drawn again once the
    board is back on top, with what changed meanwhile."""
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=sample_events())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        app.open_ticket(next(iter(app.view.tickets.values())))
        await wait_for(lambda: isinstance(app.screen, TicketDetailScreen), pilot=pilot)
        await pilot.pause()
        header_widget = app.board.query_one(RunHeader)
        refreshes = 0
        original = header_widget.refresh

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal refreshes
            refreshes += 1
            return original(*args, **kwargs)

        header_widget.refresh = counting  # type: ignore[method-assign]
        app.linear = True
        app.board.refresh_header()
        assert refreshes == 0
        app.pop_screen()
        await wait_for(lambda: "· linear" in header(app), pilot=pilot)


def test_the_pump_keeps_a_calls_text_between_its_start_and_its_end() -> None:
    started = ModelCallStarted(call=1, tier=Tier.WORKER, model="m", ticket_id="a")
    d1 = ModelTextDelta(call=1, tier=Tier.WORKER, text="one ", ticket_id="a")
    d2 = ModelTextDelta(call=1, tier=Tier.WORKER, text="two", ticket_id="a")
    ended = ModelCallEnded(call=1, tier=Tier.WORKER, ok=True, ticket_id="a")
    posted: list[Any] = []
    post_in_order([started, d1, d2, ended], posted.append)
    assert [type(m) for m in posted] == [SessionEvents, LiveText, SessionEvents]
    assert posted[0].events == [started] and posted[1].deltas == [d1, d2] and posted[2].events == [ended]
