"""`slop run / resume / status / undo` as a user runs them: real processes, real signals."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from slop_tui.demo import DEMO_PROMPT, copy_sample_repo, demo_paths
from slop_tui.models import (
    DecisionMade,
    RunStarted,
    FileChanged,
    ProposalMade,
    ReadFileArgs,
    RunCommandArgs,
    TicketState,
    TicketStateChanged,
)
from slop_tui.providers.scripted import Scenario, ScriptedReply, load_scenario
from slop_tui.store import Store
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer
from tests.conductor.demo import DemoRun, demo_setup, sample_tests_pass, scaled_scenario, tree, write_config

ANSI = re.compile(r"\x1b\[")


def slop(*args: str, config_dir: Path, stdin: str | None = None, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        input=stdin if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config_dir), **(env or {})},
    )


def spawn(*args: str, config_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "slop_tui", *args],
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config_dir)},
    )


def wait_for(repo: Path, predicate: object, timeout: float = 60) -> None:
    """Poll the event log (read-only) until `predicate(events)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            events = Store(repo).events()
        except Exception:  # a line being written; look again
            events = []
        if predicate(events):  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("the run never reached the awaited point")


def test_without_yes_and_without_input_nothing_starts(tmp_path: Path) -> None:
    repo, config_dir, _ = demo_setup(tmp_path)
    done = slop("run", DEMO_PROMPT, "--repo", str(repo), config_dir=config_dir)
    # Refused before any model is asked (no planner tokens spent) and before a run is recorded.
    assert done.returncode == 2, done.stderr
    assert "--yes" in done.stderr and "nobody can answer" in done.stderr
    assert Store(repo).load_state() is None
    assert tree(repo) == tree(demo_paths().sample_repo)


def test_status_and_undo_from_the_command_line(tmp_path: Path, demo: DemoRun) -> None:
    repo = Path(shutil.copytree(demo.repo, tmp_path / "repo"))
    config_dir = Path(demo.config.config_dir)
    status = slop("status", "--repo", str(repo), config_dir=config_dir)
    assert status.returncode == 0, status.stderr
    assert "finished, every ticket done" in status.stdout
    assert re.search(r"stub-config\s+done\s+contract_stubber", status.stdout)
    assert "after: impl-config, use-config" in status.stdout and "usage:" in status.stdout
    refused = slop("undo", "stub-config", "--repo", str(repo), config_dir=config_dir)
    assert refused.returncode == 2
    assert "cannot undo ticket 'stub-config'" in refused.stderr and "app/config.py (by impl-config)" in refused.stderr
    assert "--force" not in refused.stderr and "nothing was restored" in refused.stderr
    assert "Traceback" not in refused.stderr
    undone = slop("undo", "test-config", "--repo", str(repo), config_dir=config_dir)
    assert undone.returncode == 0, undone.stderr
    assert not (repo / "tests" / "test_settings.py").exists()  # it was new: undo removes it
    after = slop("status", "--repo", str(repo), config_dir=config_dir)
    assert re.search(r"test-config\s+todo", after.stdout)
    assert slop("status", "--repo", str(tmp_path), config_dir=config_dir).returncode == 1


def test_kill_9_mid_run_then_resume_ends_in_the_same_files(tmp_path: Path, demo: DemoRun) -> None:
    repo = copy_sample_repo(tmp_path / "repo")
    config_dir = write_config(tmp_path / "config", scaled_scenario(tmp_path, 0.5, commands="true"))
    run = spawn("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir, log=tmp_path / "run.log")
    try:
        # In the middle: the stub is done, and impl-config has written its (broken) file.
        wait_for(repo, lambda events: any(isinstance(e, FileChanged) and e.ticket_id == "impl-config" for e in events))
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(10)
    assert run.returncode == -signal.SIGKILL
    state = Store(repo).load_state()
    assert state is not None and not state.finished
    states = {t.id: t.state for _, t in state.tickets()}
    assert states["stub-config"] is TicketState.DONE and states["impl-config"] is TicketState.IN_PROGRESS

    resumed = slop("resume", "--repo", str(repo), "--yes", config_dir=config_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not ANSI.search(resumed.stdout)  # piped: plain lines
    assert "[impl-config] done" in resumed.stdout
    # The printer knows the resumed plan: all four tickets count, the one done before too.
    assert "run finished: 4/4 tickets done" in resumed.stdout, resumed.stdout[-2000:]
    assert tree(repo) == tree(demo.repo)
    events = Store(repo).events()
    interrupted = [e for e in events if isinstance(e, TicketStateChanged) and e.ticket_id == "impl-config" and e.new is TicketState.TODO]
    assert len(interrupted) == 1


def test_ctrl_c_kills_the_running_command_records_the_interrupt_and_exits_130(tmp_path: Path) -> None:
    repo = copy_sample_repo(tmp_path / "repo")
    config_dir = write_config(tmp_path / "config", scaled_scenario(tmp_path, 0.0))
    # A command that would outlive the run if it were not killed with its process group.
    scenario_path = config_dir.parent / "scenario.json"
    text = scenario_path.read_text().replace("python -m pytest -q", "sleep 30 && python -m pytest -q", 1)
    scenario_path.write_text(text)
    run = spawn("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir, log=tmp_path / "run.log")
    try:
        wait_for(repo, lambda events: any(
            isinstance(e, ProposalMade) and isinstance(e.proposal.arguments, RunCommandArgs)
            for e in events))
        deadline = time.monotonic() + 10
        while not _sleepers(repo) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _sleepers(repo), "the command never started"
        started = time.monotonic()
        run.send_signal(signal.SIGINT)
        run.wait(20)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130
    assert time.monotonic() - started < 10
    output = (tmp_path / "run.log").read_text()
    assert "interrupted" in output and "Traceback" not in output
    assert _sleepers(repo) == []  # the command's whole process group is gone
    state = Store(repo).load_state()
    assert state is not None and not state.finished
    assert {t.id: t.state for _, t in state.tickets()}["stub-config"] is TicketState.TODO
    moves = [(e.ticket_id, e.old, e.new) for e in Store(repo).events() if isinstance(e, TicketStateChanged)]
    assert ("stub-config", TicketState.IN_PROGRESS, TicketState.TODO) in moves
    status = slop("status", "--repo", str(repo), config_dir=config_dir)
    assert "slop resume" in status.stdout


def _moment_config(tmp_path: Path, *, planner_s: float = 0.0, first_worker_call_s: float = 0.0) -> Path:
    """The demo scenario without latencies but the ones asked for, and the stub ticket's
    command turned into one that outlives the run unless its process group is killed."""
    scenario = load_scenario(demo_paths().scenario)

    def fast(replies: list[ScriptedReply], first_s: float = 0.0) -> list[ScriptedReply]:
        return [
            msgspec.structs.replace(r, latency_s=first_s if i == 0 else 0.0) for i, r in enumerate(replies)
        ]

    worker = {k: fast(v, first_worker_call_s if k == "stub-config" else 0.0) for k, v in scenario.worker.items()}
    slow = Scenario(
        planner=fast(scenario.planner, planner_s),
        lead=fast(scenario.lead),
        worker=worker,
        default_cheap={k: fast(v) for k, v in scenario.default_cheap.items()},
    )
    text = msgspec.json.encode(slow).decode().replace("python -m pytest -q", "sleep 30 && python -m pytest -q", 1)
    path = tmp_path / "scenario.json"
    path.write_text(text)
    return write_config(tmp_path / "config", path)


def _is_command(tool: str) -> object:
    return lambda events: any(isinstance(e, ProposalMade) and e.proposal.tool == tool for e in events)


# When Ctrl+C comes: (latencies, the logged events that mean "now", whether the plan is taken
# with --yes). `command start`: the command's proposal is logged and approved, and its shell is
# being started; Ctrl+C there used to hang until the command's children ended (asyncio killed
# the shell alone, then waited for pipes its `sleep 30` still held). `clutch read`: no --yes,
# the plan accepted on stdin, and the clutch's reader thread blocked on a line that never comes.
MOMENTS: dict[str, tuple[dict[str, float], object, bool]] = {
    "planning": ({"planner_s": 30.0}, lambda events: any(isinstance(e, RunStarted) for e in events), True),
    "model call": (
        {"first_worker_call_s": 30.0},
        lambda events: any(
            isinstance(e, TicketStateChanged) and e.ticket_id == "stub-config" and e.new is TicketState.IN_PROGRESS
            for e in events
        ),
        True,
    ),
    "command start": ({}, _is_command("run_command"), True),
    "clutch read": ({}, _is_command("write_file"), False),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_at_any_moment_stops_cleanly_with_130(tmp_path: Path, moment: str) -> None:
    latencies, now, yes = MOMENTS[moment]
    repo = copy_sample_repo(tmp_path / "repo")
    config_dir = _moment_config(tmp_path, **latencies)
    log = tmp_path / "run.log"
    run = subprocess.Popen(
        [sys.executable, "-m", "slop_tui", "run", DEMO_PROMPT, "--repo", str(repo), *(["--yes"] if yes else [])],
        stdin=subprocess.DEVNULL if yes else subprocess.PIPE,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config_dir)},
    )
    try:
        if not yes:
            assert run.stdin is not None
            run.stdin.write(b"y\n")  # accept the plan; then no answer: the clutch waits on stdin
            run.stdin.flush()
        wait_for(repo, now)
        started = time.monotonic()
        run.send_signal(signal.SIGINT)
        run.wait(20)
        elapsed = time.monotonic() - started
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if run.stdin is not None:
            run.stdin.close()
    output = log.read_text()
    assert run.returncode == 130, output
    assert elapsed < 10, output
    # A clean stop, not the deadline's way out (which records nothing).
    assert "quitting at once" not in output and "Traceback" not in output, output
    assert "slop: interrupted" in output
    assert _sleepers(repo) == []
    state = Store(repo).load_state()
    assert state is not None and not state.finished
    if moment == "planning":
        assert state.tracks == [] and "nothing ran" in output
        return
    tickets = {t.id: t.state for _, t in state.tickets()}
    assert tickets["stub-config"] is TicketState.TODO
    assert all(s is TicketState.TODO for s in tickets.values())
    moves = [(e.ticket_id, e.new) for e in Store(repo).events() if isinstance(e, TicketStateChanged)]
    assert moves[-1] == ("stub-config", TicketState.TODO)
    assert "slop resume" in slop("status", "--repo", str(repo), config_dir=config_dir).stdout


def _sleepers(repo: Path) -> list[Path]:
    """The `sleep 30` processes of this test's run (their working directory is its repository:
    another run on the same machine, a test's or a user's, is none of its business)."""
    return [
        p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == "sleep 30" and _cwd(p, repo)
    ]


def _cwd(proc: Path, repo: Path) -> bool:
    try:
        return Path(os.readlink(proc / "cwd")).is_relative_to(repo.resolve())
    except OSError:
        return False


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_linear_steps_through_every_tool_call(tmp_path: Path, demo: DemoRun) -> None:
    repo, config_dir, _ = demo_setup(tmp_path, commands="true")  # the steps, not the commands
    answers = "y\n" + "a\n" * 300
    done = slop("run", DEMO_PROMPT, "--repo", str(repo), "--linear", config_dir=config_dir, stdin=answers)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "accept this plan?" in done.stdout and "Track 1: config" in done.stdout
    events = Store(repo).events()
    decisions = [e for e in events if isinstance(e, DecisionMade)]
    proposals = {e.proposal.id: e.proposal for e in events if isinstance(e, ProposalMade)}
    assert done.stdout.count("[a]pprove  [r]eject  [e]dit >") == len(decisions) == len(proposals)
    assert any(isinstance(proposals[d.proposal_id].arguments, ReadFileArgs) for d in decisions)
    active: set[str] = set()
    for event in events:
        if isinstance(event, TicketStateChanged):
            if event.new in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL):
                active.add(event.ticket_id)
            else:
                active.discard(event.ticket_id)
            assert len(active) <= 1
    assert tree(repo) == tree(demo.repo)  # linear and parallel end in the same files


def test_the_same_run_through_the_real_sdks_over_http(tmp_path: Path) -> None:
    """Planner and QA on the Anthropic API, lead and worker on an OpenAI-compatible one:
    the SDK clients, over HTTP to a scripted server, set up only by agents.toml and env."""
    scenario = load_scenario(demo_paths().scenario)
    repo = copy_sample_repo(tmp_path / "repo")

    def http(reply: object) -> HTTPReply:
        calls = [HTTPToolCall(name=c.tool, arguments=c.raw_arguments if c.raw_arguments is not None else c.arguments) for c in reply.tool_calls]  # type: ignore[attr-defined]
        return HTTPReply(text=reply.text, tool_calls=calls)  # type: ignore[attr-defined]

    with LLMServer(api_key="sk-http-test-key-0123456789") as server:
        server.push(http(scenario.planner[0]), "messages")
        server.push(http(scenario.lead[0]), "chat")
        # One worker at a time, so the queue order is the plan order (dependencies first).
        for ticket_id in ("stub-config", "impl-config", "use-config", "test-config"):
            for reply in scenario.worker[ticket_id]:
                server.push(http(reply), "chat")
        for reply in scenario.default_cheap["impl-config"]:
            server.push(http(reply), "messages")
        config_dir = tmp_path / "config"
        config_dir.mkdir()
        (config_dir / "agents.toml").write_text(
            f"""
[providers.claudeish]
kind = "anthropic"
base_url = "{server.base_url}"
key_env = "TEST_ANTHROPIC_KEY"
max_retries = 0

[providers.gptish]
kind = "openai"
base_url = "{server.base_url}/v1"
key_env = "TEST_OPENAI_KEY"
max_retries = 0

[models]
planner = "claudeish:claude-test"
lead = "gptish:gpt-test"
worker = "gptish:gpt-test"
default_cheap = "claudeish:claude-test"
"""
        )
        env = {"TEST_ANTHROPIC_KEY": "sk-http-test-key-0123456789", "TEST_OPENAI_KEY": "sk-http-test-key-0123456789"}
        done = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", "--workers", "1", config_dir=config_dir, env=env)
        paths = [r.path for r in server.requests]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert paths.count("/v1/messages") == 2 and paths.count("/v1/chat/completions") == 1 + sum(
        len(scenario.worker[t]) for t in scenario.worker
    )
    sample_tests_pass(repo)
    for file in (repo / ".slop").rglob("*"):
        if file.is_file():
            assert b"sk-http-test-key" not in file.read_bytes(), file
