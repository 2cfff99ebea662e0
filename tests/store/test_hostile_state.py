"""A cloned repository that plants slop's private state: each attack performed for real.

The attacker builds a repository (a real `git init`, real symlinks, real commits); the victim
clones it (`git clone`) or unpacks it (`git archive`, a plain folder) and runs slop on it
through the real CLI. `.slop/` must be refused before anything in it is read or written: the
victim's files outside the repository and the clone's `.git/config` stay byte-identical, no
process the attack names runs, and slop says why in one line, without a traceback.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from slop_tui.models import (
    PlanAccepted,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Track,
)
from slop_tui.store import Store, replay
from tests.conductor.demo import scaled_scenario, write_config

GIT = ["git", "-c", "user.name=attacker", "-c", "user.email=a@example.invalid",
       "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
VICTIM_TEXT = b'{"kind": "not an event"}\nthe victim\'s own file, outside every repository\n'
COMMANDS: list[tuple[str, ...]] = [
    ("status",),
    ("resume", "--yes"),
    ("undo", "T"),
    ("run", "Refactor config system", "--yes"),
    ("tui",),
]


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit_everything(repo: Path) -> None:
    git("add", "-A", cwd=repo)
    git("add", "-f", "--", ".slop", cwd=repo)  # past the exclude a Store adds for itself
    git("commit", "-q", "-m", "innocent", cwd=repo)


def hostile_clone(tmp_path: Path, plant: Callable[[Path], None]) -> Path:
    """The attacker commits what `plant` makes; the victim gets it with `git clone`."""
    attacker = tmp_path / "attacker"
    attacker.mkdir()
    git("init", "-q", cwd=attacker)
    (attacker / "a.txt").write_text("hello\n")
    plant(attacker)
    commit_everything(attacker)
    victim = tmp_path / "victim"
    git("clone", "-q", str(attacker), str(victim), cwd=tmp_path)
    return victim


@pytest.fixture()
def config_dir(tmp_path: Path) -> Path:
    """A user config whose every tier is the offline demo team (a run could really start)."""
    return write_config(tmp_path / "config", scaled_scenario(tmp_path, 0.0, commands="true"))


def slop(*args: str, repo: Path, config_dir: Path, answers: str | None = None) -> subprocess.CompletedProcess[str]:
    """`answers`: piped to stdin (someone to answer the clutch); else stdin is /dev/null."""
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args, "--repo", str(repo)],
        input=answers,
        stdin=None if answers is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo.parent,
        env={
            **os.environ,
            "SLOP_CONFIG_DIR": str(config_dir),
        },
    )


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "refused" in lines[0] and ".slop" in lines[0], output
    for word in words:
        assert word in lines[0], output


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder` (symlinks as their target), never following one."""
    result: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            result[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            result[rel] = path.read_bytes()
        else:
            result[rel] = "dir"
    return result


def test_a_symlinked_event_log_never_touches_its_target(tmp_path: Path, config_dir: Path) -> None:
    victim_file = tmp_path / "outside" / "notes.txt"
    victim_file.parent.mkdir()
    victim_file.write_bytes(VICTIM_TEXT)

    def plant(repo: Path) -> None:
        (repo / ".slop").mkdir()
        (repo / ".slop" / "events.jsonl").symlink_to(victim_file)

    clone = hostile_clone(tmp_path, plant)
    git_config = (clone / ".git" / "config").read_bytes()
    for command in COMMANDS:
        done = slop(*command, repo=clone, config_dir=config_dir)
        assert_refused(done, "events.jsonl", "symlink")
        assert victim_file.read_bytes() == VICTIM_TEXT, command
        assert snapshot(victim_file.parent) == {"notes.txt": VICTIM_TEXT}, command
    assert (clone / ".git" / "config").read_bytes() == git_config
    assert sorted(p.name for p in (clone / ".slop").iterdir()) == ["events.jsonl"]


def test_a_symlinked_slop_folder_gets_nothing_written(tmp_path: Path, config_dir: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"mine\n")

    def plant(repo: Path) -> None:
        (repo / ".slop").symlink_to(outside, target_is_directory=True)

    clone = hostile_clone(tmp_path, plant)
    for command in COMMANDS:
        done = slop(*command, repo=clone, config_dir=config_dir)
        assert_refused(done, "symlink")
        assert snapshot(outside) == {"keep.txt": b"mine\n"}, command


def _planted_run(repo: Path, *, extra_index: dict[str, str | None] | None = None,
                 blobs: dict[str, bytes] | None = None) -> None:
    """A real run state (written by a real Store) of one track: T done and V interrupted in
    progress, each after changing a.txt. `extra_index` entries are then added to both
    tickets' pre-image indexes by hand, with their `blobs`, as an attacker would."""
    store = Store(repo)
    track = Track(id="TR", title="Track", tickets=[Ticket(id="T", title="T"), Ticket(id="V", title="V")])

    def move(ticket: str, old: TicketState, new: TicketState) -> TicketStateChanged:
        return TicketStateChanged(ticket_id=ticket, old=old, new=new, track_id="TR")

    events = [
        store.append(RunStarted(run_id="run-1", prompt="Refactor config system")),
        store.append(PlanAccepted(tracks=[track])),
        store.append(move("T", TicketState.TODO, TicketState.IN_PROGRESS)),
        store.append(move("T", TicketState.IN_PROGRESS, TicketState.DONE)),
        store.append(move("V", TicketState.TODO, TicketState.IN_PROGRESS)),
    ]
    state = replay(events)
    assert state is not None
    store.save_state(state)
    for ticket in ("T", "V"):
        blob = store.save_preimage(ticket, "a.txt", b"hello\n")
        assert blob is not None
        folder = repo / ".slop" / Path(blob).parent
        index_path = folder / "index.json"
        index = msgspec.json.decode(index_path.read_bytes())
        index["files"].update(extra_index or {})
        index_path.write_bytes(msgspec.json.encode(index))
        for name, data in (blobs or {}).items():
            (folder / name).write_bytes(data)
    store.close()
    (repo / "a.txt").write_text("changed by T and V\n")


def _evil_git_config(marker: Path) -> tuple[dict[str, str | None], dict[str, bytes]]:
    hook = marker.parent / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    blob = hashlib.sha256(b".git/config").hexdigest()[:32] + ".bin"
    config = f"[core]\n\trepositoryformatversion = 0\n\tfsmonitor = {hook}\n".encode()
    return {".git/config": blob}, {blob: config}


def test_a_tracked_slop_folder_is_refused(tmp_path: Path, config_dir: Path) -> None:
    marker = tmp_path / "fsmonitor-ran"
    index, blobs = _evil_git_config(marker)
    clone = hostile_clone(tmp_path, lambda repo: _planted_run(repo, extra_index=index, blobs=blobs))
    assert git("ls-files", "--", ".slop", cwd=clone)  # the attacker really committed it
    git_config = (clone / ".git" / "config").read_bytes()
    before = snapshot(clone)
    for command in COMMANDS:
        done = slop(*command, repo=clone, config_dir=config_dir)
        assert_refused(done, "git tracks")
        assert snapshot(clone) == before, command
    assert (clone / ".git" / "config").read_bytes() == git_config
    assert not marker.exists()


def _unpacked(tmp_path: Path, attacker: Path) -> Path:
    """The victim downloads the attacker's tarball (`git archive`) and makes it a repository
    of their own (`git init`): `.slop/` is not tracked there, so only the index check stands."""
    archive = subprocess.run([*GIT, "archive", "--format=tar", "HEAD"], cwd=attacker,
                             capture_output=True, check=True, timeout=60).stdout
    victim = tmp_path / "victim"
    victim.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(victim, filter="tar")
    git("init", "-q", cwd=victim)
    git("add", "a.txt", cwd=victim)
    git("commit", "-q", "-m", "downloaded", cwd=victim)
    return victim


@pytest.mark.parametrize("command", [("resume",), ("resume", "--yes"), ("undo", "T")])
def test_a_preimage_index_naming_git_config_restores_nothing(
    tmp_path: Path, config_dir: Path, command: tuple[str, ...]
) -> None:
    marker = tmp_path / "fsmonitor-ran"
    index, blobs = _evil_git_config(marker)
    attacker = tmp_path / "attacker"
    attacker.mkdir()
    git("init", "-q", cwd=attacker)
    _planted_run(attacker, extra_index=index, blobs=blobs)
    commit_everything(attacker)
    victim = _unpacked(tmp_path, attacker)
    assert not git("ls-files", "--", ".slop", cwd=victim)
    git_config = (victim / ".git" / "config").read_bytes()
    before = snapshot(victim)

    # A resume without --yes needs someone to answer the clutch (else it is refused before the
    # index is read): answers are piped in, so the index check is what refuses.
    asks = command == ("resume",)
    done = slop(*command, repo=victim, config_dir=config_dir, answers="n\n" * 5 if asks else None)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "refused" in lines[0] and ".git/config" in lines[0], output
    assert (victim / ".git" / "config").read_bytes() == git_config
    after = snapshot(victim)
    # slop keeps its own .slop/ out of git (.git/info/exclude) and takes its one-writer lock
    # (.slop/lock): the only writes allowed here.
    for files in (before, after):
        files.pop(".git/info/exclude")
        files.pop(".slop/lock", None)
    assert after == before  # nothing restored, nothing logged, nothing moved
    git("status", "--short", cwd=victim)  # the config is the victim's own: safe to ask
    assert not marker.exists()
