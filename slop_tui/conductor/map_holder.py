"""The run's repository map: built once, on first use, off the event loop; kept up to date.

A `Session` owns one `MapHolder`. Nothing is read until a tier first needs the map (Tier 1's
overview, or the first worker's context in a run without planning); then `RepoMap.build` runs
in a worker thread, so the TUI keeps drawing while a large repository is tagged. When a ticket
lands, `landed(paths)` marks its files, and the next use re-tags them (`RepoMap.refresh`)
before the next ticket's context is built. Every call into the map holds one lock: two workers
starting together never rank or refresh the same map at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from slop_tui.memory.repo_map import RepoMap


class _LockedMap:
    """The map's reading calls, each under the holder's lock (callable from any thread)."""

    def __init__(self, repo_map: RepoMap, lock: threading.Lock) -> None:
        self._map = repo_map
        self._lock = lock

    def overview(self, *, tokens: int) -> str:
        with self._lock:
            return self._map.overview(tokens=tokens)

    def render(self, *, tokens: int, focus: Sequence[str] = (), targets: Sequence[str] = ()) -> str:
        with self._lock:
            return self._map.render(tokens=tokens, focus=focus, targets=targets)

    def related(self, paths: Sequence[str], *, tokens: int, focus: Sequence[str] = ()) -> str:
        with self._lock:
            return self._map.related(paths, tokens=tokens, focus=focus)


class MapHolder:
    """One repository's map for one session (see the module docstring)."""

    def __init__(self, repo_root: Path, *, cache_dir: Path | None = None) -> None:
        self.repo_root = repo_root
        self.cache_dir = cache_dir
        self._map: RepoMap | None = None
        self._stale: set[str] = set()
        self._lock = threading.Lock()
        self._build_lock: asyncio.Lock | None = None
        # Why the map could not be built, once it failed; the tiers then go without it.
        self.problem: str | None = None
        self.builds = 0
        self.refreshes: list[list[str]] = []  # the paths of each refresh, for the record

    def landed(self, paths: Iterable[str]) -> None:
        """These files changed (a ticket landed, or was undone): re-tag them before next use."""
        self._stale.update(paths)

    async def current(self) -> _LockedMap | None:
        """The map, built or brought up to date first (in a thread); None when it cannot be
        built (`problem` says why)."""
        if self._build_lock is None:
            self._build_lock = asyncio.Lock()
        async with self._build_lock:
            if self._map is None and self.problem is None:
                try:
                    self._map = await asyncio.to_thread(self._build)
                except Exception as exc:  # a map is an aid: a run goes on without one
                    self.problem = f"the repository map could not be built ({type(exc).__name__}: {exc})"
                    self._stale.clear()
            if self._map is None:
                return None
            if self._stale:
                paths = sorted(self._stale)
                self._stale.clear()
                await asyncio.to_thread(self._refresh, self._map, paths)
            return _LockedMap(self._map, self._lock)

    def _build(self) -> RepoMap:
        with self._lock:
            built = RepoMap.build(self.repo_root, cache_dir=self.cache_dir)
        self.builds += 1
        return built

    def _refresh(self, repo_map: RepoMap, paths: list[str]) -> None:
        with self._lock:
            repo_map.refresh(paths)
        self.refreshes.append(paths)
