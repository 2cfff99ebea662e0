"""What a `Session` does with git: a run branch at the start, a commit per done ticket, undo
as a revert. In a plain folder (or without `git`) every hook does nothing but say so once,
and the session keeps its pre-images (Part 1's undo).

The session calls three hooks (`before_run`/`started`, `ticket_done`, `undo`); the logic
lives here and in `slop_tui.vcs`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec

from slop_tui.agents.transitions import transition
from slop_tui.errors import SlopError
from slop_tui.models import Ticket, TicketState
from slop_tui.vcs.git import PLAIN_NOTICE, Git, open_git
from slop_tui.vcs.git_run import (
    TRAILER_RUN,
    TRAILER_TICKET,
    RunBranch,
    commit_message,
    commit_paths,
    current_run,
    find_ticket_commit,
    refuse_if_dirty,
    revert_commit,
    start_run,
)
from slop_tui.words import counted

if TYPE_CHECKING:
    from slop_tui.conductor.session import Session


class UndoOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What `Session.undo_ticket` did, for the command line and the TUI to say the same.

    `reverted` is the ticket's commit a git undo reverted, `commit` the revert commit and
    `branch` where; all None when the files came back from the pre-images in `.slop/`.
    `notices` are the one-line notices git gave while undoing (its identity fallback, say)."""

    paths: list[str] = msgspec.field(default_factory=list)
    commit: str | None = None
    reverted: str | None = None
    branch: str | None = None
    notices: list[str] = msgspec.field(default_factory=list)


def undo_message(ticket_id: str, outcome: UndoOutcome) -> str:
    """One line: `ticket T reverted: commit abc1234 reverts def5678 on slop/r (2 files)`, or
    the files restored from the pre-images. Not yet sanitised: the caller's sink does that."""
    if outcome.reverted is not None:
        where = f" on {outcome.branch}" if outcome.branch else ""
        files = f"({len(outcome.paths)} file{'' if len(outcome.paths) == 1 else 's'})"
        if outcome.commit is None:  # reverted, but git would not name the new commit
            return f"ticket {ticket_id} reverted: its commit {outcome.reverted[:7]} is reverted{where} {files}"
        return f"ticket {ticket_id} reverted: commit {outcome.commit[:7]} reverts {outcome.reverted[:7]}{where} {files}"
    if outcome.paths:
        return f"ticket {ticket_id}: restored {counted(len(outcome.paths), 'file')}: {', '.join(outcome.paths)}"
    return f"ticket {ticket_id}: no file to restore"


class GitRun:
    """One session's git side. `notices` is where one-line notices go (the store's warnings:
    the command line prints them at the end of the run)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._git: Git | None = None
        self._opened = False
        self.run: RunBranch | None = None
        # Commits are serialised: parallel tickets finishing together share one index.
        self._lock = asyncio.Lock()

    def _notice(self, text: str) -> None:
        warnings = self._session.store.warnings
        if text not in warnings:
            warnings.append(text)

    async def _open(self) -> Git | None:
        if not self._opened:
            self._opened = True
            self._git, why = await open_git(self._session.repo_root)
            if self._git is None:
                self._notice(f"{why}: {PLAIN_NOTICE}")
            else:
                for notice in self._git.notices:
                    self._notice(notice)
                self._git.notices = []
        return self._git

    def _flush_notices(self) -> None:
        if self._git is not None:
            for notice in self._git.notices:
                self._notice(notice)
            self._git.notices = []

    async def before_run(self) -> None:
        """Before anything of a new run is written: refuse uncommitted tracked changes."""
        git = await self._open()
        if git is None:
            return
        on = await current_run(self._session.repo_root)
        if on is not None:
            raise SlopError(
                f"the run branch {on.branch} is checked out: `slop land` or `slop drop` it before "
                "a new run"
            )
        await refuse_if_dirty(git, "a run")

    async def started(self, run_id: str) -> None:
        """The run has its id: create `slop/<run_id>` at HEAD and switch to it."""
        git = await self._open()
        if git is not None:
            self.run = await start_run(git, run_id)
            self._flush_notices()

    async def ticket_done(self, ticket: Ticket) -> None:
        """Commit exactly the files `ticket` changed, on the run branch."""
        git = await self._open()
        if git is None:
            return
        run_id = self._session.state.run_id
        if self.run is None or self.run.run_id != run_id:
            self.run = await current_run(self._session.repo_root)
        if self.run is None or self.run.run_id != run_id:
            self._notice(f"ticket {ticket.id} was not committed: the run branch slop/{run_id} is not checked out")
            return
        paths = sorted(self._session.store.preimages(ticket.id))
        usage = ticket.usage
        message = commit_message(
            ticket.title,
            ticket.result_summary or "",
            [
                (TRAILER_RUN, run_id),
                (TRAILER_TICKET, ticket.id),
                ("Slop-Model", ticket.assigned_model or "unknown"),
                ("Slop-Tokens", f"{usage.input_tokens} in, {usage.output_tokens} out"),
            ],
        )
        try:
            async with self._lock:
                await commit_paths(git, paths, message)
        except SlopError as exc:
            # The run goes on: the work stays in the tree, uncommitted, and its pre-images in
            # `.slop/` still undo it.
            self._notice(f"ticket {ticket.id} was not committed: {exc}")
        self._flush_notices()

    async def undo(self, ticket_id: str) -> UndoOutcome | None:
        """Revert the done ticket's commit on the checked-out branch (the run's, or the user's
        after landing): its files, the revert commit and the notices git gave. None when the
        ticket has no commit: the session undoes it from its pre-images."""
        session = self._session
        # Notices are collected from here: opening git is where the identity fallback is found.
        before = list(session.store.warnings)
        git = await self._open()
        if git is None:
            return None
        if not session.state.tracks:
            session._load_for_commands()
        track, ticket = session._find(ticket_id)
        if ticket.state is not TicketState.DONE or ticket_id in session.dispatcher.running():
            return None
        sha = await find_ticket_commit(git, session.state.run_id, ticket_id)
        if sha is None:
            return None
        # Read (and so checked) before anything moves: a poisoned pre-image index in `.slop/`
        # refuses the undo as it would in a plain folder, rather than being dropped unseen.
        session.store.preimages(ticket_id)
        async with self._lock:
            files = await revert_commit(git, sha)
            head = await git.run("rev-parse", "HEAD")
            branch = await git.run("symbolic-ref", "-q", "--short", "HEAD")
        self._flush_notices()
        session.store.drop_preimages(ticket_id)
        session.resolver.forget(ticket_id)
        session.file_cache.invalidate([session.repo_root / p for p in files])
        await session.emit(transition(ticket, "revert", track_id=track.id))
        return UndoOutcome(
            paths=files,
            commit=head.stdout.strip() if head.ok else None,
            reverted=sha,
            branch=branch.stdout.strip() if branch.ok else None,
            notices=[n for n in session.store.warnings if n not in before],
        )
