"""The UI's mirror of a run, folded from bus events."""

from __future__ import annotations

import copy
from pathlib import Path

from slop_tui.models import (
    Approve,
    ContextBuilt,
    ContextFile,
    PlanAccepted,
    Reject,
    DecisionMade,
    FileChanged,
    FilesRestored,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
    Ticket,
    Usage,
    UsageUpdated,
)
from slop_tui.ui.run_view import Level, RunView, format_cost, format_tokens
from slop_tui.ui.app import SlopApp
from tests.ui.helpers import sample_events, sample_tracks, screen_text


def folded() -> RunView:
    view = RunView()
    for event in sample_events():
        view.apply(event)
    return view


def test_states_usage_and_workers_follow_the_events() -> None:
    view = folded()
    states = {v.ticket.id: v.ticket.state for v in view.tickets.values()}
    assert states == {
        "stub-config": TicketState.DONE,
        "impl-config": TicketState.AWAITING_APPROVAL,
        "use-config": TicketState.IN_PROGRESS,
        "test-config": TicketState.TODO,
    }
    impl = view.tickets["config/impl-config"]
    assert impl.worker == "scripted:demo"
    # worker call + QA call on the ticket
    assert impl.ticket.usage.input_tokens == 1200 + 400
    assert view.tier_usage[Tier.PLANNER].input_tokens == 1200
    assert view.total.input_tokens == 4 * 1200 + 400
    assert view.tickets["config/stub-config"].ticket.result_summary == "Settings stubbed."
    assert view.applied == len(sample_events())
    assert view.counts()[TicketState.DONE] == 1


def test_hints_keep_their_raw_output_and_history_is_per_ticket() -> None:
    view = folded()
    hints = [e for e in view.log if e.level is Level.HINT]
    assert len(hints) == 1
    assert "Setings" in (hints[0].raw or "")
    assert hints[0].text.startswith("`python -m pytest")
    impl = view.tickets["config/impl-config"]
    assert any(e.level is Level.HINT for e in impl.history)
    assert all(e.ticket_id in (None, "impl-config") for e in impl.history)
    assert "".join(impl.text) == "I will implement load_settings, then run the config tests."


def test_decisions_attach_to_their_proposals() -> None:
    view = folded()
    stub = view.tickets["config/stub-config"]
    assert [type(r.decision) for r in stub.proposals] == [Approve]
    impl = view.tickets["config/impl-config"]
    assert impl.proposals[-1].decision is None  # still at the clutch
    view.apply(DecisionMade(proposal_id="p-impl-1", ticket_id="impl-config", decision=Reject(reason="no")))
    assert isinstance(impl.proposals[-1].decision, Reject)
    assert view.log[-1].level is Level.WARN and "no" in view.log[-1].text


def test_a_resent_plan_keeps_what_was_seen_and_copies_the_tracks() -> None:
    view = folded()
    tracks = sample_tracks()
    view.apply(PlanAccepted(tracks=tracks))
    tracks[0].tickets[0].title = "changed behind the UI's back"
    impl = view.tickets["config/impl-config"]
    assert impl.history and impl.proposals  # kept
    assert view.tickets["config/stub-config"].ticket.title != "changed behind the UI's back"


def test_same_ticket_id_in_two_tracks_resolves_by_track() -> None:
    view = RunView()
    a = Track(id="a", title="A", tickets=[Ticket(id="t1", title="one")])
    b = Track(id="b", title="B", tickets=[Ticket(id="t1", title="one again")])
    view.apply(PlanAccepted(tracks=[a, b]))
    changed = view.apply(TicketStateChanged(ticket_id="t1", old=TicketState.TODO, new=TicketState.IN_PROGRESS, track_id="b"))
    assert changed == {"b/t1"}
    assert view.tickets["a/t1"].ticket.state is TicketState.TODO
    # Without a track id, the running one is meant.
    view.apply(UsageUpdated(ticket_id="t1", tier=Tier.WORKER, model="m", usage=Usage(input_tokens=5)))
    assert view.tickets["b/t1"].ticket.usage.input_tokens == 5


def test_figures_are_short() -> None:
    assert format_tokens(950) == "950"
    assert format_tokens(12_345) == "12.3k"
    assert format_tokens(4_100_000) == "4.1M"
    assert format_cost(Usage()) == "—"
    assert format_cost(Usage(cost_usd=0.0)) == "$0.00"
    assert format_cost(Usage(cost_usd=0.004)) == "<$0.01"
    assert format_cost(Usage(cost_usd=1.234)) == "$1.23"


def test_reset_forgets_the_previous_run() -> None:
    view = folded()
    view.reset()
    assert not view.tracks and not view.log and view.total == Usage() and view.applied == 0
    assert copy.copy(view.tickets) == {}


def test_the_context_a_worker_built_is_kept_on_its_ticket() -> None:
    view = RunView()
    a = Track(id="a", title="A", tickets=[Ticket(id="t1", title="one")])
    b = Track(id="b", title="B", tickets=[Ticket(id="t1", title="one again")])
    view.apply(PlanAccepted(tracks=[a, b]))
    assert view.tickets["b/t1"].context is None
    files = [
        ContextFile(path="calc.py", role="target", view="curated", tokens=120),
        ContextFile(path="big.py", role="import", view="omitted", tokens=0, note="over the context budget"),
    ]
    built = ContextBuilt(ticket_id="t1", track_id="b", files=files, total_tokens=900, budget=1000)
    assert view.apply(built) == {"b/t1"}  # its row (and an open detail) repaints
    assert view.tickets["b/t1"].context is built
    assert view.tickets["a/t1"].context is None
    # A retried ticket builds a new context; the detail shows the newest.
    again = ContextBuilt(ticket_id="t1", track_id="b", files=files[:1], total_tokens=700, budget=1000)
    view.apply(again)
    assert view.tickets["b/t1"].context is again
    # A plan re-sent after a resume keeps it.
    view.apply(PlanAccepted(tracks=[copy.deepcopy(a), copy.deepcopy(b)]))
    assert view.tickets["b/t1"].context is again


def test_restored_files_are_logged_and_no_longer_count_as_changed() -> None:
    view = folded()
    seq = len(sample_events()) + 1
    view.apply(FileChanged(ticket_id="impl-config", path="app/config.py", preimage=None, seq=seq, at=0.0))
    view.apply(FilesRestored(ticket_id="impl-config", paths=["app/config.py"], seq=seq + 1, at=0.0))
    impl = view.tickets["config/impl-config"]
    assert impl.files_changed == []
    assert impl.history[-1].text == "restored 1 file: app/config.py"
    assert view.log[-1].ticket_id == "impl-config"


async def test_the_log_and_the_detail_show_a_restore_sanitised() -> None:
    """No session: the line can only come from the event; a hostile path stays escaped."""
    events = sample_events()
    events.append(FilesRestored(ticket_id="impl-config", paths=["app/config.py", "x\x1b]8;;evil\x07.py"],
                                seq=len(events) + 1, at=0.0))
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=events)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "restored 2 files: app/config.py, x" in screen_text(app)  # the log pane
        await pilot.press("down", "down", "enter")
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "restored 2 files: app/config.py, x" in text
        assert "\x1b" not in text and "\x07" not in text
