"""The scripted team answers the person: a plan sent back at review is made again (the
planner quotes the comment), and after a rejected call the worker plays its `if_rejected`
reply, so the demo never claims that tests it did not run pass."""

from __future__ import annotations

from pathlib import Path

import msgspec

from slop_tui.conductor.session import PlanReview, Session
from slop_tui.config import load_config
from slop_tui.demo import DEMO_PROMPT, copy_sample_repo
from slop_tui.models import (
    ChatMessage,
    Decision,
    PlanAccepted,
    Proposal,
    Reject,
    RunCommandArgs,
    Approve,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
)
from slop_tui.providers.base import ModelRequest
from slop_tui.providers.scripted import Scenario, ScriptedProvider, ScriptedReply, SentBack, load_scenario
from tests.conductor.demo import scaled_scenario, write_config
from tests.conductor.helpers import scripted_spec

COMMENT = 'Keep the "tests" in their own ticket'


def request(*messages: ChatMessage) -> ModelRequest:
    return ModelRequest(system="s", messages=list(messages))


def test_a_sent_back_plan_is_answered_from_sent_back_in_a_cycle() -> None:
    scenario = Scenario(
        planner=[ScriptedReply(text="first")],
        lead=[ScriptedReply(text="lead first")],
        sent_back=SentBack(
            planner=[ScriptedReply(text='{"said": "{{reviewer_comment}}"}')],
            lead=[ScriptedReply(text="lead again")],
        ),
    )
    planner = ScriptedProvider(scripted_spec(Tier.PLANNER), scenario, "<test>")
    lead = ScriptedProvider(scripted_spec(Tier.LEAD), scenario, "<test>")
    assert planner._next(request(ChatMessage(role="user", content="plan it")), None).text == "first"
    back = ChatMessage(role="user", content=f"plan it\nA reviewer sent the previous plan back with this comment:\n{COMMENT}\n")
    for _ in range(2):  # any number of send-backs
        again = planner._next(request(back), None)
        assert msgspec.json.decode(again.text) == {"said": COMMENT}  # escaped: still valid JSON
    assert [lead._next(request(), None).text for _ in range(3)] == ["lead first", "lead again", "lead again"]


def test_if_rejected_is_played_only_right_after_a_rejection() -> None:
    follow = ScriptedReply(text="the tests pass", if_rejected=ScriptedReply(text="not run: declined"))
    scenario = Scenario(worker={"t": [follow, follow, follow]})
    worker = ScriptedProvider(scripted_spec(Tier.WORKER), scenario, "<test>")
    asked = ChatMessage(role="assistant", content="running pytest")
    rejected = ChatMessage(role="tool", content="Rejected by the person: not now", tool_call_id="c1")
    ran = ChatMessage(role="tool", content="59 passed", tool_call_id="c1")
    assert worker._next(request(asked, rejected), "t").text == "not run: declined"
    assert worker._next(request(asked, ran), "t").text == "the tests pass"
    # A rejection from an earlier turn no longer counts.
    assert worker._next(request(asked, rejected, asked, ran), "t").text == "the tests pass"


def test_a_scenario_with_a_bad_alternative_names_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[worker.t]]\ntext = "a"\n[worker.t.if_rejected]\nlatency_s = -1\n')
    try:
        load_scenario(bad)
    except Exception as exc:
        assert "$.worker.t[0].if_rejected.latency_s" in str(exc)
    else:
        raise AssertionError("a negative latency in an alternative was accepted")


class SendBackOnce:
    def __init__(self) -> None:
        self.seen: list[list[Track]] = []

    async def review(self, tracks: list[Track]) -> PlanReview:
        self.seen.append(tracks)
        return PlanReview.revise(COMMENT) if len(self.seen) == 1 else PlanReview.accept(tracks)


class RejectCommands:
    """Approves every change and rejects every command: no test ever runs."""

    def __init__(self) -> None:
        self.rejected: list[str] = []

    async def decide(self, proposal: Proposal) -> Decision:
        if isinstance(proposal.arguments, RunCommandArgs):
            self.rejected.append(proposal.ticket_id)
            return Reject(reason="not now")
        return Approve()


async def test_the_demo_answers_a_send_back_and_rejected_test_runs(tmp_path: Path) -> None:
    repo = copy_sample_repo(tmp_path / "repo")
    config_dir = write_config(tmp_path / "config", scaled_scenario(tmp_path, 0.0))
    config = load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})
    reviewer, clutch = SendBackOnce(), RejectCommands()
    session = Session(repo, config, clutch=clutch, plan_reviewer=reviewer)
    queue = session.bus.subscribe()
    summary = await session.run(DEMO_PROMPT)
    await session.close()
    events = []
    while (event := queue.get_nowait()) is not None:
        events.append(event)

    # Sent back once: planned again, the comment taken in, then the same four tickets.
    assert len(reviewer.seen) == 2
    (accepted,) = [e for e in events if isinstance(e, PlanAccepted)]
    assert COMMENT in accepted.tracks[0].description
    assert [t.id for t in accepted.tracks[0].tickets] == ["stub-config", "impl-config", "use-config", "test-config"]

    # Every test run was rejected: every ticket still finishes, and none claims a pass.
    assert sorted(set(clutch.rejected)) == ["impl-config", "stub-config", "test-config"]
    done = {e.ticket_id: e.summary or "" for e in events if isinstance(e, TicketStateChanged) and e.new is TicketState.DONE}
    assert set(done) == {"stub-config", "impl-config", "use-config", "test-config"}, summary
    for ticket in ("stub-config", "impl-config", "test-config"):
        assert "pass" not in done[ticket], done[ticket]
        assert "Not tested" in done[ticket] or "Not run" in done[ticket], done[ticket]
    # The typo was still found (by reading) and fixed: the files are the demo's final ones.
    assert "ENV_PREFX" not in (repo / "app" / "config.py").read_text()
