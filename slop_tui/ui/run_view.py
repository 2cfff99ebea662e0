"""What the UI knows about a run: a mirror of the tracks and tickets, built from bus events.

The conductor owns the real tickets; the UI keeps its own copies, updated only by events, so
the board shows exactly what was published (and written ahead to `.slop/`), a resumed run
rebuilds the same view from the store, and snapshot tests feed a fixed list of events.
`apply` returns which tickets changed, so a widget repaints those rows and nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import msgspec

from slop_tui.conductor.restore import RestoreRefused
from slop_tui.errors import SlopError
from slop_tui.tools.hunks import split_hunks
from slop_tui.conductor.printer import restored_summary
from slop_tui.words import counted
from slop_tui.models import (
    AnyEvent,
    ApproveHunks,
    ContextBuilt,
    Decision,
    DecisionMade,
    Edit,
    ErrorRaised,
    FileChanged,
    FilesRestored,
    HintGiven,
    ModelCallEnded,
    ModelCallStarted,
    ModelText,
    ModelTextDelta,
    PlanAccepted,
    Proposal,
    ProposalMade,
    Reject,
    RunFinished,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    ToolResult,
    Track,
    Usage,
    UsageUpdated,
)


class Level(enum.IntEnum):
    """Log levels, ordered so a filter keeps everything at or above its level. DEBUG holds the
    routine state moves (todo → in progress → awaiting approval): at 200 events/s they would
    bury everything else at the default level, INFO."""

    DEBUG = -1
    INFO = 0
    HINT = 1
    WARN = 2
    ERROR = 3


class LogEntry(msgspec.Struct, kw_only=True):
    seq: int
    level: Level
    ticket_id: str | None
    text: str
    raw: str | None = None  # a failed command's raw output, shown on demand next to its hint


class ProposalRecord(msgspec.Struct, kw_only=True):
    proposal: Proposal
    decision: Decision | None = None


@dataclass
class TicketView:
    """One ticket as the UI shows it, with everything its detail screen needs."""

    track_id: str
    ticket: Ticket
    worker: str | None = None  # the model label of the worker on it, from its usage events
    history: list[LogEntry] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # the worker's text, one entry per turn
    text_open: bool = False  # the last entry may still grow: nothing else happened since
    # The worker's reply while it streams (never logged); its logged `ModelText` replaces it.
    live: str = ""
    proposals: list[ProposalRecord] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    context: ContextBuilt | None = None  # the worker's first context, as it published it
    hints: int = 0  # QA hints given on it: the board marks a ticket that got one
    last_hint: str | None = None  # the newest hint, until the failed result that carries it

    @property
    def key(self) -> str:
        return row_key(self.track_id, self.ticket.id)


def row_key(track_id: str, ticket_id: str) -> str:
    return f"{track_id}/{ticket_id}"


TIER_LABELS: dict[Tier, str] = {
    Tier.PLANNER: "T1 plan",
    Tier.LEAD: "T2 lead",
    Tier.WORKER: "T3 work",
    Tier.DEFAULT_CHEAP: "T4 QA",
}


class RunView:
    """The mirror. Not thread-safe by design: only the app's event loop touches it."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new run starts, or the log is replayed from the start)."""
        self.run_id: str | None = None
        self.prompt: str = ""
        self.tracks: list[Track] = []
        self.tickets: dict[str, TicketView] = {}  # row key -> view
        self._by_id: dict[str, list[TicketView]] = {}
        self.tier_usage: dict[Tier, Usage] = {}
        self.total: Usage = Usage()
        self.log: list[LogEntry] = []
        self.finished: RunFinished | None = None
        self.applied = 0  # events applied, counted so a benchmark can prove none was dropped

    # -- the plan -------------------------------------------------------------------------

    def set_tracks(self, tracks: list[Track]) -> None:
        """Replace the plan with copies of `tracks` (the conductor keeps its own objects)."""
        copies = [msgspec.convert(msgspec.to_builtins(t), type=Track) for t in tracks]
        old = self.tickets
        self.tracks = copies
        self.tickets = {}
        self._by_id = {}
        for track in copies:
            for ticket in track.tickets:
                key = row_key(track.id, ticket.id)
                previous = old.get(key)
                view = TicketView(track_id=track.id, ticket=ticket)
                if previous is not None:  # a plan re-sent after a resume keeps what was seen
                    view.history, view.text = previous.history, previous.text
                    view.proposals, view.worker = previous.proposals, previous.worker
                    view.files_changed, view.context = previous.files_changed, previous.context
                    view.hints = previous.hints
                self.tickets[key] = view
                self._by_id.setdefault(ticket.id, []).append(view)

    def find(self, ticket_id: str | None, track_id: str | None = None) -> TicketView | None:
        """The ticket an event names. Ids are unique within a track; events that carry only the
        ticket id resolve to the one unfinished ticket of that id when tracks share ids."""
        if ticket_id is None:
            return None
        if track_id is not None:
            return self.tickets.get(row_key(track_id, ticket_id))
        views = self._by_id.get(ticket_id, [])
        if len(views) <= 1:
            return views[0] if views else None
        for view in views:
            if view.ticket.state in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL):
                return view
        return views[0]

    # -- figures ----------------------------------------------------------------------------

    def counts(self, track: Track | None = None) -> dict[TicketState, int]:
        tickets = track.tickets if track is not None else [t for tr in self.tracks for t in tr.tickets]
        out = {state: 0 for state in TicketState}
        for ticket in tickets:
            out[ticket.state] += 1
        return out

    def track_usage(self, track: Track) -> Usage:
        total = Usage()
        for ticket in track.tickets:
            total = total + ticket.usage
        return total

    # -- events -----------------------------------------------------------------------------

    def apply(self, event: AnyEvent) -> set[str]:
        """Fold one event in; return the row keys of the tickets it changed."""
        self.applied += 1
        changed: set[str] = set()
        if isinstance(event, RunStarted):
            self.run_id, self.prompt = event.run_id, event.prompt
            self.finished = None
            self._log(event, Level.INFO, None, f"run started: {event.prompt}")
        elif isinstance(event, PlanAccepted):
            self.set_tracks(event.tracks)
            changed.update(self.tickets)
            n = sum(len(t.tickets) for t in event.tracks)
            self._log(event, Level.INFO, None, f"plan accepted: {counted(len(event.tracks), 'track')}, {counted(n, 'ticket')}")
        elif isinstance(event, TicketStateChanged):
            view = self.find(event.ticket_id, event.track_id)
            if view is not None:
                # A mirror follows what the conductor already did; the mutators checked it there.
                view.ticket.state = event.new
                view.ticket.blocked_reason = event.reason if event.new is TicketState.BLOCKED else None
                if event.summary is not None:
                    view.ticket.result_summary = event.summary
                if event.model is not None:
                    view.ticket.assigned_model = event.model
                changed.add(view.key)
            level = state_move_level(event.new)
            why = f": {event.reason}" if event.reason else ""
            self._log(event, level, event.ticket_id, f"{event.old.value} → {event.new.value}{why}", view)
        elif isinstance(event, ProposalMade):
            proposal = event.proposal
            view = self.find(proposal.ticket_id)
            if view is not None:
                view.proposals.append(ProposalRecord(proposal=proposal))
                changed.add(view.key)
            self._log(event, Level.INFO, proposal.ticket_id, f"proposes {describe_call(proposal)}", view)
        elif isinstance(event, DecisionMade):
            view = self.find(event.ticket_id)
            decided: Proposal | None = None
            if view is not None:
                for record in reversed(view.proposals):
                    if record.proposal.id == event.proposal_id:
                        record.decision = event.decision
                        decided = record.proposal
                        break
                changed.add(view.key)
            level = Level.WARN if isinstance(event.decision, Reject) else Level.INFO
            said = describe_decision(event.decision, decided)
            self._log(event, level, event.ticket_id, f"clutch: {said}", view)
        elif isinstance(event, ToolResult):
            view = self.find(event.ticket_id)
            output = event.output
            if not event.ok and view is not None and view.last_hint and view.last_hint in output:
                # The worker read the hint inside its result; the log already showed it.
                output = output.replace(view.last_hint, "(QA hint above)")
                view.last_hint = None
            first = output.strip().splitlines()[0] if output.strip() else ""
            status = "ok" if event.ok else "failed"
            self._log(
                event, Level.INFO if event.ok else Level.WARN, event.ticket_id,
                f"{event.tool} {status}" + (f": {first}" if first else ""), view,
            )
        elif isinstance(event, FileChanged):
            view = self.find(event.ticket_id)
            if view is not None and event.path not in view.files_changed:
                view.files_changed.append(event.path)
            self._log(event, Level.INFO, event.ticket_id, f"changed {event.path}", view)
        elif isinstance(event, FilesRestored):
            view = self.find(event.ticket_id)
            if view is not None:
                # Put back as they were before the ticket: its changes no longer stand.
                restored = set(event.paths)
                view.files_changed = [p for p in view.files_changed if p not in restored]
                changed.add(view.key)
            # Rendered through the sanitiser by the log pane and the detail screen, like any entry.
            self._log(event, Level.INFO, event.ticket_id, restored_summary(event.paths), view)
        elif isinstance(event, HintGiven):
            view = self.find(event.ticket_id)
            if view is not None:
                view.hints += 1
                view.last_hint = event.hint
                changed.add(view.key)
            self._log(
                event, Level.HINT, event.ticket_id,
                f"`{event.command}` exited {event.exit_code}. {event.hint}", view, raw=event.raw_output,
            )
        elif isinstance(event, UsageUpdated):
            self.total = self.total + event.usage
            self.tier_usage[event.tier] = self.tier_usage.get(event.tier, Usage()) + event.usage
            view = self.find(event.ticket_id, event.track_id)
            if view is not None:
                view.ticket.usage = view.ticket.usage + event.usage
                if event.tier is Tier.WORKER:
                    view.worker = event.model
                changed.add(view.key)
        elif isinstance(event, ContextBuilt):
            # The worker's own report of the context it built, so the detail shows exactly
            # what it was given (a retry's new context replaces the old one).
            view = self.find(event.ticket_id, event.track_id)
            if view is not None:
                view.context = event
                changed.add(view.key)
        elif isinstance(event, (ModelCallStarted, ModelCallEnded)):
            view = self.find(event.ticket_id) if event.tier is Tier.WORKER else None
            if view is not None:
                if isinstance(event, ModelCallStarted):
                    view.text_open = False  # a new call is a new turn: its text never joins the last
                ended_ok = isinstance(event, ModelCallEnded) and event.ok
                if view.live and not (ended_ok and view.live.strip()):
                    # A failed call's partial text goes; a good one's stays until its `ModelText`.
                    view.live = ""
                    changed.add(view.key)
        elif isinstance(event, ModelText):
            view = self.find(event.ticket_id)
            if view is not None:
                if event.tier is Tier.WORKER:
                    view.live = ""
                # Pieces of one reply join; a proposal, a result, a move or the worker's next
                # call between two texts closes the turn, so the next text starts a new one.
                if view.text_open and view.text:
                    view.text[-1] += event.text
                else:
                    view.text.append(event.text)
                view.text_open = True
                changed.add(view.key)
        elif isinstance(event, ErrorRaised):
            self._log(event, Level.ERROR, event.ticket_id, event.message, self.find(event.ticket_id))
        elif isinstance(event, RunFinished):
            self.finished = event
            self._log(event, Level.INFO if event.ok else Level.ERROR, None,
                      f"run finished{'' if event.ok else ' with problems'}: {event.message}")
        return changed

    def apply_live(self, delta: ModelTextDelta) -> str | None:
        """Fold streamed worker text in; the row key of the ticket whose text grew, if any."""
        if delta.tier is not Tier.WORKER:
            return None  # QA's and the planners' streamed text shows in the header only
        view = self.find(delta.ticket_id)
        if view is None:
            return None
        view.live += delta.text
        return view.key

    def drop_live(self) -> None:
        """The run stopped: no reply is streaming any more."""
        for view in self.tickets.values():
            view.live = ""

    def _log(
        self,
        event: AnyEvent,
        level: Level,
        ticket_id: str | None,
        text: str,
        view: TicketView | None = None,
        *,
        raw: str | None = None,
    ) -> None:
        entry = LogEntry(seq=event.seq, level=level, ticket_id=ticket_id, text=text, raw=raw)
        self.log.append(entry)
        if view is not None:
            view.history.append(entry)
            view.text_open = False


def state_move_level(new: TicketState) -> Level:
    """A ticket done is news, blocked or cancelled a warning; the moves between are routine."""
    if new in (TicketState.BLOCKED, TicketState.CANCELLED):
        return Level.WARN
    return Level.INFO if new is TicketState.DONE else Level.DEBUG


def undo_refusal(view: TicketView | None, exc: SlopError, run: RunView) -> str:
    """A refused `u` in the TUI's words: what a key on the board can do about it (the command
    line's advice names commands and flags a person at the board does not have)."""
    said = str(exc)
    if view is None:
        return said
    tid = view.ticket.id
    if view.ticket.state in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL):
        return f"ticket {tid} is running: press x to cancel it first, then u puts back what it wrote"
    if isinstance(exc, RestoreRefused):
        later = exc.later
    else:  # a revert git refused: the done tickets that touched the same files since
        mine = set(view.files_changed)
        seen = [v for v in run.tickets.values() if v is not view and v.ticket.state is TicketState.DONE]
        later = [v.ticket.id for v in seen if mine & set(v.files_changed)]
    if not later:
        return said
    reason = said.split("; nothing was", 1)[0]
    them = ", ".join(reversed(later))
    return (
        f"{reason}; nothing was changed. Select {them} and press u on {'it' if len(later) == 1 else 'each'} "
        f"first, then u on {tid} again; or keep the changes (slop never writes over them)"
    )


def describe_call(proposal: Proposal) -> str:
    args = proposal.arguments
    target = getattr(args, "path", None) or getattr(args, "command", None) or ""
    return f"{proposal.tool} {target}".strip()


def describe_decision(decision: Decision, proposal: Proposal | None = None) -> str:
    """The person's decision in words: `approved hunks 1, 3 of 3 (reason)`, `approved, always
    for this run: pytest -q`. `proposal` (the one decided on) gives the hunk count."""
    if isinstance(decision, Reject):
        return f"rejected ({decision.reason})"
    if isinstance(decision, Edit):
        return "edited"
    if isinstance(decision, ApproveHunks):
        chosen = ", ".join(str(n + 1) for n in sorted(decision.hunks))
        total = len(split_hunks(proposal.diff)) if proposal is not None and proposal.diff else None
        of = f" of {total}" if total is not None else ""
        why = f" ({decision.reason})" if decision.reason.strip() else ""
        return f"approved {'hunk' if len(decision.hunks) == 1 else 'hunks'} {chosen}{of}{why}"
    if decision.always:
        return f"approved, always for this run: {decision.always}"
    return "approved" + (" with the network" if decision.network else "")


def format_tokens(n: int) -> str:
    """`950`, `12.3k`, `4.1M`: short enough for a narrow column."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def format_cost(usage: Usage) -> str:
    """`—` when no price is known (an unpriced model is not free), else dollars."""
    cost = usage.cost_usd
    if cost is None:
        return "—"
    if 0 < cost < 0.01:
        return "<$0.01"
    return f"${cost:.2f}"


def format_cost_fine(usage: Usage) -> str:
    """`format_cost` with a third decimal under a cent: a cached, cheap-model ticket costs a
    fraction of one, and tickets side by side should still tell apart (`$0.004`, `<$0.001`)."""
    cost = usage.cost_usd
    if cost is not None and 0 < cost < 0.001:
        return "<$0.001"
    if cost is not None and 0 < cost < 0.01:
        return f"${cost:.3f}"
    return format_cost(usage)


def format_breakdown(usage: Usage) -> str:
    """`12.3k in · 40.1k cached · 900 out · $0.02`: what a cost is made of, where a prompt
    cache makes "tokens" alone misleading (cached input is billed at a tenth or so)."""
    parts = [f"{format_tokens(usage.input_tokens)} in", f"{format_tokens(usage.cache_read_tokens)} cached"]
    if usage.cache_write_tokens:
        parts.append(f"{format_tokens(usage.cache_write_tokens)} cache-written")
    parts.append(f"{format_tokens(usage.output_tokens)} out")
    parts.append(format_cost_fine(usage))
    return " · ".join(parts)
