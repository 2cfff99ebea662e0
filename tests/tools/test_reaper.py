"""Commands are tagged with their repository; a repository's leftovers are killed, and only
its own (`kill_repository_commands`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from slop_tui.tools.shell_runner import (
    COMMAND_ID_VARIABLE,
    kill_repository_commands,
    repository_tag,
    run_command,
)
from tests.tools.test_shell_runner import _wait_gone


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _sleep(started: list[subprocess.Popen[bytes]], command_id: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != COMMAND_ID_VARIABLE}
    if command_id is not None:
        env[COMMAND_ID_VARIABLE] = command_id
    proc = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    started.append(proc)
    return proc


async def test_a_commands_id_starts_with_its_repositorys_tag(tmp_path: Path) -> None:
    result = await run_command(f'printf %s "${COMMAND_ID_VARIABLE}"', tmp_path, timeout_s=10)
    tag, _, unique = result.stdout.partition(".")
    assert tag == repository_tag(tmp_path) and len(unique) == 32
    # The same folder reached through a symlink is the same repository.
    (tmp_path.parent / f"{tmp_path.name}-link").symlink_to(tmp_path)
    assert repository_tag(tmp_path.parent / f"{tmp_path.name}-link") == tag


def test_only_this_repositorys_leftovers_are_killed(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    leftovers = [_sleep(sleepers, f"{repository_tag(mine)}.{n}") for n in ("a1", "b2")]
    spared = [
        _sleep(sleepers, f"{repository_tag(other)}.c3"),  # another repository's command
        _sleep(sleepers, repository_tag(mine)),  # not an id of the form tag.unique
        _sleep(sleepers, None),  # no slop command at all
    ]
    assert kill_repository_commands(mine) >= 2
    assert _wait_gone([p.pid for p in leftovers]) == []
    assert all(p.poll() is None for p in spared)
    assert kill_repository_commands(mine) == 0  # nothing left; the others still untouched
    assert all(p.poll() is None for p in spared)
