"""`slop ticket` as a user runs it: a subprocess against the scripted server posing as DeepSeek
(the real OpenAI SDK over HTTP on 127.0.0.1), answering the terminal clutch through stdin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import slop_tui
from slop_tui.cli import main
from slop_tui.models import ContextBuilt, ProposalMade, TicketState, TicketStateChanged
from slop_tui.store import Store
from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer

from tests.agents.helpers import make_repo

KEY = "sk-deepseek-test-0123456789"
PROJECT = Path(slop_tui.__file__).resolve().parent.parent
MOD = 'def greet(name):\n    return "hello " + name\n'


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as srv:
        yield srv


def config_dir(tmp_path: Path, server: LLMServer) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "agents.toml").write_text(
        "[models]\n"
        'worker = "deepseek:deepseek-chat"\n'
        'default_cheap = "deepseek:deepseek-chat"\n\n'
        "[providers.deepseek]\n"
        f'base_url = "{server.base_url}/v1"\n'
    )
    return directory


def environment(tmp_path: Path, server: LLMServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
    env.update(
        SLOP_CONFIG_DIR=str(config_dir(tmp_path, server)),
        DEEPSEEK_API_KEY=KEY,
        PYTHONPATH=str(PROJECT),
        COLUMNS="120",
    )
    return env


def slop_ticket(repo: Path, env: dict[str, str], stdin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", "ticket", "Make greet say hi", "--target", "mod.py",
         "--repo", str(repo), *extra],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def script_greet_change(server: LLMServer) -> None:
    def tool(name: str, **arguments: object) -> HTTPReply:
        return HTTPReply(tool_calls=[HTTPToolCall(name=name, arguments=dict(arguments))])

    server.push(tool("read_file", path="mod.py", view="raw"))
    server.push(tool("edit_file", path="mod.py", old='"hello "', new='"hi "'))
    server.push(tool("finish", summary="greet now says hi"))


def files_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def test_the_clutch_shows_the_diff_waits_and_applies_on_approval(
    tmp_path: Path, server: LLMServer
) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    script_greet_change(server)
    done = slop_ticket(repo, environment(tmp_path, server), "a\n")

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert '-    return "hello " + name' in out and '+    return "hi " + name' in out
    assert out.index("+    return") < out.index("[a]pprove")  # shown before the question
    assert out.count("[a]pprove") == 1  # the read and the finish did not ask
    assert "ticket done: greet now says hi" in out
    assert (repo / "mod.py").read_text() == MOD.replace('"hello "', '"hi "')

    # The worker's conversation is gone: nothing in .slop/ holds a message array or a message
    # (a context report's files have a "role" too, but never a conversation's roles).
    slop_files = files_under(repo / ".slop")
    assert slop_files
    for path in slop_files:
        data = path.read_bytes()
        assert b'"messages"' not in data and b'"tool_calls"' not in data
        for role in (b"system", b"user", b"assistant", b"tool"):
            assert b'"role":"' + role + b'"' not in data
        assert KEY.encode() not in data
    # What the worker was first given is logged as a report: the one the summary line counts.
    built = [e for e in Store(repo).events() if isinstance(e, ContextBuilt)]
    assert len(built) == 1 and (built[0].ticket_id, built[0].track_id) == ("ticket", "ticket")
    assert [(f.path, f.role, f.view) for f in built[0].files] == [("mod.py", "target", "curated")]
    assert f"first context {built[0].total_tokens:,} tokens)" in out
    state = Store(repo).load_state()
    assert state is not None and state.tracks[0].tickets[0].result_summary == "greet now says hi"
    assert Store(repo).preimages("ticket") == {"mod.py": MOD.encode()}  # `slop undo ticket`

    requests = [r.body for r in server.requests]
    assert len(requests) == 3 and all(r["model"] == "deepseek-chat" for r in requests)
    assert [t["function"]["name"] for t in requests[0]["tools"]] == [
        "read_file", "list_files", "write_file", "edit_file", "run_command", "finish"
    ]
    first_user = requests[0]["messages"][1]["content"]
    assert "# Ticket ticket: Make greet say hi" in first_user and "### mod.py (target, curated view)" in first_user
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_end_of_input_rejects_and_stops_without_hanging(tmp_path: Path, server: LLMServer) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    script_greet_change(server)
    done = slop_ticket(repo, environment(tmp_path, server), "")
    assert done.returncode == 1
    assert (repo / "mod.py").read_text() == MOD
    assert "ticket blocked: the clutch stopped: clutch: input ended" in done.stdout
    assert len(server.requests) == 2  # nothing asked of the model after the stop


def test_a_rejection_reason_reaches_the_worker(tmp_path: Path, server: LLMServer) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    script_greet_change(server)
    done = slop_ticket(repo, environment(tmp_path, server), "r keep hello\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "mod.py").read_text() == MOD
    last = server.requests[-1].body["messages"]
    assert json.dumps(last).count("Rejected by the person: keep hello") == 1


def test_yes_approves_without_reading_stdin(
    tmp_path: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    script_greet_change(server)
    for name, value in environment(tmp_path, server).items():
        monkeypatch.setenv(name, value)
    code = main(["ticket", "Make greet say hi", "--target", "mod.py", "--repo", str(repo), "--yes"])
    assert code == 0
    assert (repo / "mod.py").read_text() == MOD.replace('"hello "', '"hi "')
    assert "[a]pprove" not in capsys.readouterr().out


def test_a_target_outside_the_repository_is_refused(
    tmp_path: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    for name, value in environment(tmp_path, server).items():
        monkeypatch.setenv(name, value)
    assert main(["ticket", "x", "--target", "../escape.py", "--repo", str(repo)]) == 2
    assert "slop: error:" in capsys.readouterr().err
    assert main(["ticket", "x", "--id", "has space", "--repo", str(repo)]) == 2
    assert server.requests == []


def slop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_status_and_undo_work_after_a_ticket(tmp_path: Path, server: LLMServer) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    script_greet_change(server)
    env = environment(tmp_path, server)
    assert slop_ticket(repo, env, "a\n").returncode == 0

    status = slop(env, "status", "--repo", str(repo))
    assert status.returncode == 0, status.stderr
    assert "finished, every ticket done" in status.stdout
    assert "ticket  done" in status.stdout and "54 tok" in status.stdout  # the worker's usage
    undone = slop(env, "undo", "ticket", "--repo", str(repo))
    assert undone.returncode == 0, undone.stderr
    assert (repo / "mod.py").read_text() == MOD
    state = Store(repo).load_state()
    assert state is not None and state.tracks[0].tickets[0].state is TicketState.TODO

    # A second ticket starts a new run: the first one is archived, not mixed in. Its ticket
    # was undone (the run is unfinished), so starting over it takes --abandon-last.
    script_greet_change(server)
    assert slop_ticket(repo, env, "a\n", "--abandon-last").returncode == 0
    moves = [(e.old, e.new) for e in Store(repo).events() if isinstance(e, TicketStateChanged)]
    assert moves.count((TicketState.TODO, TicketState.IN_PROGRESS)) == 1  # this run's moves only
    assert moves[-1] == (TicketState.IN_PROGRESS, TicketState.DONE)
    assert len(list((repo / ".slop" / "runs").iterdir())) == 1


def test_ctrl_c_at_the_clutch_records_the_interrupt_and_exits_130(tmp_path: Path, server: LLMServer) -> None:
    repo = make_repo(tmp_path / "repo", {"mod.py": MOD})
    script_greet_change(server)
    env = environment(tmp_path, server)
    proc = subprocess.Popen(
        [sys.executable, "-m", "slop_tui", "ticket", "Make greet say hi", "--target", "mod.py",
         "--repo", str(repo)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while not any(
            isinstance(e, ProposalMade) and e.proposal.tool == "edit_file" for e in Store(repo).events()
        ):
            assert time.monotonic() < deadline and proc.poll() is None, "never reached the clutch"
            time.sleep(0.05)
        time.sleep(0.2)  # the question is on the terminal, stdin still open
        proc.send_signal(signal.SIGINT)
        # Wait for the exit with stdin still open: `communicate` closes stdin at once, and an
        # end of input that wins the race against the Ctrl+C is a (correct) different ending.
        proc.wait(timeout=20)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "interrupted" in err
    assert (repo / "mod.py").read_text() == MOD
    state = Store(repo).load_state()
    assert state is not None and not state.finished
    assert state.tracks[0].tickets[0].state is TicketState.TODO  # a resume runs it again
    moves = [(e.old, e.new) for e in Store(repo).events() if isinstance(e, TicketStateChanged)]
    assert moves[-1] == (TicketState.AWAITING_APPROVAL, TicketState.TODO)
    assert "slop resume" in slop(env, "status", "--repo", str(repo)).stdout
