"""The bundled demo: the sample repository, its tests, and the scenario played end to end."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import msgspec
import pytest

from slop_tui.agents.qa import QaTranslator
from slop_tui.agents.worker import WorkerDeps, WorkerOutcome, run_worker_lifecycle
from slop_tui.conductor.bus import EventBus
from slop_tui.config import ModelSpec, ProviderSpec, RunSettings
from slop_tui.demo import DEMO_PROMPT, copy_sample_repo, demo_paths
from slop_tui.memory.file_cache import FileCache
from slop_tui.models import (
    Archetype,
    HintGiven,
    TicketState,
    Tier,
    ToolResult,
    Track,
    decode_ticket_plan,
    decode_track_plan,
    plan_to_track,
)
from slop_tui.providers import UsageLedger
from slop_tui.providers.scripted import ScriptedProvider, load_scenario, resolve_scenario_path
from slop_tui.store import Store
from slop_tui.tools.clutch import ApproveAll
from slop_tui.tools.executor import ToolExecutor


def passed(output: str) -> int:
    match = re.search(r"(\d+) passed", output)
    assert match, output
    return int(match.group(1))


def the_track() -> Track:
    scenario = load_scenario(demo_paths().scenario)
    (planned,) = decode_track_plan(scenario.planner[0].text).tracks
    return plan_to_track(planned, decode_ticket_plan(scenario.lead[0].text, planned.id))


def test_the_sample_and_scenario_ship_in_the_package() -> None:
    paths = demo_paths()
    assert (paths.sample_repo / "app" / "config.py").is_file()
    assert (paths.sample_repo / "tests" / "test_config.py").is_file()
    assert paths.scenario.name == "scenario.toml" and paths.scenario.is_file()
    assert DEMO_PROMPT == "Refactor config system"
    # The scripted provider's built-in scenario (an empty model name) is this file.
    assert resolve_scenario_path("") == paths.scenario


def test_the_scenario_plans_one_track_with_a_stub_and_parallel_tickets() -> None:
    track = the_track()
    assert [t.id for t in track.tickets] == ["stub-config", "impl-config", "use-config", "test-config"]
    stub, impl, use, tester = track.tickets
    assert stub.archetype is Archetype.CONTRACT_STUBBER
    assert impl.depends_on == use.depends_on == ["stub-config"]
    assert not set(impl.target_files) & set(use.target_files)  # they may run side by side
    assert set(tester.depends_on) == {"impl-config", "use-config"}
    scenario = load_scenario(demo_paths().scenario)
    assert set(scenario.worker) == {t.id for t in track.tickets}
    assert list(scenario.default_cheap) == ["impl-config"]


def test_copying_the_sample_leaves_caches_behind(tmp_path: Path) -> None:
    source = demo_paths().sample_repo
    (source / "app" / "__pycache__").mkdir(exist_ok=True)
    try:
        copy = copy_sample_repo(tmp_path / "sample")
    finally:
        (source / "app" / "__pycache__").rmdir()
    assert (copy / "app" / "storage.py").read_text() == (source / "app" / "storage.py").read_text()
    assert not (copy / "app" / "__pycache__").exists()
    with pytest.raises(FileExistsError):
        copy_sample_repo(tmp_path / "sample")


def scripted(tier: Tier) -> ScriptedProvider:
    """The scenario's provider for `tier`, without its latencies (they pace the TUI demo)."""
    spec = ModelSpec(tier=tier, provider=ProviderSpec(name="scripted", kind="scripted"), model="")
    scenario = load_scenario(demo_paths().scenario)
    fast = {
        ticket: [msgspec.structs.replace(r, latency_s=0.0) for r in replies]
        for ticket, replies in (scenario.worker if tier is Tier.WORKER else scenario.default_cheap).items()
    }
    table = {"worker": fast} if tier is Tier.WORKER else {"default_cheap": fast}
    return ScriptedProvider(spec, msgspec.structs.replace(scenario, **table), str(demo_paths().scenario))


async def test_the_scenario_refactors_the_sample_and_its_tests_pass(tmp_path: Path) -> None:
    repo = copy_sample_repo(tmp_path / "sample")
    store = Store(repo)
    bus = EventBus(store)
    ledger = UsageLedger()
    settings = RunSettings()
    deps = WorkerDeps(
        repo_root=repo,
        provider=scripted(Tier.WORKER),
        qa=QaTranslator(scripted(Tier.DEFAULT_CHEAP), ledger=ledger, emit=bus.publish),
        executor=ToolExecutor(repo, store=store, command_timeout_s=settings.command_timeout_s),
        clutch=ApproveAll(),
        emit=bus.publish,
        ledger=ledger,
        settings=settings,
        file_cache=FileCache(),
    )
    track = the_track()
    stub, impl, use, tester = track.tickets

    async def run(ticket_id: str) -> WorkerOutcome:
        outcome = await run_worker_lifecycle(track.ticket(ticket_id), deps, track_id=track.id)
        # What the conductor does when a ticket ends: its files are free for the next tickets.
        deps.executor.owners.release(ticket_id)
        return outcome

    outcomes = [await run("stub-config")]
    # The stub resolver's job: fresh views of what the stub touched before dependents start.
    deps.file_cache.rebuild([repo / "app" / "config.py"])
    outcomes += await asyncio.gather(run("impl-config"), run("use-config"))
    outcomes.append(await run("test-config"))

    assert [o.state for o in outcomes] == [TicketState.DONE] * 4
    assert all(t.state is TicketState.DONE for t in track.tickets)
    events = store.events()
    runs = [e for e in events if isinstance(e, ToolResult) and e.tool == "run_command"]
    # stub: the whole suite; impl: test_config fails, then passes; tester: the whole suite.
    assert [r.ok for r in runs] == [True, False, True, True]
    assert passed(runs[0].output) == 59  # the legacy interface still works beside the stub
    assert passed(runs[-1].output) == 65  # the sample's own tests, plus the tester's new ones
    # The refactor is real: only app/config.py reads the environment now.
    for module in ("storage", "report", "notify", "cli"):
        text = (repo / "app" / f"{module}.py").read_text()
        assert "environ" not in text and "config.DEBUG" not in text, module
    assert "def load_settings(env: Mapping[str, str] | None = None) -> Settings:" in (
        repo / "app" / "config.py"
    ).read_text()

    (hint,) = [e for e in events if isinstance(e, HintGiven)]
    assert hint.ticket_id == "impl-config" and hint.exit_code != 0
    assert "NameError: name 'ENV_PREFX' is not defined" in hint.raw_output
    assert hint.hint.startswith("System Hint: app/config.py line 20 uses the undefined name ENV_PREFX")
    failed = [e for e in events if isinstance(e, ToolResult) and e.tool == "run_command" and not e.ok]
    assert len(failed) == 1 and "ENV_PREFX" not in failed[0].output.split("System Hint:")[0]
    # The stub's context for impl-config was built from the stub (fresh skeleton and curated view).
    assert outcomes[1].context.files[0].path == "app/config.py"
