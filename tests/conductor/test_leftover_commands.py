"""A command left running by a killed slop is killed by the next `slop resume` (or new run) of
its repository, and no other repository's command is touched. The real CLI, `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from slop_tui.conductor.session import Session
from slop_tui.config import load_config
from slop_tui.providers.scripted import Scenario
from slop_tui.tools.clutch import ApproveAll
from slop_tui.tools.shell_runner import COMMAND_ID_VARIABLE, repository_tag
from tests.conductor.demo import write_config
from tests.conductor.helpers import ticket, tool_reply, track
from tests.tools.test_shell_runner import _alive, _wait_gone

PROJECT = Path(__file__).resolve().parents[2]
# The first time it runs it leaves its pid and becomes a long sleep; once the pid file is
# there (the resumed run) it ends at once.
SLEEPER = 'if [ ! -e sleeper.pid ]; then echo $$ > sleeper.pid; exec sleep 300; fi'


def _config(base: Path) -> Path:
    plan = {"tracks": [{"id": "wait", "title": "Wait", "description": "run a long command"}]}
    tickets = {"tickets": [{
        "id": "sleepy", "title": "Run the long command", "description": "sleep",
        "archetype": "implementer", "depends_on": [], "target_files": ["mod.py"],
    }]}
    command = {"tool": "run_command", "arguments": {"command": SLEEPER, "timeout_s": 120}}
    finish = {"tool": "finish", "arguments": {"summary": "waited"}}
    scenario = {
        "planner": [{"text": json.dumps(plan)}],
        "lead": [{"text": json.dumps(tickets)}],
        "worker": {"sleepy": [{"tool_calls": [command]}, {"tool_calls": [finish]}]},
    }
    config = base / "config"
    config.mkdir()
    (config / "scenario.json").write_text(json.dumps(scenario))
    models = "\n".join(
        f'{tier} = "scripted:{config / "scenario.json"}"' for tier in ("planner", "lead", "worker", "default_cheap")
    )
    # Unsandboxed on purpose: inside the sandbox a command dies with slop (`--die-with-parent`,
    # tests/tools/test_sandbox_bwrap.py); without one, resume is what reaps it.
    (config / "agents.toml").write_text(
        f"[models]\n{models}\n[run]\ncommand_timeout_s = 120\nallow_unsandboxed = true\n"
    )
    return config


def _wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the awaited state never came"
        time.sleep(0.01)


def _sleeping(pid_file: Path) -> int | None:
    """The leftover's pid once it has become the sleep, else None."""
    try:
        pid = int(pid_file.read_text())
        return pid if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0") else None
    except (OSError, ValueError):
        return None


def test_resume_kills_the_command_a_killed_slop_left_running_and_only_that(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "mod.py").write_text("x = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
    env.pop(COMMAND_ID_VARIABLE, None)
    env.update(SLOP_CONFIG_DIR=str(_config(tmp_path)), PYTHONPATH=str(PROJECT), SLOP_BWRAP="")
    slop = [sys.executable, "-m", "slop_tui"]
    other = tmp_path / "other-repo"
    other.mkdir()
    others_command = subprocess.Popen(
        ["sleep", "300"], env={**env, COMMAND_ID_VARIABLE: f"{repository_tag(other)}.feedface"},
        start_new_session=True,
    )
    leftover: int | None = None
    try:
        run = subprocess.Popen(
            [*slop, "run", "Wait a while", "--repo", str(repo), "--yes"], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            _wait_for(lambda: _sleeping(repo / "sleeper.pid") is not None)
        finally:
            run.send_signal(signal.SIGKILL)
            run.communicate(timeout=10)
        leftover = _sleeping(repo / "sleeper.pid")
        assert leftover is not None and _alive(leftover)  # slop died; its command did not

        resumed = subprocess.run(
            [*slop, "resume", "--repo", str(repo), "--yes"], env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
        assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
        assert _wait_gone([leftover]) == []
        assert others_command.poll() is None  # another repository's command lives on
    finally:
        others_command.kill()
        others_command.wait()
        if leftover is not None and _alive(leftover):
            os.kill(leftover, signal.SIGKILL)


async def test_a_new_run_kills_the_repositorys_leftover_commands_first(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    path = tmp_path / "scenario.json"
    path.write_bytes(msgspec.json.encode(Scenario(worker={"a": [tool_reply("finish", summary="ok")]})))
    config = load_config(repo, env={"SLOP_CONFIG_DIR": str(write_config(tmp_path / "config", path))})
    env = {k: v for k, v in os.environ.items() if k != COMMAND_ID_VARIABLE}
    leftover = subprocess.Popen(
        ["sleep", "300"], env={**env, COMMAND_ID_VARIABLE: f"{repository_tag(repo)}.0ld"},
        start_new_session=True,
    )
    try:
        session = Session(repo, config, clutch=ApproveAll())
        summary = await session.run_tracks("new run", [track(ticket("a"), tid="T")])
        await session.close()
        assert summary.ok, summary.message
        # Gone once the kernel has run its exit: seconds at most on a loaded machine (it failed
        # once at 2 s in a full suite, not reproduced since; the message says what was seen).
        assert _wait_gone([leftover.pid], within_s=10) == [], _seen(leftover.pid, repo)
    finally:
        leftover.kill()
        leftover.wait()


def _seen(pid: int, repo: Path) -> str:
    """What /proc says of a process that should be gone: its state, and whether it carries
    the repository's tag (not killed because not found, or killed and not yet exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError as exc:
        return f"pid {pid}: {exc}"
    tagged = f"{COMMAND_ID_VARIABLE}={repository_tag(repo)}.".encode() in environ
    return f"pid {pid}: state {state}, tagged for the repository: {tagged}"
