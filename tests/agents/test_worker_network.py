"""The worker passes the person's network allow, and only that, to the command it runs.

A real listener on 127.0.0.1 stands for the network; the command runs through the real
executor under the real sandbox. The model asks for the network each time; `--yes`
(`ApproveAll`) and a plain `a` do not grant it, `Approve(network=True)` does, for that command.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slop_tui import sandbox
from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.models import Approve, Decision, DecisionMade, Proposal, Tier, ToolResult
from slop_tui.tools.clutch import AskForChanges
from tests.agents.helpers import Events, call, make_deps, make_repo, scripted, step, ticket

pytestmark = pytest.mark.skipif(not sandbox.detect().available, reason="no working bwrap here")


@pytest.fixture
def port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


class Person:
    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.asked.append(proposal)
        return self.answers.pop(0)


def _script(port: int) -> str:
    code = f"import socket; print('got', socket.create_connection(('127.0.0.1', {port}), 3).recv(5).decode())"
    return f"{sys.executable} -c \"{code}\""


async def _run(tmp_path: Path, port: int, clutch: object | None) -> Events:
    repo = make_repo(tmp_path / "repo", {"README.md": "a repo\n"})
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("run_command", command=_script(port), network=True)), step(call("finish", summary="ok"))]},
    )
    events = Events()
    deps = make_deps(repo, provider, events, **({"clutch": clutch} if clutch is not None else {}))
    await run_worker_lifecycle(ticket(), deps)
    return events


async def test_yes_never_grants_the_network_the_model_asks_for(tmp_path: Path, port: int) -> None:
    events = await _run(tmp_path, port, None)  # make_deps' default: ApproveAll, as --yes
    result = events.of(ToolResult)[0]
    assert not result.ok and "got hello" not in result.output
    assert "Connection refused" in result.output or "unreachable" in result.output, result.output


async def test_the_persons_w_grants_it_for_that_command(tmp_path: Path, port: int) -> None:
    person = Person(Approve(network=True), Approve())
    events = await _run(tmp_path, port, AskForChanges(person))
    assert person.asked[0].sandboxed and not person.asked[0].network
    assert "got hello" in events.of(ToolResult)[0].output
    assert events.of(DecisionMade)[0].decision == Approve(network=True)  # the log records the grant
