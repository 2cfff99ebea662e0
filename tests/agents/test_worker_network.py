"""The worker passes the person's network allow, and only that, to the command it runs.

A real listener on 127.0.0.1 stands for the network; the command runs through the real
executor under the real sandbox. The model asks for the network each time; `--yes`
(`ApproveAll`) and a plain `a` do not grant it, `Approve(network=True)` does, for that command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slop_tui import sandbox
from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.models import Approve, Decision, DecisionMade, Proposal, Tier, ToolResult
from slop_tui.tools.clutch import AskForChanges
from tests.agents.helpers import Events, call, make_deps, make_repo, scripted, step, ticket
from tests.listener import Listener

pytestmark = pytest.mark.skipif(not sandbox.detect().available, reason="no working bwrap here")


class Person:
    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.asked.append(proposal)
        return self.answers.pop(0)


async def _run(tmp_path: Path, listener: Listener, clutch: object | None) -> Events:
    repo = make_repo(tmp_path / "repo", {"README.md": "a repo\n"})
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("run_command", command=listener.probe(), network=True)), step(call("finish", summary="ok"))]},
    )
    events = Events()
    deps = make_deps(repo, provider, events, **({"clutch": clutch} if clutch is not None else {}))
    await run_worker_lifecycle(ticket(), deps)
    return events


async def test_yes_never_grants_the_network_the_model_asks_for(tmp_path: Path, listener: Listener) -> None:
    events = await _run(tmp_path, listener, None)  # make_deps' default: ApproveAll, as --yes
    result = events.of(ToolResult)[0]
    assert not result.ok and "got hello" not in result.output
    assert "Connection refused" in result.output or "unreachable" in result.output, result.output


async def test_the_persons_w_grants_it_for_that_command(tmp_path: Path, listener: Listener) -> None:
    person = Person(Approve(network=True), Approve())
    events = await _run(tmp_path, listener, AskForChanges(person))
    assert person.asked[0].sandboxed and not person.asked[0].network
    assert "got hello" in events.of(ToolResult)[0].output
    assert events.of(DecisionMade)[0].decision == Approve(network=True)  # the log records the grant
