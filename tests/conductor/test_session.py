"""The session end to end on the bundled demo: plan, stub, rebuilt views, implementation."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from slop_tui.conductor.session import PlanReview, Session
from slop_tui.config import Config, load_config
from slop_tui.demo import demo_paths
from slop_tui.errors import SlopError
from slop_tui.models import (
    AnyEvent,
    ErrorRaised,
    PlanAccepted,
    PlanError,
    RunFinished,
    RunStarted,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
    UsageUpdated,
)
from slop_tui.providers.base import ModelRequest
from slop_tui.providers.scripted import load_scenario
from slop_tui.store import Store, replay
from slop_tui.tools.clutch import ApproveAll
from tests.conductor.demo import NEW_SIGNATURE, DemoRun, sample_tests_pass, tree
from tests.conductor.helpers import Recording, reply


def seq_of(events: list[AnyEvent], ticket_id: str, state: TicketState) -> int:
    return next(e.seq for e in events if isinstance(e, TicketStateChanged) and e.ticket_id == ticket_id and e.new is state)


def test_refactor_config_system_runs_to_the_end_and_the_sample_tests_pass(demo: DemoRun) -> None:
    assert demo.summary.ok, demo.summary.message
    assert (demo.summary.done, demo.summary.blocked, demo.summary.cancelled) == (4, 0, 0)
    (track,) = demo.state.tracks
    assert [t.id for t in track.tickets] == ["stub-config", "impl-config", "use-config", "test-config"]
    assert track.tickets[0].archetype.value == "contract_stubber"
    sample_tests_pass(demo.repo)
    assert "def get_settings() -> Settings:" in (demo.repo / "app" / "config.py").read_text()


def test_the_stub_runs_first_then_its_dependents_start_with_the_new_signatures(demo: DemoRun) -> None:
    events = demo.seen
    stub_done = seq_of(events, "stub-config", TicketState.DONE)
    assert seq_of(events, "impl-config", TicketState.IN_PROGRESS) > stub_done
    assert seq_of(events, "use-config", TicketState.IN_PROGRESS) > stub_done
    assert demo.rebuilt == [("stub-config", ["app/config.py"])]
    first_request: dict[str | None, ModelRequest] = {}
    for ticket_id, request in demo.requests:
        first_request.setdefault(ticket_id, request)
    # Before the stub, nobody had the signature; after it, both dependents see it at once.
    assert NEW_SIGNATURE not in first_request["stub-config"].messages[0].content
    for dependent in ("impl-config", "use-config"):
        assert NEW_SIGNATURE in first_request[dependent].messages[0].content, dependent


def test_impl_and_use_overlap_in_time_but_never_share_a_file(demo: DemoRun) -> None:
    events = demo.seen
    impl = (seq_of(events, "impl-config", TicketState.IN_PROGRESS), seq_of(events, "impl-config", TicketState.DONE))
    use = (seq_of(events, "use-config", TicketState.IN_PROGRESS), seq_of(events, "use-config", TicketState.DONE))
    assert use[0] < impl[1] and impl[0] < use[1]  # they ran at the same time


def test_every_event_is_logged_seen_in_order_and_the_state_is_the_replay(demo: DemoRun) -> None:
    store = Store(demo.repo)
    logged = store.events()
    assert [e.seq for e in demo.seen] == [e.seq for e in logged] == list(range(1, len(logged) + 1))
    assert isinstance(logged[-1], RunFinished) and logged[-1].ok
    saved = store.load_state()
    assert saved is not None
    rebuilt = replay(logged)
    assert rebuilt is not None
    for state in (saved, rebuilt):
        assert [(t.id, t.state) for _, t in state.tickets()] == [(t.id, t.state) for _, t in demo.state.tickets()]
        # Ticket usage is counted once (the worker and the log must not both add it).
        assert {t.id: t.usage.total_tokens for _, t in state.tickets()} == {
            t.id: t.usage.total_tokens for _, t in demo.state.tickets()
        }
    assert demo.summary.usage.total_tokens == rebuilt.usage.total_tokens > 0
    assert sum(t.usage.total_tokens for _, t in rebuilt.tickets()) < rebuilt.usage.total_tokens  # + planning


async def test_undo_refuses_when_a_later_ticket_changed_the_file_until_that_one_is_undone(tmp_path: Path, demo: DemoRun) -> None:
    repo = Path(shutil.copytree(demo.repo, tmp_path / "repo"))
    session = Session(repo, demo.config, clutch=ApproveAll())
    before = tree(repo)
    with pytest.raises(SlopError, match=r"cannot undo ticket 'stub-config'.*app/config.py \(by impl-config\).*nothing was restored") as refused:
        await session.undo_ticket("stub-config")
    assert "--force" not in str(refused.value)
    assert tree(repo) == before
    restored = (await session.undo_ticket("impl-config")).paths
    assert restored == ["app/config.py"]
    stub_text = load_scenario(demo.config.model_for(Tier.WORKER).model).worker["stub-config"][1].tool_calls[0].arguments["content"]
    assert (repo / "app" / "config.py").read_text() == stub_text
    assert {k: v for k, v in tree(repo).items() if k != "app/config.py"} == {k: v for k, v in before.items() if k != "app/config.py"}
    assert session.state.find_ticket("impl-config")[1].state is TicketState.TODO
    await session.close()
    # `resume` runs the undone ticket again, and the run ends where it ended before.
    again = Session(repo, demo.config, clutch=ApproveAll())
    summary = await again.resume()
    await again.close()
    assert summary.ok and tree(repo) == tree(demo.repo)
    # impl-config undone once more: the file is as stub-config left it, so stub-config undoes.
    third = Session(repo, demo.config, clutch=ApproveAll())
    assert (await third.undo_ticket("impl-config")).paths == ["app/config.py"]
    assert (await third.undo_ticket("stub-config")).paths == ["app/config.py"]
    assert (repo / "app" / "config.py").read_bytes() == (demo_paths().sample_repo / "app" / "config.py").read_bytes()
    await third.close()


async def test_undo_of_an_unknown_or_running_ticket_is_refused_clearly(tmp_path: Path, demo: DemoRun) -> None:
    repo = Path(shutil.copytree(demo.repo, tmp_path / "repo"))
    session = Session(repo, demo.config, clutch=ApproveAll())
    with pytest.raises(SlopError, match="no ticket 'nope'"):
        await session.undo_ticket("nope")
    await session.close()


def _bad_lead_config(tmp_path: Path, lead_texts: list[str], planner_texts: list[str] | None = None) -> tuple[Path, Config]:
    from tests.conductor.demo import write_config

    scenario = load_scenario(demo_paths().scenario)
    planner = [reply(text=t) for t in planner_texts] if planner_texts is not None else scenario.planner
    bad = msgspec.structs.replace(scenario, planner=planner, lead=[reply(text=t) for t in lead_texts])
    path = tmp_path / "bad.json"
    path.write_bytes(msgspec.json.encode(bad))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text("def main() -> None:\n    ...\n")
    config_dir = write_config(tmp_path / "config", path, "[run]\nplan_retries = 1\n")
    return repo, load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})


async def test_a_plan_that_stays_bad_stops_the_run_and_leaves_no_half_plan(tmp_path: Path) -> None:
    cycle = '{"tickets": [{"id": "a", "title": "A", "description": "", "archetype": "implementer", "depends_on": ["a"]}]}'
    repo, config = _bad_lead_config(tmp_path, [cycle, cycle, cycle])
    session = Session(repo, config, clutch=ApproveAll())
    summary = await session.run("do it")
    await session.close()
    assert not summary.ok
    assert "Tier 2 (lead)" in summary.message and "2 attempts" in summary.message and "depends on itself" in summary.message
    saved = Store(repo).load_state()
    assert saved is not None and saved.tracks == [] and saved.finished and saved.ok is False
    events = Store(repo).events()
    assert not any(isinstance(e, (PlanAccepted, TicketStateChanged)) for e in events)
    assert sum(isinstance(e, ErrorRaised) for e in events) == 2


class Reviewer:
    def __init__(self, *answers: PlanReview) -> None:
        self.answers = list(answers)
        self.seen: list[list[Track]] = []

    async def review(self, tracks: list[Track]) -> PlanReview:
        self.seen.append(tracks)
        return self.answers.pop(0)


async def test_review_send_back_replans_with_the_comment_and_abort_runs_nothing(tmp_path: Path) -> None:
    scenario = load_scenario(demo_paths().scenario)
    planner_text = scenario.planner[0].text
    lead_text = scenario.lead[0].text
    repo, config = _bad_lead_config(tmp_path, [lead_text, lead_text], [planner_text, planner_text])
    planner = Recording(Tier.PLANNER, load_scenario(config.model_for(Tier.PLANNER).model))
    reviewer = Reviewer(PlanReview.revise("fewer tickets please"), PlanReview.abort())
    session = Session(repo, config, clutch=ApproveAll(), plan_reviewer=reviewer, providers={Tier.PLANNER: planner})
    summary = await session.run("do it")
    await session.close()
    assert len(reviewer.seen) == 2 and len(planner.requests) == 2
    assert "fewer tickets please" in planner.requests[1][1].messages[0].content
    assert not summary.ok and "rejected at review" in summary.message
    assert session.state.tracks == []
    assert not any(isinstance(e, PlanAccepted) for e in Store(repo).events())


async def test_an_invalid_edited_plan_is_refused_and_shown_again(tmp_path: Path) -> None:
    scenario = load_scenario(demo_paths().scenario)
    repo, config = _bad_lead_config(tmp_path, [scenario.lead[0].text])
    edited_bad = [Track(id="config", title="x", tickets=[])]
    reviewer = Reviewer(PlanReview.accept(edited_bad), PlanReview.abort("enough"))
    session = Session(repo, config, clutch=ApproveAll(), plan_reviewer=reviewer)
    summary = await session.run("do it")
    await session.close()
    assert len(reviewer.seen) == 2
    errors = [e.message for e in Store(repo).events() if isinstance(e, ErrorRaised)]
    assert any("edited plan refused" in m and "has no ticket" in m for m in errors)
    assert "enough" in summary.message


async def test_retry_and_cancel_controls(tmp_path: Path, demo: DemoRun) -> None:
    repo = Path(shutil.copytree(demo.repo, tmp_path / "repo"))
    session = Session(repo, demo.config, clutch=ApproveAll())
    session._load_for_commands()
    with pytest.raises(SlopError, match="only a blocked or todo ticket can be retried"):
        await session.retry_ticket("stub-config")
    with pytest.raises(SlopError, match="already done"):
        await session.cancel_ticket("stub-config")
    await session.close()


async def test_resume_without_a_run_says_so(tmp_path: Path, demo: DemoRun) -> None:
    session = Session(tmp_path, demo.config, clutch=ApproveAll())
    with pytest.raises(SlopError, match="nothing to resume"):
        await session.resume()
    await session.close()


def _given_tracks_setup(tmp_path: Path) -> tuple[Path, Config]:
    """A repository and a config whose scenario has worker replies only: a planner or lead
    call would fail, so a run that asks them cannot pass."""
    from slop_tui.providers.scripted import Scenario
    from tests.conductor.demo import write_config
    from tests.conductor.helpers import tool_reply

    scenario = Scenario(
        worker={
            "a": [tool_reply("write_file", path="a.py", content="A = 1\n"), tool_reply("finish", summary="a written")],
            "b": [tool_reply("finish", summary="b checked")],
        }
    )
    path = tmp_path / "scenario.json"
    path.write_bytes(msgspec.json.encode(scenario))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("A = 0\n")
    config_dir = write_config(tmp_path / "config", path)
    return repo, load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})


def _given_tracks() -> list[Track]:
    from tests.conductor.helpers import ticket, track

    return [track(ticket("a", files=["a.py"]), ticket("b", deps=["a"], files=["b.py"]), tid="T")]


async def test_run_tracks_runs_a_given_plan_like_a_reviewed_one(tmp_path: Path) -> None:
    repo, config = _given_tracks_setup(tmp_path)
    session = Session(repo, config, clutch=ApproveAll())
    seen = session.bus.subscribe()
    tracks = _given_tracks()
    summary = await session.run_tracks("given work", tracks)
    await session.close()

    assert summary.ok and (summary.done, summary.blocked) == (2, 0), summary.message
    assert (repo / "a.py").read_text() == "A = 1\n"
    assert [t.state for t in tracks[0].tickets] == [TicketState.TODO, TicketState.TODO]  # copies ran
    events: list[AnyEvent] = []
    while (item := seen.get_nowait()) is not None:
        events.append(item)
    # The run's log: started, the plan as given, the tickets, finished; no planning at all.
    assert isinstance(events[0], RunStarted) and events[0].prompt == "given work"
    assert isinstance(events[1], PlanAccepted) and events[1].tracks == _given_tracks()
    assert not any(isinstance(e, UsageUpdated) and e.tier in (Tier.PLANNER, Tier.LEAD) for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].ok
    assert [e.seq for e in Store(repo).events()] == [e.seq for e in events]
    # The checkpoint is written as for any run: `slop status` and `slop undo` read it.
    saved = Store(repo).load_state()
    assert saved is not None and saved.finished and saved.ok and saved.prompt == "given work"
    assert [(t.id, t.state, t.result_summary) for _, t in saved.tickets()] == [
        ("a", TicketState.DONE, "a written"),
        ("b", TicketState.DONE, "b checked"),
    ]
    assert Store(repo).preimages("a") == {"a.py": b"A = 0\n"}
    # What remains of each worker.
    assert {key: o.steps for key, o in session.outcomes.items()} == {("T", "a"): 2, ("T", "b"): 1}
    assert session.outcomes[("T", "a")].context.total_tokens > 0

    # Undo goes through the same session API as after `slop run`.
    again = Session(repo, config, clutch=ApproveAll())
    assert (await again.undo_ticket("b")).paths == []
    assert (await again.undo_ticket("a")).paths == ["a.py"]
    await again.close()
    assert (repo / "a.py").read_text() == "A = 0\n"


async def test_run_tracks_refuses_a_bad_plan_or_worker_before_touching_the_last_run(tmp_path: Path) -> None:
    from tests.conductor.demo import write_config
    from tests.conductor.helpers import ticket, track

    repo, config = _given_tracks_setup(tmp_path)
    session = Session(repo, config, clutch=ApproveAll())
    assert (await session.run_tracks("first", _given_tracks())).ok
    await session.close()
    before = {p.relative_to(repo): p.read_bytes() for p in (repo / ".slop").rglob("*") if p.is_file()}

    started = [track(ticket("a"), tid="T")]
    started[0].tickets[0].start()
    bad_plans: list[tuple[list[Track], str]] = [
        ([], "no track"),
        ([track(ticket("a"), tid="T"), track(ticket("a"), tid="U")], "already used by an earlier track"),
        (started, "must start as todo"),
        ([track(ticket("a", deps=["zz"]), tid="T")], "zz"),
    ]
    for tracks, problem in bad_plans:
        session = Session(repo, config, clutch=ApproveAll())
        with pytest.raises(PlanError, match=problem):
            await session.run_tracks("second", tracks)
        with pytest.raises(SlopError, match="empty"):
            await session.run_tracks("  ", _given_tracks())
        await session.close()

    # A worker model that cannot be made (its scenario file is gone) stops before the archive.
    broken_dir = write_config(tmp_path / "broken", tmp_path / "missing.json")
    broken = load_config(repo, env={"SLOP_CONFIG_DIR": str(broken_dir)})
    session = Session(repo, broken, clutch=ApproveAll())
    with pytest.raises(SlopError):
        await session.run_tracks("second", _given_tracks())
    await session.close()

    after = {p.relative_to(repo): p.read_bytes() for p in (repo / ".slop").rglob("*") if p.is_file()}
    assert after == before  # the first run is still the current one, untouched
