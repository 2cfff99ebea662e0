"""The session's repository map: built on first use (in a thread), refreshed after a ticket
lands, and a map that cannot be built leaves the run going without one."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from slop_tui.conductor.map_holder import MapHolder
from slop_tui.memory.repo_map import RepoMap


def make_repo(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "core.py").write_text("class Engine:\n    def run(self, speed): ...\n")
    (root / "app" / "use.py").write_text("from app.core import Engine\n\ndef drive(engine): ...\n")
    return root


async def test_nothing_is_read_before_first_use_and_the_build_is_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = MapHolder(make_repo(tmp_path / "repo"), cache_dir=tmp_path / "cache")
    assert holder.builds == 0 and not (tmp_path / "cache").exists()
    threads: list[threading.Thread] = []
    build = RepoMap.build

    def spy(root: Path, *, cache_dir: Path | None = None) -> RepoMap:
        threads.append(threading.current_thread())
        return build(root, cache_dir=cache_dir)

    monkeypatch.setattr(RepoMap, "build", spy)
    first, second = await asyncio.gather(holder.current(), holder.current())
    assert first is not None and second is not None
    assert holder.builds == 1 and len(threads) == 1 and threads[0] is not threading.main_thread()
    assert "class Engine" in first.render(tokens=200)


async def test_a_landed_file_is_re_tagged_before_the_next_use(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    holder = MapHolder(repo, cache_dir=tmp_path / "cache")
    repo_map = await holder.current()
    assert repo_map is not None and "def brake" not in repo_map.render(tokens=500)
    (repo / "app" / "core.py").write_text("class Engine:\n    def brake(self, force): ...\n")
    holder.landed(["app/core.py"])
    repo_map = await holder.current()
    assert repo_map is not None and "def brake(self, force)" in repo_map.render(tokens=500)
    assert holder.refreshes == [["app/core.py"]] and holder.builds == 1
    await holder.current()
    assert holder.refreshes == [["app/core.py"]]  # nothing stale: nothing re-tagged


async def test_a_map_that_cannot_be_built_is_a_problem_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(root: Path, *, cache_dir: Path | None = None) -> RepoMap:
        raise OSError("disk full")

    monkeypatch.setattr(RepoMap, "build", broken)
    holder = MapHolder(make_repo(tmp_path / "repo"), cache_dir=tmp_path / "cache")
    assert await holder.current() is None
    assert holder.problem == "the repository map could not be built (OSError: disk full)"
    assert await holder.current() is None  # not retried on every ticket
