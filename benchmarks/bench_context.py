"""Context economy of the Tier 3 worker, measured on the bundled demo (no network, no keys).

1. Worker contexts. The demo scenario is played on a fresh copy of the sample repository, ticket
   by ticket in dependency order (the two tickets that depend on the stub start together, as
   the dispatcher starts them). At the moment each ticket starts, its first request is built
   twice from the same files: as the worker gets it (curated views of the target files,
   skeletons of what they import and of the files the ticket names) and with the raw text of
   those same files instead. Target: curated <= 25 % of raw, over the sample's tickets.
2. A failed command's cost to the worker. Scripts whose traceback is 10 to 2,000 frames long are
   run through the real tool executor; the worker is shown the exit code and a Tier 4 hint
   instead of the output. Target: <= 40 tokens, whatever the trace's length, with a model's
   hint and with the fallback hint alike.

Tokens are `slop_tui.tokens.estimate_tokens` (4 characters a token) everywhere.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402

from slop_tui.agents.context import ContextReport, assemble_context  # noqa: E402
from slop_tui.agents.qa import HINT_TOKENS, QaTranslator, worker_message  # noqa: E402
from slop_tui.agents.worker import (  # noqa: E402
    WorkerDeps,
    WorkerOutcome,
    build_worker_context,
    run_worker_lifecycle,
)
from slop_tui.conductor.bus import EventBus  # noqa: E402
from slop_tui.config import ModelSpec, ProviderSpec, RunSettings  # noqa: E402
from slop_tui.demo import copy_sample_repo, demo_paths  # noqa: E402
from slop_tui.memory.file_cache import FileCache  # noqa: E402
from slop_tui.models import (  # noqa: E402
    HintGiven,
    RunCommandArgs,
    Ticket,
    TicketState,
    Tier,
    Track,
    decode_ticket_plan,
    decode_track_plan,
    plan_to_track,
)
from slop_tui.providers import UsageLedger  # noqa: E402
from slop_tui.providers.scripted import ScriptedProvider, ScriptedReply, Scenario, load_scenario  # noqa: E402
from slop_tui.tokens import estimate_tokens  # noqa: E402
from slop_tui.tools.clutch import ApproveAll  # noqa: E402
from slop_tui.tools.executor import ToolExecutor  # noqa: E402

CONTEXT_TARGET = 0.25
RAW_BUDGET = 10**9  # the raw variant is measured whole, never cut by a budget
TRACE_FRAMES = (10, 100, 500, 2000)


def scripted(tier: Tier, scenario: Scenario) -> ScriptedProvider:
    spec = ModelSpec(tier=tier, provider=ProviderSpec(name="scripted", kind="scripted"), model="")
    return ScriptedProvider(spec, scenario, str(demo_paths().scenario))


def without_latency(scenario: Scenario) -> Scenario:
    def fast(table: dict[str, list[ScriptedReply]]) -> dict[str, list[ScriptedReply]]:
        return {k: [msgspec.structs.replace(r, latency_s=0.0) for r in v] for k, v in table.items()}

    return msgspec.structs.replace(
        scenario, worker=fast(scenario.worker), default_cheap=fast(scenario.default_cheap)
    )


def demo_track(scenario: Scenario) -> Track:
    (planned,) = decode_track_plan(scenario.planner[0].text).tracks
    return plan_to_track(planned, decode_ticket_plan(scenario.lead[0].text, planned.id))


def file_tokens(report: ContextReport) -> int:
    return sum(f.tokens for f in report.files)


class Row(msgspec.Struct):
    ticket: str
    curated: ContextReport
    raw: ContextReport


async def play_demo(repo: Path) -> tuple[list[Row], list[WorkerOutcome], list[HintGiven]]:
    scenario = without_latency(load_scenario(demo_paths().scenario))
    track = demo_track(scenario)
    bus = EventBus(None)
    events = bus.subscribe()
    ledger = UsageLedger()
    settings = RunSettings()
    deps = WorkerDeps(
        repo_root=repo,
        provider=scripted(Tier.WORKER, scenario),
        qa=QaTranslator(scripted(Tier.DEFAULT_CHEAP, scenario), ledger=ledger, emit=bus.publish),
        executor=ToolExecutor(repo, command_timeout_s=settings.command_timeout_s),
        clutch=ApproveAll(),
        emit=bus.publish,
        ledger=ledger,
        settings=settings,
        file_cache=FileCache(),
    )
    rows: list[Row] = []
    outcomes: list[WorkerOutcome] = []

    def measure(ticket: Ticket) -> None:
        _, _, curated = build_worker_context(ticket, deps)
        _, _, raw = assemble_context(
            ticket, repo, FileCache(), budget=RAW_BUDGET, target_view="raw", related_view="raw"
        )
        rows.append(Row(ticket=ticket.id, curated=curated, raw=raw))

    while any(t.state is TicketState.TODO for t in track.tickets):
        ready = track.ready_tickets()
        if not ready:
            raise SystemExit("the demo plan is stuck: a ticket did not end done")
        for ticket in ready:  # every ready ticket starts from the repository as it is now
            measure(ticket)
        outcomes += await asyncio.gather(
            *(run_worker_lifecycle(t, deps, track_id=track.id) for t in ready)
        )
        for ticket in ready:
            if ticket.archetype.value == "contract_stubber":  # what the stub resolver does
                deps.file_cache.rebuild([repo / p for p in ticket.target_files])
    await bus.close()
    hints: list[HintGiven] = []
    while (event := events.get_nowait()) is not None:
        if isinstance(event, HintGiven):
            hints.append(event)
    return rows, outcomes, hints


def deep_script(frames: int) -> str:
    lines = []
    for n in range(frames):
        lines += [f"def level_{n}(value):", f"    return level_{n + 1}(value + 1)", ""]
    lines += [f"def level_{frames}(value):", "    return undefined_name + value", "", "level_0(0)", ""]
    return "\n".join(lines)


async def failed_command_costs(workdir: Path) -> list[tuple[int, int, int, int, int, int]]:
    """Per trace length: (frames, output lines, raw tokens, shown without QA, with a model's
    hint, with the fallback hint)."""
    executor = ToolExecutor(workdir, command_timeout_s=60)
    answer = "deep.py uses undefined_name in its deepest function; define it or pass the value in as a parameter."
    rows = []
    for frames in TRACE_FRAMES:
        (workdir / "deep.py").write_text(deep_script(frames))
        command = f"{sys.executable} -c \"import sys; sys.setrecursionlimit(10000); exec(open('deep.py').read())\""
        outcome = await executor.execute("bench", RunCommandArgs(command=command))
        result = outcome.command_result
        assert result is not None and not result.ok
        cheap = scripted(Tier.DEFAULT_CHEAP, Scenario(default_cheap={"bench": [ScriptedReply(text=answer)]}))
        sink = EventBus(None)
        model_hint = await QaTranslator(cheap, ledger=UsageLedger(), emit=sink.publish).hint_for(
            "bench", result, workdir
        )
        fallback = await QaTranslator(None, ledger=UsageLedger(), emit=sink.publish).hint_for(
            "bench", result, workdir
        )
        rows.append(
            (
                frames,
                result.output.count("\n"),
                estimate_tokens(result.output),
                estimate_tokens(outcome.output),
                estimate_tokens(worker_message(result, model_hint)),
                estimate_tokens(worker_message(result, fallback)),
            )
        )
    return rows


def main() -> int:
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="slop-bench-context-") as tmp:
        repo = copy_sample_repo(Path(tmp) / "sample")
        os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        rows, outcomes, hints = asyncio.run(play_demo(repo))
        costs = asyncio.run(failed_command_costs(Path(tmp)))

    print("1. Worker context at the start of each demo ticket (tokens)")
    print(f"   {'ticket':<12} {'curated':>8} {'raw':>8} {'ratio':>6}   {'files: curated':>14} {'raw':>7} {'ratio':>6}")
    total_c = total_r = files_c = files_r = 0
    for row in rows:
        c, r = row.curated.total_tokens, row.raw.total_tokens
        fc, fr = file_tokens(row.curated), file_tokens(row.raw)
        total_c, total_r, files_c, files_r = total_c + c, total_r + r, files_c + fc, files_r + fr
        file_ratio = f"{fc / fr:6.1%}" if fr else "     -"
        print(f"   {row.ticket:<12} {c:>8,} {r:>8,} {c / r:6.1%}   {fc:>14,} {fr:>7,} {file_ratio}")
        views = ", ".join(f"{f.path} {f.view}" for f in row.curated.files)
        print(f"   {'':<12} ({views})")
    ratio = total_c / total_r
    print(f"   {'all':<12} {total_c:>8,} {total_r:>8,} {ratio:6.1%}   {files_c:>14,} {files_r:>7,} {files_c / files_r:6.1%}")
    print("   (the fixed part of every context, system prompt and ticket text, is in both columns)")
    verdict = "met" if ratio <= CONTEXT_TARGET else "MISSED"
    print(f"   target: whole contexts with curated views <= {CONTEXT_TARGET:.0%} of raw: {ratio:.1%}, {verdict}")
    if ratio > CONTEXT_TARGET:
        failures.append("context ratio")
    done = sum(1 for o in outcomes if o.state is TicketState.DONE)
    print(f"   the scenario itself: {done}/{len(outcomes)} tickets done")
    if done != len(outcomes):
        failures.append("demo tickets")

    print()
    print("2. What a failed command costs the worker (tokens)")
    print(f"   {'frames':>6} {'lines':>6} {'raw output':>10} {'capped, no QA':>13} {'model hint':>10} {'fallback':>8}")
    worst = 0
    for frames, lines, raw, capped, model_hint, fallback in costs:
        worst = max(worst, model_hint, fallback)
        print(f"   {frames:>6} {lines:>6} {raw:>10,} {capped:>13,} {model_hint:>10} {fallback:>8}")
    for hint in hints:
        shown = estimate_tokens(hint.hint)
        print(
            f"   demo ({hint.ticket_id}): raw output {estimate_tokens(hint.raw_output):,} tokens, "
            f"hint {shown} tokens: {hint.hint}"
        )
    verdict = "met" if worst <= HINT_TOKENS else "MISSED"
    print(f"   target: <= {HINT_TOKENS} tokens whatever the trace's length: worst {worst}, {verdict}")
    if worst > HINT_TOKENS:
        failures.append("failed command cost")
    if failures:
        print(f"missed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
