"""Putting a ticket's files back from their pre-images without losing anyone's work.

Used by `Session.undo_ticket` (plain folders; a git run reverts its commit instead) and by
`Session.resume` before an interrupted ticket starts afresh. Every file is checked before any
is written: a file restores only while it still holds what the ticket left there (the hash
its last `FileChanged` recorded) or already holds its pre-image. Otherwise the restore stops,
naming the files and who changed them (a later ticket, or someone outside slop), and nothing
is touched: a restore that wrote the pre-image over a person's edits would lose them for good.

The writes go through `ToolExecutor.undo` (the descriptor walk, never into `.git` or `.slop`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path, PurePosixPath

from slop_tui.agents.transitions import transition
from slop_tui.conductor.dispatcher import is_held_reason, release_held
from slop_tui.errors import SlopError
from slop_tui.memory.file_cache import FileCache
from slop_tui.models import (
    AnyEvent,
    EditFileArgs,
    FileChanged,
    FilesRestored,
    ProposalMade,
    Ticket,
    TicketState,
    Track,
    WriteFileArgs,
)
from slop_tui.store import SessionState, Store
from slop_tui.store.preimages import live_writes
from slop_tui.tools.executor import ToolExecutor, content_hash
from slop_tui.tools.safe_write import read_at

Emit = Callable[[AnyEvent], Awaitable[AnyEvent]]
_ACTIVE = frozenset({TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL})


class RestoreRefused(SlopError):
    """A restore that would lose work (or cannot tell): nothing was written."""

    def __init__(self, message: str, *, later: Sequence[str] = ()) -> None:
        super().__init__(message)
        # The tickets whose standing writes are in the way: a front-end offers to undo them first.
        self.later = list(later)


def _changer(events: Sequence[AnyEvent], ticket_id: str, path: str, since: int) -> str:
    """Who changed `path` after `ticket_id`'s write at `since`: later tickets whose writes
    still stand, or someone outside slop."""
    standing = _standing(events, ticket_id, path, since)
    if standing:
        return f"by {', '.join(standing)}"
    return "changed outside slop"


def _standing(events: Sequence[AnyEvent], ticket_id: str, path: str, since: int) -> list[str]:
    later: list[str] = []
    for event in events:
        if (
            isinstance(event, FileChanged)
            and event.path == path
            and event.ticket_id != ticket_id
            and event.seq > since
            and event.ticket_id not in later
        ):
            later.append(event.ticket_id)
    return [t for t in later if any(w.path == path for w in live_writes(events, t))]


def _same_path(asked: str, rel: str) -> bool:
    return PurePosixPath(asked.replace("\\", "/")).as_posix() == rel


def _unlogged_write(
    events: Sequence[AnyEvent], ticket_id: str, path: str, since: int, base: str | None, now: bytes | None
) -> bool:
    """Whether `now` (the bytes at `path`) is what one of `ticket_id`'s proposals after seq
    `since` would have written over a file whose hash was `base`: a write that landed while
    its `FileChanged` never reached the log (the process killed in between). An edit is
    checked by undoing it: some occurrence of its `new`, put back to `old`, must give `base`.
    """
    if now is None:
        return False
    for event in events:
        if not (isinstance(event, ProposalMade) and event.seq > since):
            continue
        proposal = event.proposal
        args = proposal.arguments
        if proposal.ticket_id != ticket_id or not isinstance(args, (WriteFileArgs, EditFileArgs)):
            continue
        if not _same_path(args.path, path):
            continue
        if isinstance(args, WriteFileArgs):
            if args.content.encode("utf-8", "surrogatepass") == now:
                return True
            continue
        try:
            text = now.decode("utf-8")
        except UnicodeDecodeError:
            continue
        start = text.find(args.new)
        while start != -1 and args.new:
            before = text[:start] + args.old + text[start + len(args.new) :]
            if content_hash(before.encode("utf-8")) == base:
                return True
            start = text.find(args.new, start + 1)
    return False


def _restored_at(events: Sequence[AnyEvent], ticket_id: str) -> int:
    """The seq of `ticket_id`'s last `FilesRestored` (0: never)."""
    last = 0
    for event in events:
        if isinstance(event, FilesRestored) and event.ticket_id == ticket_id:
            last = event.seq
    return last


class Restorer:
    """Checks and restores one repository's tickets, for a session."""

    def __init__(
        self, store: Store, executor: ToolExecutor, repo_root: Path, file_cache: FileCache, emit: Emit
    ) -> None:
        self.store = store
        self.executor = executor
        self.repo_root = repo_root
        self.file_cache = file_cache
        self.emit = emit

    def has_changes(self, ticket_id: str, events: Sequence[AnyEvent]) -> bool:
        """Whether `ticket_id` has writes its pre-images still answer for (or pre-images)."""
        return bool(live_writes(events, ticket_id)) or bool(self.store.preimages(ticket_id))

    def check(
        self, ticket_id: str, events: Sequence[AnyEvent], *, finished: bool, verb: str
    ) -> list[str]:
        """The paths a restore of `ticket_id` would write, or `RestoreRefused` naming what is
        in the way. Touches nothing.

        `finished`: the ticket ended on its own (done, blocked), so every write it made was
        logged with its hash; an interrupted ticket's last write may have landed without its
        event, and then its file restores as before (there is nothing to compare it with).
        """
        preimages = self.store.preimages(ticket_id)
        writes = live_writes(events, ticket_id)
        lost = sorted({w.path for w in writes} - set(preimages))
        if lost:
            raise RestoreRefused(
                f"cannot {verb} ticket {ticket_id!r}: the pre-image of {', '.join(lost)} is "
                f"missing from {self.store.root}/preimages; nothing was restored"
            )
        last = {w.path: w for w in writes}
        restored_at = _restored_at(events, ticket_id)
        in_the_way: dict[str, str] = {}
        later: list[str] = []
        for path, before in sorted(preimages.items()):
            now = self.executor.current_hash(path)
            if now == content_hash(before):
                continue  # already as it was before the ticket: nothing to lose
            write = last.get(path)
            if write is not None and now == write.after:
                continue  # exactly as the ticket left it
            if write is not None and write.after is None:
                if not finished:  # logged by a slop that kept no hash: as before, restored
                    continue
                in_the_way[path] = "no record of what the ticket left in it"
                continue
            # Killed between a write and its log line, the ticket's last write is on disk
            # unlogged: recognised from its logged proposal, it is the ticket's own.
            since, base = (write.seq, write.after) if write is not None else (restored_at, content_hash(before))
            if not finished and _unlogged_write(
                events, ticket_id, path, since, base, read_at(self.executor.root, path)
            ):
                continue
            if write is None:
                in_the_way[path] = "changed outside slop"
            else:
                in_the_way[path] = _changer(events, ticket_id, path, write.seq)
                later += [t for t in _standing(events, ticket_id, path, write.seq) if t not in later]
        if in_the_way:
            shown = "; ".join(f"{path} ({who})" for path, who in in_the_way.items())
            raise RestoreRefused(
                f"cannot {verb} ticket {ticket_id!r}: files changed since it wrote them: {shown}; "
                "nothing was restored (undo the later tickets first, or keep your changes: "
                "slop never writes over them)",
                later=later,
            )
        return sorted(preimages)

    async def restore(self, ticket_id: str) -> list[str]:
        """Write the pre-images back (after `check`), log it, then forget them.

        In that order: killed before the log line, the next restore finds the files already
        as before (a no-op); killed before the pre-images are dropped, the log says they no
        longer answer for any write.
        """
        restored = self.executor.undo(ticket_id)
        self.file_cache.invalidate([self.repo_root / p for p in restored])
        await self.emit(FilesRestored(ticket_id=ticket_id, paths=restored))
        self.store.drop_preimages(ticket_id)
        return restored

    async def resume(self, state: SessionState) -> list[str]:
        """Before a resume dispatches: every ticket about to start afresh gets its files back,
        one that was running (`in_progress`, or saved as `todo` by a Ctrl+C with its edits on
        disk) and one that is blocked (a finished run is continued by retrying it); then the
        running ones move to `todo` and the blocked ones are retried, with the tickets they
        held. Every ticket is checked before any file is written: one refusal leaves the
        repository as it was. Returns the ids whose files were restored.
        """
        events = self.store.events()
        again: list[tuple[Track, Ticket, bool]] = []  # (track, ticket, has changes)
        for track, ticket in state.tickets():
            stuck = ticket.state is TicketState.BLOCKED and not is_held_reason(ticket.blocked_reason)
            if not (ticket.state in _ACTIVE or stuck or ticket.state is TicketState.TODO):
                continue  # done and cancelled tickets keep their work
            changes = self.has_changes(ticket.id, events)
            if changes or ticket.state is not TicketState.TODO:
                again.append((track, ticket, changes))
        for _, ticket, changes in again:
            if changes:
                finished = ticket.state is TicketState.BLOCKED
                self.check(ticket.id, events, finished=finished, verb="resume")
        restored: list[str] = []
        for track, ticket, changes in again:
            if changes:
                await self.restore(ticket.id)
                restored.append(ticket.id)
            if ticket.state in _ACTIVE:
                await self.emit(transition(ticket, "interrupt", track_id=track.id))
            elif ticket.state is TicketState.BLOCKED:
                await self.emit(transition(ticket, "retry", track_id=track.id))
                for held in release_held(track):
                    await self.emit(transition(held, "retry", track_id=track.id))
        return restored
