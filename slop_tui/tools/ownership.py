"""Which running ticket changed which file: a second ticket may not write it until the first ends.

The dispatcher keeps declared target files apart, but a worker may write any file. Tickets run
in parallel in one working tree (and, in a git repository, each done ticket is one commit of
the files it changed), so two running tickets writing one file would mix their changes, and
undoing either would lose the other's. The first ticket to write a file owns it until the
session releases the ticket (done and committed, blocked, cancelled, interrupted); until then
another ticket's write or edit of it is refused, as a tool result the worker reads.

One event loop drives every worker: `claim` checks and takes in one step, with no await
between, so two writes that race cannot both pass.
"""

from __future__ import annotations

from slop_tui.display import sanitize
from slop_tui.errors import SlopError


class FileBusy(SlopError):
    """A write to a file another running ticket has changed; the message is for the worker."""


class FileOwners:
    """Repository-relative path -> the running ticket that changed it first."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def check(self, ticket_id: str, rel: str) -> None:
        """Raise `FileBusy` if `rel` belongs to another ticket."""
        owner = self._owner.get(rel)
        if owner is not None and owner != ticket_id:
            path = sanitize(rel, one_line=True)
            who = sanitize(owner, one_line=True)
            raise FileBusy(
                f"{path} is being changed by ticket {who}, which is still running; "
                "wait for it or leave the file alone"
            )

    def claim(self, ticket_id: str, rel: str) -> bool:
        """Check, then take `rel` for `ticket_id`. True if this call took it (so `unclaim`
        may give it back when the write then fails); False if the ticket already held it."""
        self.check(ticket_id, rel)
        if rel in self._owner:
            return False
        self._owner[rel] = ticket_id
        return True

    def unclaim(self, rel: str) -> None:
        self._owner.pop(rel, None)

    def release(self, ticket_id: str) -> None:
        """The ticket ended: every file it held is free again."""
        for rel in [r for r, owner in self._owner.items() if owner == ticket_id]:
            del self._owner[rel]

    def held_by(self, ticket_id: str) -> list[str]:
        return sorted(r for r, owner in self._owner.items() if owner == ticket_id)
