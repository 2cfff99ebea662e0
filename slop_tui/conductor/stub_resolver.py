"""The stub resolver: once a `contract_stubber` ticket is done, its new interfaces are in view.

A stub ticket writes signatures with empty bodies; the tickets that depend on it wait for it
(the dispatcher sees to that). When it is done, the file cache rebuilds the views of every file
the stub touched (its `FileChanged` events, plus its target files), before any dependent
starts: the dependents' workers then build their fresh contexts from the new skeletons.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from slop_tui.models import AnyEvent, Archetype, FileChanged, Ticket, Track
from slop_tui.tools.sandbox import PathRefused, resolve_in_repo


class Rebuildable(Protocol):
    """What the resolver needs of the file cache."""

    def rebuild(self, paths: Iterable[Path]) -> object: ...


class StubResolver:
    """Watches which files each ticket changed; rebuilds views when a stub ticket is done."""

    def __init__(self, repo_root: Path, file_cache: Rebuildable) -> None:
        self.repo_root = repo_root
        self.file_cache = file_cache
        self._touched: dict[str, set[str]] = {}
        self.rebuilt: list[tuple[str, list[str]]] = []  # (ticket id, paths), for the record

    def observe(self, event: AnyEvent) -> None:
        """Feed every published event; only `FileChanged` matters here."""
        if isinstance(event, FileChanged):
            self._touched.setdefault(event.ticket_id, set()).add(event.path)

    def touched(self, ticket_id: str) -> list[str]:
        return sorted(self._touched.get(ticket_id, ()))

    def forget(self, ticket_id: str) -> None:
        """A ticket that runs again (after an interrupt or undo) starts a new record."""
        self._touched.pop(ticket_id, None)

    async def ticket_done(self, ticket: Ticket, track: Track) -> list[str]:
        """Rebuild the views of the files a finished stub ticket touched; return their paths.

        Other archetypes change nothing here: the cache notices their edits by `stat` when a
        view is next asked for, which is soon enough for tickets that do not wait on them.
        """
        if ticket.archetype is not Archetype.CONTRACT_STUBBER:
            return []
        rel_paths = sorted(set(ticket.target_files) | self._touched.get(ticket.id, set()))
        paths: list[Path] = []
        for rel in rel_paths:
            try:
                resolve_in_repo(self.repo_root, rel)
            except PathRefused:
                continue  # a target outside the repository was never written; nothing to view
            # The cache is keyed by the path as the workers spell it (root / relative path).
            path = self.repo_root / rel
            if path.is_file():
                paths.append(path)
        if paths:
            self.file_cache.rebuild(paths)
        done = [rel for rel in rel_paths if (self.repo_root / rel).is_file()]
        self.rebuilt.append((ticket.id, done))
        return done
