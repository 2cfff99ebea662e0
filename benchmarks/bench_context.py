"""Context economy of the Tier 3 worker, measured on the bundled demo (no network, no keys).

1. Worker contexts. The demo scenario is played on a fresh copy of the sample repository, ticket
   by ticket in dependency order (the two tickets that depend on the stub start together, as
   the dispatcher starts them). At the moment each ticket starts, its first request is built
   as the worker gets it (curated views of the target files, skeletons of the files the ticket
   names, then the repository map's related definitions, the map refreshed after each ticket
   lands as a session does) and with the raw text of the same files instead: the targets,
   what they import, what the ticket names and every file the map has a section of (the map
   stands in for them). Target: curated <= 25 % of raw, over the sample's tickets. Beside it,
   the context as built before the map (skeletons of the targets' imports instead of a map),
   for what the map costs.
   Then, per ticket, whether its context held every repository definition its finished change
   calls: from the files before and after the ticket, with `ast`, the calls on the lines the
   ticket changed (plain names, and attributes that are not methods of builtin types) whose
   name some repository file defines at module or class level, less what the ticket itself
   added; each must appear as a word in the context. Shown beside it: the context without
   the map (skeletons of the targets' imports, as before the map).
2. A failed command's cost to the worker. Scripts whose traceback is 10 to 2,000 frames long are
   run through the real tool executor; the worker is shown the exit code and a Tier 4 hint
   instead of the output. Target: <= 40 tokens, whatever the trace's length, with a model's
   hint and with the fallback hint alike.

Tokens are `slop_tui.tokens.estimate_tokens` (4 characters a token) everywhere.
"""

from __future__ import annotations

import ast
import asyncio
import difflib
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402

from slop_tui.agents.context import ContextFile, ContextReport, assemble_context  # noqa: E402
from slop_tui.agents.qa import HINT_TOKENS, QaTranslator, worker_message  # noqa: E402
from slop_tui.agents.worker import (  # noqa: E402
    WorkerDeps,
    WorkerOutcome,
    build_worker_context,
    run_worker_lifecycle,
)
from slop_tui.conductor.bus import EventBus  # noqa: E402
from slop_tui.conductor.map_holder import MapHolder  # noqa: E402
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


def with_mapped_files_raw(raw: ContextReport, curated: ContextReport, repo: Path) -> ContextReport:
    """The raw variant, plus the raw text of every file the curated context's map has a section
    of and the raw variant does not already hold: the map stands in for those files."""
    have = {f.path for f in raw.files}
    extra = []
    for f in curated.files:
        if f.role == "related" and f.path not in have:
            text = (repo / f.path).read_text(encoding="utf-8")
            block = f"\n### {f.path} (related, raw view)\n```python\n{text.rstrip()}\n```\n"
            extra.append(ContextFile(path=f.path, role="related", view="raw", tokens=estimate_tokens(block)))
            have.add(f.path)
    return msgspec.structs.replace(
        raw, files=raw.files + extra, total_tokens=raw.total_tokens + sum(f.tokens for f in extra)
    )


def file_tokens(report: ContextReport) -> int:
    return sum(f.tokens for f in report.files)


class Row(msgspec.Struct):
    ticket: str
    curated: ContextReport
    raw: ContextReport
    text: str = ""  # the curated context's first message
    without_map: str = ""  # the same context as built before the map (skeletons of imports)
    calls: list[str] = msgspec.field(default_factory=list)  # repository definitions it calls


# ---------------------------------------------------------------------------
# What a finished change calls
# ---------------------------------------------------------------------------

# `x.get(...)` on a dict is no call of a repository's `get`: attribute calls named like a
# builtin type's method are not counted.
_BUILTIN_METHODS = frozenset(
    name for kind in (str, bytes, dict, list, set, tuple, int, float, object) for name in dir(kind)
)


def definitions_in(source: str) -> set[str]:
    """Names defined at module or class level (under if/try/with too)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.add(node.name)
            pending += node.body
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            pending += node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", [])
            pending += [s for h in getattr(node, "handlers", []) for s in h.body]
    return found


def changed_lines(before: str, after: str) -> set[int]:
    """1-based numbers of the lines of `after` that are not in `before` (difflib's opcodes)."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    lines: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(j1 + 1, j2 + 1))
    return lines


def called_names(source: str, lines: set[int]) -> set[str]:
    """Names called by the calls that touch `lines`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if not lines.intersection(range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            continue
        if isinstance(node.func, ast.Name):
            names.add(node.func.id)
        elif isinstance(node.func, ast.Attribute) and node.func.attr not in _BUILTIN_METHODS:
            names.add(node.func.attr)
    return names


def python_files(repo: Path) -> dict[str, str]:
    return {
        p.relative_to(repo).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(repo.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def calls_of(ticket: Ticket, before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Names the ticket's change calls (in the files it targets), less what it defined itself."""
    called: set[str] = set()
    own: set[str] = set()
    for rel in ticket.target_files:
        old, new = before.get(rel, ""), after.get(rel)
        if new is None or new == old:
            continue
        called |= called_names(new, changed_lines(old, new))
        own |= definitions_in(new) - definitions_in(old)
    return called - own


def held(names: list[str], text: str) -> list[str]:
    return [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}\b", text)]


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
    holder = MapHolder(repo, cache_dir=repo.parent / "map-cache")
    deps.repo_map = holder
    rows: list[Row] = []
    outcomes: list[WorkerOutcome] = []
    final_rows: dict[str, Row] = {}

    async def measure(ticket: Ticket) -> Row:
        repo_map = await holder.current()
        _, text, curated = build_worker_context(ticket, deps, repo_map)
        _, without_map, _ = build_worker_context(ticket, deps)
        _, _, raw = assemble_context(
            ticket, repo, FileCache(), budget=RAW_BUDGET, target_view="raw", related_view="raw"
        )
        return Row(
            ticket=ticket.id, curated=curated, raw=with_mapped_files_raw(raw, curated, repo),
            text=text, without_map=without_map,
        )

    while any(t.state is TicketState.TODO for t in track.tickets):
        ready = track.ready_tickets()
        if not ready:
            raise SystemExit("the demo plan is stuck: a ticket did not end done")
        before = python_files(repo)
        batch = [await measure(t) for t in ready]  # each from the repository as it is now
        outcomes += await asyncio.gather(
            *(run_worker_lifecycle(t, deps, track_id=track.id) for t in ready)
        )
        after = python_files(repo)
        for ticket, row in zip(ready, batch):
            row.calls = sorted(calls_of(ticket, before, after))
            final_rows[ticket.id] = row
            holder.landed(ticket.target_files)  # what a session does when a ticket lands
            if ticket.archetype.value == "contract_stubber":  # what the stub resolver does
                deps.file_cache.rebuild([repo / p for p in ticket.target_files])
        rows += batch
    # Only names some repository file defines (the final files, the change's own excepted).
    defined = set().union(*(definitions_in(source) for source in python_files(repo).values()))
    for row in rows:
        row.calls = [name for name in row.calls if name in defined]
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
    print(f"   {'ticket':<12} {'curated':>8} {'raw':>8} {'ratio':>6}   {'files: curated':>14} {'raw':>7} {'ratio':>6}   {'before the map':>14}")
    total_c = total_r = files_c = files_r = total_b = 0
    for row in rows:
        c, r = row.curated.total_tokens, row.raw.total_tokens
        fc, fr = file_tokens(row.curated), file_tokens(row.raw)
        b = row.curated.system_tokens + estimate_tokens(row.without_map)
        total_c, total_r, files_c, files_r = total_c + c, total_r + r, files_c + fc, files_r + fr
        total_b += b
        file_ratio = f"{fc / fr:6.1%}" if fr else "     -"
        print(f"   {row.ticket:<12} {c:>8,} {r:>8,} {c / r:6.1%}   {fc:>14,} {fr:>7,} {file_ratio}   {b:>14,}")
        views = ", ".join(f"{f.path} {f.view}" for f in row.curated.files)
        print(f"   {'':<12} ({views})")
    ratio = total_c / total_r
    print(f"   {'all':<12} {total_c:>8,} {total_r:>8,} {ratio:6.1%}   {files_c:>14,} {files_r:>7,} {files_c / files_r:6.1%}   {total_b:>14,}")
    print("   (the fixed part of every context, system prompt and ticket text, is in both columns)")
    narrow = sum(r.raw.total_tokens - sum(f.tokens for f in r.raw.files if f.role == "related") for r in rows)
    print(
        f"   against the raw of the targets, their imports and the named files alone (the raw "
        f"side before the map): {total_c / narrow:.1%}; the map adds {total_c - total_b:,} tokens "
        f"to the {len(rows)} first messages ({total_c / total_b - 1:+.0%})"
    )
    verdict = "met" if ratio <= CONTEXT_TARGET else "MISSED"
    print(f"   target: whole contexts with curated views <= {CONTEXT_TARGET:.0%} of raw: {ratio:.1%}, {verdict}")
    if ratio > CONTEXT_TARGET:
        failures.append("context ratio")
    print("   Repository definitions each ticket's finished change calls, held in its context:")
    print(f"   {'ticket':<12} {'with the map':>12} {'without':>8}   missing (with the map)")
    all_held = True
    for row in rows:
        with_map, without = held(row.calls, row.text), held(row.calls, row.without_map)
        missing = ", ".join(n for n in row.calls if n not in with_map) or "-"
        all_held = all_held and len(with_map) == len(row.calls)
        count = len(row.calls)
        print(f"   {row.ticket:<12} {f'{len(with_map)}/{count}':>12} {f'{len(without)}/{count}':>8}   {missing}")
        print(f"   {'':<12} (calls: {', '.join(row.calls) or 'none'})")
    print(f"   every ticket's context holds every definition its change calls: {'yes' if all_held else 'no'}")
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
