"""Nothing of the user's is lost: one writer per repository, and runs that never start over an
unfinished one silently (issue 13, part 1). Real processes through the real CLI, the scripted
team, a plain folder.

One section per topic:
- set-up: a one-ticket run (`x = 1` becomes `x = 10`), scripted, its worker as slow as asked;
- one writer: concurrent runs refused, a killed holder's lock taken over;
- starting over an unfinished run: `--abandon-last`, the terminal's question;
- status: what it counts, in consistent words.

Prints `user work: N scenarios, 0 user edits lost, 0 double edits, N of N concurrent runs refused`.
A double edit is `x = 100`: the one edit applied twice (what two runs at once used to do).
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from slop_tui.store import Store, lock_holder
from tests.reliability.counts import tally

COUNTS = tally("user work", "scenarios", "user edits lost", "double edits", "concurrent runs refused")

PROJECT = Path(__file__).resolve().parents[2]
PROMPT = "Set x to ten"
BEFORE = "x = 1\n"
AFTER = "x = 10\n"
TWICE = "x = 100\n"
USER_FILE = "notes.txt"  # the user's own file, which no run touches
USER_TEXT = "my notes, not slop's\n"
REFUSAL = re.compile(r"another slop \(pid (\d+)\) is running on this repository; wait for it or stop it")


# -- set-up ------------------------------------------------------------------------------------


def scenario(latency_s: float) -> dict[str, object]:
    """One track, one ticket; the worker waits `latency_s` before its edit (a run that holds
    the repository for that long), then finishes."""
    plan = {"tracks": [{"id": "bump", "title": "Set x", "description": "x should be ten"}]}
    tickets = {"tickets": [{
        "id": "bump-x", "title": "Set x to 10", "description": "x = 10", "archetype": "implementer",
        "depends_on": [], "target_files": ["mod.py"],
    }]}
    edit = {"tool": "edit_file", "arguments": {"path": "mod.py", "old": BEFORE, "new": AFTER}}
    finish = {"tool": "finish", "arguments": {"summary": "x is ten"}}
    return {
        "planner": [{"text": json.dumps(plan)}],
        "lead": [{"text": json.dumps(tickets)}],
        "worker": {"bump-x": [{"latency_s": latency_s, "tool_calls": [edit]}, {"tool_calls": [finish]}]},
    }


@dataclass
class Repo:
    """A plain folder with the file the run edits and a file of the user's, and one config
    per worker speed."""

    root: Path
    base: Path

    def env(self, latency_s: float) -> dict[str, str]:
        config = self.base / f"config-{latency_s}"
        if not config.exists():
            config.mkdir()
            path = config / "scenario.json"
            path.write_text(json.dumps(scenario(latency_s)))
            models = "\n".join(f'{tier} = "scripted:{path}"' for tier in ("planner", "lead", "worker", "default_cheap"))
            (config / "agents.toml").write_text(f"[models]\n{models}\n")
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
        env.update(SLOP_CONFIG_DIR=str(config), PYTHONPATH=str(PROJECT))
        return env

    def args(self, command: str, *extra: str) -> list[str]:
        prompt = (PROMPT,) if command == "run" else ()
        return [sys.executable, "-m", "slop_tui", command, *prompt, "--repo", str(self.root), *extra]

    def slop(self, command: str, *extra: str, latency_s: float = 0.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(command, *extra), env=self.env(latency_s), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=60,
        )

    def spawn(self, command: str, *extra: str, latency_s: float = 0.0) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.args(command, *extra), env=self.env(latency_s), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def code(self) -> str:
        return (self.root / "mod.py").read_text()

    def check_user_work(self, expected_code: str) -> None:
        """The user's file untouched, the run's file edited at most once: counted, then asserted."""
        user_text = (self.root / USER_FILE).read_text() if (self.root / USER_FILE).exists() else None
        lost = user_text != USER_TEXT
        twice = self.code() == TWICE
        COUNTS.add("user edits lost", int(lost))
        COUNTS.add("double edits", int(twice))
        assert not lost, f"{USER_FILE} is now {user_text!r}"
        assert self.code() == expected_code


def make_repo(base: Path, name: str = "repo") -> Repo:
    root = base / name
    root.mkdir()
    (root / "mod.py").write_text(BEFORE)
    (root / USER_FILE).write_text(USER_TEXT)
    return Repo(root, base)


def wait_until(predicate: object, timeout: float = 20.0) -> None:
    """Poll a condition (a file's state, not a clock) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the awaited state never came"
        time.sleep(0.01)


def refused_by(output: str, pid: int | None) -> bool:
    """One line on stderr names the lock's holder (`pid`, when known), and nothing else."""
    lines = [line for line in output.splitlines() if line.strip()]
    found = REFUSAL.search(output)
    return (
        len(lines) == 1 and found is not None and "Traceback" not in output
        and (pid is None or int(found[1]) == pid)
    )


STATUS_ROW = re.compile(r"^  (\S+)\s+(todo|in_progress|awaiting_approval|done|blocked|cancelled)\s", re.M)


def status_of(repo: Repo) -> str:
    """`slop status`, checked for consistency: its headline counts what its rows show, and
    "every ticket done" appears exactly when every row says done."""
    done = repo.slop("status")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    text = done.stdout
    states = [m[2] for m in STATUS_ROW.finditer(text)]
    headline = text.splitlines()[0]
    assert f"{states.count('done')} of {len(states)} done" in headline, text
    assert f"tickets: {len(states)} (" in text, text
    for state in set(states) - {"done"}:
        assert f"{states.count(state)} {state}" in headline, text
    assert ("every ticket done" in text) == (states.count("done") == len(states)), text
    return text


def ticket_states(repo: Repo) -> dict[str, str]:
    state = Store(repo.root).load_state()
    return {} if state is None else {t.id: t.state.value for _, t in state.tickets()}


# -- one writer ------------------------------------------------------------------------------


def test_a_running_slop_refuses_every_other_run_then_a_kill_9_frees_the_repository(tmp_path: Path) -> None:
    """20 contenders against a live holder are each refused, naming it, touching nothing; once
    the holder is killed with `kill -9`, a resume takes the lock and finishes the work once."""
    repo = make_repo(tmp_path)
    holder = repo.spawn("run", "--yes", latency_s=60.0)  # holds until killed
    try:
        wait_until(lambda: lock_holder(repo.root) == holder.pid and "bump-x" in ticket_states(repo))
        contenders = [
            repo.spawn(command, *extra)
            for command, extra in [("run", ("--yes", "--abandon-last"))] * 14
            + [("resume", ("--yes",))] * 3 + [("undo", ("bump-x",))] * 3
        ]
        for contender in contenders:
            out, err = contender.communicate(timeout=60)
            ok = contender.returncode == 2 and out == "" and refused_by(err, holder.pid)
            COUNTS.add_of("concurrent runs refused", ok)
            assert ok, (contender.args, contender.returncode, out, err)
        assert holder.poll() is None and lock_holder(repo.root) == holder.pid
        # Status reads without the lock, and tells a live run from an interrupted one.
        assert f"running now (pid {holder.pid}): 0 of 1 done, 1 in_progress" in status_of(repo)
        repo.check_user_work(BEFORE)  # the holder's worker is still thinking: nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=10)
    assert holder.returncode == -signal.SIGKILL
    assert (repo.root / ".slop" / "lock").read_text() == f"{holder.pid}\n"  # a dead holder's PID
    assert lock_holder(repo.root) is None  # is not believed: the kernel freed its lock

    status = status_of(repo)
    assert "running now" not in status and "interrupted: 0 of 1 done, 1 in_progress" in status

    resumed = repo.slop("resume", "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ticket_states(repo) == {"bump-x": "done"}
    repo.check_user_work(AFTER)
    assert (repo.root / ".slop" / "lock").read_text() == ""  # a clean exit clears its PID
    COUNTS.add("scenarios", 2)


# The starting gun for runs that start at one instant. One interpreter imports slop once, then
# forks one process per run: each redirects its output to its own files, waits for the go, and
# runs the CLI's own `main` (what `python -m slop_tui` runs) with its argv. The go is one write
# that wakes every process of a batch at once, so the race for the lock is decided there, not by
# who finished its imports first; and forking saves each process the start-up, which keeps 40
# runs fast on 2 busy cores. Prints `[[pid, exit status], ...]`, one entry a run, in order.
STARTING_GUN = """
import json, os, sys
from slop_tui.cli import main
import slop_tui.config, slop_tui.store.lock, slop_tui.conductor.headless

results = []
for batch in json.loads(sys.argv[1]):
    go_r, go_w = os.pipe()
    pids = []
    for argv, out, err in batch:
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
            os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
            os.read(go_r, 1)
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        pids.append(pid)
    os.close(go_r)
    os.write(go_w, b"g" * len(pids))  # go: every run of the batch at once
    os.close(go_w)
    for pid in pids:
        results.append([pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])])
print(json.dumps(results))
"""
TRIALS, BATCH = 20, 5
HOLD_S = 1.0  # the winner's worker thinks this long; the loser asks within milliseconds of the go


def test_two_runs_started_at_once_exactly_one_runs(tmp_path: Path) -> None:
    """20 trials, both runs of each released at the same instant (`STARTING_GUN`, a batch of
    repositories at a time): one does the work, the other is refused, naming it."""
    repos = [make_repo(tmp_path, f"repo{n}") for n in range(TRIALS)]
    runs = [(repo, tmp_path / f"{repo.root.name}.{side}") for repo in repos for side in ("a", "b")]
    batches = [
        [[repo.args("run", "--yes")[3:], f"{io}.out", f"{io}.err"] for repo, io in runs[at : at + 2 * BATCH]]
        for at in range(0, len(runs), 2 * BATCH)
    ]
    gun = subprocess.run(
        [sys.executable, "-c", STARTING_GUN, json.dumps(batches)], env=repos[0].env(HOLD_S),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert gun.returncode == 0 and "Traceback" not in gun.stderr, gun.stderr
    ended = json.loads(gun.stdout)
    assert len(ended) == len(runs)
    refused = 0
    for trial, repo in enumerate(repos):
        results = [
            (pid, status, Path(f"{io}.out").read_text(), Path(f"{io}.err").read_text())
            for (pid, status), (_, io) in zip(ended[2 * trial : 2 * trial + 2], runs[2 * trial : 2 * trial + 2])
        ]
        winners = [r for r in results if r[1] == 0]
        losers = [r for r in results if r[1] == 2 and refused_by(r[3], None)]
        ok = len(winners) == 1 and len(losers) == 1 and refused_by(losers[0][3], winners[0][0])
        COUNTS.add_of("concurrent runs refused", ok and losers[0][2] == "")  # named the one that ran
        assert ok and losers[0][2] == "", results
        refused += 1
        repo.check_user_work(AFTER)
        assert ticket_states(repo) == {"bump-x": "done"}
    assert refused == TRIALS
    COUNTS.add("scenarios", TRIALS)


# -- starting over an unfinished run -----------------------------------------------------------


def killed_mid_run(repo: Repo) -> str:
    """A run killed (`kill -9`) while its ticket runs; the run's id."""
    run = repo.spawn("run", "--yes", latency_s=60.0)
    try:
        wait_until(lambda: ticket_states(repo) == {"bump-x": "in_progress"})
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=10)
    state = Store(repo.root).load_state()
    assert state is not None
    return state.run_id


def run_id(repo: Repo) -> str | None:
    state = Store(repo.root).load_state()
    return None if state is None else state.run_id


def test_a_new_run_over_an_unfinished_one_needs_abandon_last_without_a_terminal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    last = killed_mid_run(repo)
    for command, extra in [
        ("run", ("--yes",)),  # --yes: nobody to ask
        ("run", ()),  # stdin is not a terminal: nobody to ask either
        ("ticket", ("Set x to 10", "--target", "mod.py", "--id", "bump-x", "--yes")),  # a run too
    ]:
        refused = repo.slop(command, *extra)
        lines = refused.stderr.splitlines()
        assert refused.returncode == 2 and len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "the last run is unfinished (0 of 1 done)" in lines[0]
        assert "`slop resume`" in lines[0] and "--abandon-last" in lines[0]
        assert run_id(repo) == last and not (repo.root / ".slop" / "runs").exists()  # nothing archived
        repo.check_user_work(BEFORE)
        COUNTS.add("scenarios")

    started = repo.slop("run", "--yes", "--abandon-last")
    assert started.returncode == 0, started.stdout + started.stderr
    assert run_id(repo) != last and ticket_states(repo) == {"bump-x": "done"}
    archived = list((repo.root / ".slop" / "runs").iterdir())
    assert len(archived) == 1 and f"-{last}-" in archived[0].name  # kept, not deleted
    repo.check_user_work(AFTER)
    # Over a run whose every ticket is done there is nothing to abandon: no flag needed.
    again = repo.slop("ticket", "Set x to 10", "--target", "mod.py", "--id", "bump-x", "--yes")
    assert "unfinished" not in again.stderr and "another slop" not in again.stderr, again.stderr
    COUNTS.add("scenarios")


def in_a_terminal(repo: Repo, answers: str, *extra: str) -> tuple[int, str, str]:
    """`slop run` with a terminal (a pty) as stdin, `answers` typed into it; (status, out, err)."""
    master, slave = pty.openpty()
    try:
        run = subprocess.Popen(
            repo.args("run", *extra), env=repo.env(0.0), stdin=slave,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        os.close(slave)
        slave = -1
        os.write(master, answers.encode())  # the terminal keeps typed lines until they are read
        out, err = run.communicate(timeout=60)
        return run.returncode, out, err
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def test_in_a_terminal_the_new_run_asks_first_and_no_keeps_the_last_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    last = killed_mid_run(repo)
    code, out, err = in_a_terminal(repo, "\n")  # just Enter: the default is no
    assert "the last run is unfinished (0 of 1 done)" in out
    assert "abandon it and start a new one? [y/N]" in out
    assert code == 1 and "`slop resume` continues it" in err and "Traceback" not in err, err
    assert run_id(repo) == last and ticket_states(repo) == {"bump-x": "in_progress"}
    repo.check_user_work(BEFORE)
    COUNTS.add("scenarios")

    # y: the last run is archived and the new one asks as usual (the plan, then the edit).
    code, out, err = in_a_terminal(repo, "y\ny\na\n")
    assert code == 0, out + err
    assert run_id(repo) != last and ticket_states(repo) == {"bump-x": "done"}
    repo.check_user_work(AFTER)
    COUNTS.add("scenarios")


# -- status ----------------------------------------------------------------------------------


def test_status_says_what_it_counts_before_during_and_after_an_undo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ran = repo.slop("run", "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "finished, every ticket done (1 of 1 done)" in status_of(repo)
    undone = repo.slop("undo", "bump-x")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    repo.check_user_work(BEFORE)
    after = status_of(repo)  # the run had finished: now 1 todo, and never "every ticket done"
    assert "0 of 1 done, 1 todo (`slop resume`" in after.splitlines()[0], after
    COUNTS.add("scenarios")


# -- undo and resume that lose nothing (helper G2) ---------------------------------------------
#
# A ticket whose one edit (`x = 1` -> `x = 10`, without the newline) would apply again on a
# file that already holds it: applied twice it leaves `x = 100`, the double edit counted here.
# Its worker then runs a command (a second stop at the clutch) and finishes.

ONCE = "x = 10\n"


def twice_able(root: Path) -> dict[str, str]:
    """The env of a config whose edit applies twice if nothing restores the file in between."""
    config = root / "config-twice"
    if not config.exists():
        config.mkdir()
        plan = {"tracks": [{"id": "bump", "title": "Set x", "description": "x should be ten"}]}
        tickets = {"tickets": [{
            "id": "bump-x", "title": "Set x to 10", "description": "x = 10", "archetype": "implementer",
            "depends_on": [], "target_files": ["mod.py"],
        }]}
        edit = {"tool": "edit_file", "arguments": {"path": "mod.py", "old": "x = 1", "new": "x = 10"}}
        check = {"tool": "run_command", "arguments": {"command": "true"}}
        finish = {"tool": "finish", "arguments": {"summary": "x is ten"}}
        path = config / "scenario.json"
        path.write_text(json.dumps({
            "planner": [{"text": json.dumps(plan)}],
            "lead": [{"text": json.dumps(tickets)}],
            "worker": {"bump-x": [{"tool_calls": [edit]}, {"tool_calls": [check]}, {"tool_calls": [finish]}]},
        }))
        models = "\n".join(f'{tier} = "scripted:{path}"' for tier in ("planner", "lead", "worker", "default_cheap"))
        (config / "agents.toml").write_text(f"[models]\n{models}\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
    env.update(SLOP_CONFIG_DIR=str(config), PYTHONPATH=str(PROJECT))
    return env


def twice(repo: Repo, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        repo.args(command, *extra), env=twice_able(repo.base), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )


def check_no_double_edit(repo: Repo) -> None:
    double = repo.code() == "x = 100\n"
    COUNTS.add("double edits", int(double))
    assert not double, "the edit was applied twice"
    assert repo.code() == ONCE


def events_of(repo: Repo) -> list[object]:
    try:
        return list(Store(repo.root).events())
    except Exception:  # a line being written: look again
        return []


def ctrl_c_at_the_clutch_after_the_edit(repo: Repo, sig: int = signal.SIGINT) -> None:
    """`slop run` in a terminal-less session: the plan accepted, the edit approved; Ctrl+C
    (`sig`) while the clutch waits on the command. The edit is on disk and the ticket saved as
    `todo` (a `kill -9`: left as it was, waiting at the clutch)."""
    from slop_tui.models import ProposalMade

    run = subprocess.Popen(
        repo.args("run"), env=twice_able(repo.base), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert run.stdin is not None
        run.stdin.write("y\na\n")  # accept the plan, approve the edit; the command waits
        run.stdin.flush()
        wait_until(lambda: any(
            isinstance(e, ProposalMade) and e.proposal.tool == "run_command" for e in events_of(repo)
        ))
        run.send_signal(sig)
        # Wait for slop to end before closing its stdin: closing it at once (what communicate()
        # does) races the signal, and an input that ends first is a clutch closed, not Ctrl+C.
        run.wait(timeout=20)
        out, _ = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == (130 if sig == signal.SIGINT else -sig) and "Traceback" not in out, out
    saved = {"todo"} if sig == signal.SIGINT else {"in_progress", "awaiting_approval"}
    assert repo.code() == ONCE and ticket_states(repo)["bump-x"] in saved, out[-3000:]


def test_undo_after_the_users_own_edit_stops_and_loses_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ran = twice(repo, "run", "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    mine = b"x = 10\n# the user's own line, typed after the run\n"
    (repo.root / "mod.py").write_bytes(mine)
    before = {p.name: p.read_bytes() for p in repo.root.iterdir() if p.is_file()}

    undone = twice(repo, "undo", "bump-x")
    lines = [line for line in undone.stderr.splitlines() if line.strip()]
    assert undone.returncode == 2 and len(lines) == 1 and "Traceback" not in undone.stderr, undone.stderr
    assert "cannot undo ticket 'bump-x'" in lines[0] and "mod.py (changed outside slop)" in lines[0]
    assert "nothing was restored" in lines[0] and "--force" not in lines[0]
    lost = (repo.root / "mod.py").read_bytes() != mine
    COUNTS.add("user edits lost", int(lost))
    assert not lost
    assert {p.name: p.read_bytes() for p in repo.root.iterdir() if p.is_file()} == before
    assert ticket_states(repo) == {"bump-x": "done"}
    assert "--force" not in twice(repo, "undo", "--help").stdout
    repo.check_user_work(mine.decode())
    COUNTS.add("scenarios")


def test_undo_of_an_untouched_ticket_restores_it_and_resume_continues_the_finished_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ran = twice(repo, "run", "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    undone = twice(repo, "undo", "bump-x")
    assert undone.returncode == 0, undone.stderr
    assert "restored 1 file: mod.py" in undone.stdout
    assert repo.code() == BEFORE and ticket_states(repo) == {"bump-x": "todo"}
    repo.check_user_work(BEFORE)
    # The finished run is continued: its undone ticket runs again, once.
    resumed = twice(repo, "resume", "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "[bump-x] done" in resumed.stdout, resumed.stdout
    assert ticket_states(repo) == {"bump-x": "done"}
    check_no_double_edit(repo)
    repo.check_user_work(ONCE)
    COUNTS.add("scenarios")


def test_ctrl_c_at_a_clutch_after_a_write_then_resume_restores_before_the_fresh_start(tmp_path: Path) -> None:
    from slop_tui.models import FilesRestored, TicketState, TicketStateChanged

    repo = make_repo(tmp_path)
    ctrl_c_at_the_clutch_after_the_edit(repo)
    resumed = twice(repo, "resume", "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    check_no_double_edit(repo)  # the old code left `x = 10` and applied the edit again
    events = events_of(repo)
    restored = [i for i, e in enumerate(events) if isinstance(e, FilesRestored) and e.ticket_id == "bump-x"]
    moves = [(i, e.new) for i, e in enumerate(events) if isinstance(e, TicketStateChanged) and e.ticket_id == "bump-x"]
    saved = next(i for i, new in moves if new is TicketState.TODO)  # the Ctrl+C
    fresh = next(i for i, new in moves if new is TicketState.IN_PROGRESS and i > saved)
    assert len(restored) == 1 and saved < restored[0] < fresh  # restored before its fresh start
    assert events[restored[0]].paths == ["mod.py"]  # type: ignore[attr-defined]
    repo.check_user_work(ONCE)
    COUNTS.add("scenarios")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_deleted_preimage_index_is_rebuilt_from_the_log_never_a_double_edit(tmp_path: Path, sig: int) -> None:
    repo = make_repo(tmp_path)
    ctrl_c_at_the_clutch_after_the_edit(repo, sig)
    (kept,) = (repo.root / ".slop" / "preimages").glob("bump-x-*")
    index = kept / "index.json"
    assert index.is_file()
    index.unlink()
    resumed = twice(repo, "resume", "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "index.json: missing; rebuilt from" in resumed.stderr
    check_no_double_edit(repo)
    repo.check_user_work(ONCE)
    COUNTS.add("scenarios")


def test_a_deleted_preimage_index_and_blob_refuses_the_resume_clearly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ctrl_c_at_the_clutch_after_the_edit(repo)
    (folder,) = (repo.root / ".slop" / "preimages").glob("bump-x-*")
    for kept in folder.iterdir():
        kept.unlink()
    refused = twice(repo, "resume", "--yes")
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
    assert any("cannot be restored" in line and "nothing was restored" in line for line in lines), refused.stderr
    check_no_double_edit(repo)  # refused, not run on the half-edited file
    assert ticket_states(repo) == {"bump-x": "todo"}
    repo.check_user_work(ONCE)
    COUNTS.add("scenarios")


def test_the_users_edit_after_a_ctrl_c_stops_the_resume_and_is_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    ctrl_c_at_the_clutch_after_the_edit(repo)
    mine = b"x = 10  # checked by hand\n"
    (repo.root / "mod.py").write_bytes(mine)
    refused = twice(repo, "resume", "--yes")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
    assert "cannot resume ticket 'bump-x'" in refused.stderr and "mod.py" in refused.stderr
    lost = (repo.root / "mod.py").read_bytes() != mine
    COUNTS.add("user edits lost", int(lost))
    assert not lost
    repo.check_user_work(mine.decode())
    COUNTS.add("scenarios")
