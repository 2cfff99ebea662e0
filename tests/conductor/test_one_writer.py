"""One writer per repository (`store/lock.py`), the question before a run replaces an unfinished
one (`headless.confirm_new_run`), and the words of `slop status` (`conductor/status.py`).

The lock is tested with real processes where a second process is the point (a holder in a
child, a command a run started); the CLI scenarios live in `tests/reliability/test_user_work.py`.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.conductor.headless import confirm_new_run, unfinished_tickets
from slop_tui.conductor.status import render_status, run_outcome
from slop_tui.errors import SlopError
from slop_tui.models import Ticket, TicketState, Track
from slop_tui.store import (
    RepoLock,
    RunLockHeld,
    SessionState,
    Store,
    StoreError,
    hold_for_process,
    lock_holder,
)

# A child that takes the lock the way slop does, without writing its PID (a holder caught in
# the instant between its flock and its write), says so, and holds until its stdin closes.
HOLD_WITHOUT_PID = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    (repo / "mod.py").write_text("x = 1\n")
    return repo


# -- the lock ----------------------------------------------------------------------------------


def test_a_second_holder_is_refused_naming_the_first_and_the_lock_is_free_after(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with RepoLock(repo) as lock:
        assert lock.held and lock_holder(repo) == os.getpid()
        assert (repo / ".slop" / "lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(RunLockHeld) as refused:
            RepoLock(repo).acquire()
        message = str(refused.value)
        assert f"another slop (pid {os.getpid()}) is running on this repository; wait for it or stop it" in message
        assert "\n" not in message and refused.value.pid == os.getpid()
    assert lock_holder(repo) is None and (repo / ".slop" / "lock").read_text() == ""
    with RepoLock(repo):  # taken again once released
        pass


def test_a_stale_pid_in_the_file_neither_blocks_nor_names_the_holder(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / ".slop").mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = int(dead.stdout)
    (repo / ".slop" / "lock").write_text(f"{stale}\n")  # what a `kill -9`ed holder leaves
    assert lock_holder(repo) is None
    with RepoLock(repo):
        assert (repo / ".slop" / "lock").read_text() == f"{os.getpid()}\n"

    # A live holder that has not written its PID yet: the refusal names it, not the stale one.
    (repo / ".slop" / "lock").write_text(f"{stale}\n")
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_WITHOUT_PID, str(repo / ".slop" / "lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(RunLockHeld) as refused:
            RepoLock(repo).acquire()
        assert refused.value.pid == child.pid and f"pid {child.pid}" in str(refused.value)
        assert lock_holder(repo) == child.pid
    finally:
        child.communicate(input="", timeout=10)
    with RepoLock(repo):  # its death freed the lock
        pass


def test_a_command_started_under_the_lock_does_not_keep_it(tmp_path: Path) -> None:
    """A background job a worker's command left behind must not lock the repository."""
    repo = _repo(tmp_path)
    lock = RepoLock(repo).acquire()
    job = subprocess.Popen(["sleep", "30"], close_fds=False)  # even asked to inherit everything
    try:
        lock.release()
        with RepoLock(repo):
            assert lock_holder(repo) == os.getpid()
    finally:
        job.kill()
        job.wait()


def test_the_private_state_guard_runs_first_and_a_planted_lock_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("victim\n")

    symlinked = _repo(tmp_path / "a")
    (symlinked / ".slop").mkdir()
    os.symlink(outside, symlinked / ".slop" / "lock")
    fifo = _repo(tmp_path / "b")
    (fifo / ".slop").mkdir()
    os.mkfifo(fifo / ".slop" / "lock")
    tracked = _repo(tmp_path / "c")
    (tracked / ".slop").mkdir()
    (tracked / ".slop" / "state.json").write_text("{}")
    subprocess.run(["git", "init", "-q"], cwd=tracked, check=True)
    subprocess.run(["git", "add", "-f", ".slop/state.json"], cwd=tracked, check=True)

    for repo, why in ((symlinked, "a symlink"), (fifo, "a FIFO"), (tracked, "git tracks")):
        with pytest.raises(StoreError) as refused:
            RepoLock(repo).acquire()
        assert why in str(refused.value) and "\n" not in str(refused.value)
        assert lock_holder(repo) is None
    assert outside.read_text() == "victim\n"
    assert not (tracked / ".slop" / "lock").exists()  # refused before anything was created


def test_the_tui_holds_the_lock_for_the_process_once_taken(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    first = hold_for_process(repo)
    assert hold_for_process(repo / ".") is first and first.held  # again: the same, still held
    with pytest.raises(RunLockHeld):
        RepoLock(repo).acquire()
    first.release()  # (the TUI never does; a test must, to leave the repository free)


def test_the_tui_takes_the_lock_when_it_starts_a_run(tmp_path: Path) -> None:
    from slop_tui.tools.clutch import ApproveAll
    from slop_tui.ui.launch import build_app
    from tests.conductor.demo import scaled_scenario, write_config

    repo = _repo(tmp_path)
    config_dir = write_config(tmp_path / "config", scaled_scenario(tmp_path, 0.0, commands="true"))
    env = {"SLOP_CONFIG_DIR": str(config_dir)}
    app = build_app(repo, env=env, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "prefs")})
    assert lock_holder(repo) is None  # the board opens without it
    factory = app.session_factory
    assert factory is not None
    with RepoLock(repo):  # another slop runs: the TUI's run is refused, in one line
        with pytest.raises(RunLockHeld, match=f"pid {os.getpid()}"):
            factory(ApproveAll(), None, False)  # type: ignore[arg-type]
    session = factory(ApproveAll(), None, False)  # type: ignore[arg-type]
    try:
        assert lock_holder(repo) == os.getpid()
        with pytest.raises(RunLockHeld):
            RepoLock(repo).acquire()
    finally:
        hold_for_process(repo).release()  # the TUI keeps it until it exits; a test must not
        import asyncio

        asyncio.run(session.close())


def test_a_new_repository_gets_slop_dir_kept_out_of_git(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    with RepoLock(repo):
        pass
    listed = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert ".slop" not in listed.stdout


# -- a new run over an unfinished one --------------------------------------------------------------


def _state(*states: TicketState, finished: bool = False) -> SessionState:
    tickets = [Ticket(id=f"t{n}", title=f"ticket {n}", state=s) for n, s in enumerate(states, start=1)]
    return SessionState(run_id="r1", prompt="p", tracks=[Track(id="k", title="k", tickets=tickets)],
                        finished=finished, ok=finished)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_unfinished_means_a_ticket_left_to_run() -> None:
    assert unfinished_tickets(None) is None
    assert unfinished_tickets(_state(TicketState.DONE, TicketState.CANCELLED, finished=True)) is None
    assert unfinished_tickets(_state(TicketState.DONE, TicketState.TODO, finished=True)) == (1, 2)
    assert unfinished_tickets(_state(TicketState.BLOCKED, finished=True)) == (0, 1)
    assert unfinished_tickets(_state(TicketState.DONE, TicketState.IN_PROGRESS)) == (1, 2)


def test_the_question_before_replacing_an_unfinished_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert confirm_new_run(repo, yes=True, abandon_last=False)  # no run: nothing to ask
    Store(repo).save_state(_state(TicketState.DONE, TicketState.DONE, TicketState.TODO, finished=True))
    out, err = io.StringIO(), io.StringIO()
    assert confirm_new_run(repo, yes=False, abandon_last=False, stdin=_Terminal("y\n"), stdout=out, stderr=err)
    assert "the last run is unfinished (2 of 3 done)" in out.getvalue()
    assert out.getvalue().rstrip().endswith("abandon it and start a new one? [y/N]")
    for answer in ("\n", "n\n", "", "maybe\n"):  # the default, no, end of input, anything else
        err = io.StringIO()
        assert not confirm_new_run(repo, yes=False, abandon_last=False, stdin=_Terminal(answer),
                                   stdout=io.StringIO(), stderr=err)
        assert "`slop resume` continues it" in err.getvalue()
    for yes, stdin in ((True, _Terminal("y\n")), (False, io.StringIO("y\n"))):  # nobody to ask
        with pytest.raises(SlopError, match=r"unfinished \(2 of 3 done\).*--abandon-last"):
            confirm_new_run(repo, yes=yes, abandon_last=False, stdin=stdin, stdout=io.StringIO())
        assert confirm_new_run(repo, yes=yes, abandon_last=True, stdin=stdin, stdout=io.StringIO())


# -- what status says --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "finished", "expected"),
    [
        ((TicketState.DONE, TicketState.DONE), True, "finished, every ticket done (2 of 2 done)"),
        ((TicketState.DONE, TicketState.DONE, TicketState.DONE, TicketState.TODO), True,
         "finished: 3 of 4 done, 1 todo (`slop resume` runs it)"),
        ((TicketState.DONE, TicketState.BLOCKED, TicketState.TODO), True,
         "finished: 1 of 3 done, 1 todo, 1 blocked (`slop resume` runs them)"),
        ((TicketState.DONE, TicketState.CANCELLED), True,
         "finished: 1 of 2 done, 1 cancelled (cancelled tickets do not run again)"),
        ((TicketState.DONE, TicketState.IN_PROGRESS), False,
         "interrupted: 1 of 2 done, 1 in_progress (`slop resume` continues it)"),
        ((TicketState.DONE, TicketState.TODO), False, "not finished: 1 of 2 done, 1 todo (`slop resume` continues it)"),
        # An undone ticket of a run logged as finished and ok: the tickets decide, not the flag.
        ((TicketState.TODO,), True, "finished: 0 of 1 done, 1 todo (`slop resume` runs it)"),
    ],
)
def test_status_words_count_the_tickets(states: tuple[TicketState, ...], finished: bool, expected: str) -> None:
    state = _state(*states, finished=finished)
    assert run_outcome(state) == expected
    text = render_status(state)
    assert expected in text.splitlines()[0]
    assert ("every ticket done" in text) == all(s is TicketState.DONE for s in states)


def test_status_names_a_live_run_and_an_empty_plan() -> None:
    state = _state(TicketState.DONE, TicketState.IN_PROGRESS)
    assert run_outcome(state, running_pid=4321) == "running now (pid 4321): 1 of 2 done, 1 in_progress"
    done = _state(TicketState.DONE, finished=True)
    assert run_outcome(done, running_pid=4321) == (
        "finished, every ticket done (1 of 1 done); slop pid 4321 has this repository open"
    )
    empty = SessionState(run_id="r", prompt="p", finished=True, ok=False)
    assert run_outcome(empty) == "stopped before its plan was accepted; nothing ran"
