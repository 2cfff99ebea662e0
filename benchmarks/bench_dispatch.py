"""Dispatch overhead: a 50-ticket random DAG on 8 workers, through the whole conductor.

Each ticket's worker (the real Tier 3 lifecycle, with the clutch approving everything) makes
3 scripted model calls of 200 ms each: read its file, write it, finish. Everything else is
real: the event bus, the store (every event fsynced before it is acknowledged, the state
checkpointed after every transition, pre-images kept), the tool executor, the dispatcher.

Printed:
- makespan / ideal, where "ideal" is the same DAG with the same durations list-scheduled on 8
  workers with zero overhead (same priority order as the dispatcher), computed: target <= 1.05;
- makespan / max(critical path, total work / 8), the textbook lower bound, for reference;
- the same run with a subscriber that sleeps 50 ms per event attached (it must not slow the
  run: each subscriber has its own queue), and how many events it lost (target 0).

The run is made with the repository (and so `.slop/`) in a normal temp dir, then in /dev/shm,
which separates the dispatcher's own overhead from the disk's fsync latency (every event is
durable before its publisher goes on, by design; the bus group-commits them, fsyncing in threads).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slop_tui.config import ModelSpec, ProviderSpec, load_config  # noqa: E402
from slop_tui.conductor.session import Session  # noqa: E402
from slop_tui.models import (  # noqa: E402
    AnyEvent,
    PlanAccepted,
    RunFinished,
    Tier,
)
from slop_tui.providers.base import Provider  # noqa: E402
from slop_tui.providers.scripted import (  # noqa: E402
    Scenario,
    ScriptedProvider,
    ScriptedReply,
    ScriptedToolCall,
)
from slop_tui.tools.clutch import ApproveAll  # noqa: E402

TICKETS = 50
WORKERS = 8
CALLS = 3
LATENCY_S = 0.2
SLOW_SUBSCRIBER_S = 0.05
SEED = 20240607


def random_dag(n: int, rng: random.Random) -> list[tuple[str, list[str]]]:
    """Tickets in plan order, each depending on up to 3 earlier ones (a sparse random DAG)."""
    nodes: list[tuple[str, list[str]]] = []
    for i in range(n):
        earlier = [f"t{j:02d}" for j in range(i)]
        k = min(len(earlier), rng.choice([0, 0, 1, 1, 1, 2, 3]))
        nodes.append((f"t{i:02d}", sorted(rng.sample(earlier, k))))
    return nodes


def list_schedule(nodes: list[tuple[str, list[str]]], duration: float, workers: int) -> float:
    """Makespan of greedy list scheduling with zero overhead: whenever a worker is free, the
    first ready ticket in plan order (dependencies done) starts. Event-driven simulation."""
    deps = {tid: set(d) for tid, d in nodes}
    order = [tid for tid, _ in nodes]
    done: set[str] = set()
    running: list[tuple[float, str]] = []  # (finish time, id)
    started: set[str] = set()
    now = 0.0
    while len(done) < len(order):
        for tid in order:
            if len(running) >= workers:
                break
            if tid not in started and deps[tid] <= done:
                started.add(tid)
                heapq.heappush(running, (now + duration, tid))
        now, finished = heapq.heappop(running)
        done.add(finished)
        while running and running[0][0] == now:
            done.add(heapq.heappop(running)[1])
    return now


def critical_path(nodes: list[tuple[str, list[str]]], duration: float) -> float:
    finish: dict[str, float] = {}
    for tid, deps in nodes:  # plan order is a topological order here
        finish[tid] = max((finish[d] for d in deps), default=0.0) + duration
    return max(finish.values())


def scenario_for(nodes: list[tuple[str, list[str]]]) -> Scenario:
    tracks = {"tracks": [{"id": "bench", "title": "Benchmark", "description": "a random DAG"}]}
    tickets = {
        "tickets": [
            {
                "id": tid,
                "title": f"ticket {tid}",
                "description": "",
                "archetype": "implementer",
                "depends_on": deps,
                "target_files": [f"src/{tid}.py"],
            }
            for tid, deps in nodes
        ]
    }

    def call(tool: str, **arguments: object) -> ScriptedToolCall:
        return ScriptedToolCall(tool=tool, arguments=dict(arguments))

    worker = {
        tid: [
            ScriptedReply(tool_calls=[call("read_file", path=f"src/{tid}.py")], latency_s=LATENCY_S),
            ScriptedReply(
                tool_calls=[call("write_file", path=f"src/{tid}.py", content=f"VALUE = {i + 1}\n")],
                latency_s=LATENCY_S,
            ),
            ScriptedReply(tool_calls=[call("finish", summary="done")], latency_s=LATENCY_S),
        ]
        for i, (tid, _) in enumerate(nodes)
    }
    assert all(len(replies) == CALLS for replies in worker.values())
    return Scenario(
        planner=[ScriptedReply(text=json.dumps(tracks))],
        lead=[ScriptedReply(text=json.dumps(tickets))],
        worker=worker,
    )


def providers_for(scenario: Scenario) -> dict[Tier, Provider]:
    spec = ProviderSpec(name="scripted", kind="scripted")
    return {
        tier: ScriptedProvider(ModelSpec(tier=tier, provider=spec, model=""), scenario, "<bench>")
        for tier in Tier
    }


def make_repo(base: Path, nodes: list[tuple[str, list[str]]]) -> Path:
    repo = Path(tempfile.mkdtemp(prefix="slop-bench-", dir=base))
    (repo / "src").mkdir()
    for tid, _ in nodes:
        (repo / "src" / f"{tid}.py").write_text("VALUE = 0\n")
    return repo


class SlowSubscriber:
    def __init__(self, queue: asyncio.Queue[AnyEvent | None], delay: float) -> None:
        self.queue = queue
        self.delay = delay
        self.seqs: list[int] = []

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            self.seqs.append(event.seq)
            await asyncio.sleep(self.delay)


async def one_run(base: Path, nodes: list[tuple[str, list[str]]], *, slow: bool) -> dict[str, float]:
    repo = make_repo(base, nodes)
    config_dir = Path(tempfile.mkdtemp(prefix="slop-bench-config-", dir=base))
    try:
        config = load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})
        session = Session(
            repo,
            config,
            clutch=ApproveAll(),
            workers=WORKERS,
            providers=providers_for(scenario_for(nodes)),
        )
        marks: dict[str, float] = {}
        watcher = session.bus.subscribe()

        async def watch() -> None:
            while (event := await watcher.get()) is not None:
                if isinstance(event, PlanAccepted):
                    marks["start"] = time.perf_counter()
                elif isinstance(event, RunFinished):
                    marks["end"] = time.perf_counter()

        watch_task = asyncio.create_task(watch())
        subscriber = SlowSubscriber(session.bus.subscribe(), SLOW_SUBSCRIBER_S) if slow else None
        slow_task = asyncio.create_task(subscriber.run()) if subscriber else None
        summary = await session.run("benchmark")
        await session.close()
        await watch_task
        logged = [e.seq for e in session.store.events()]
        lost = 0.0
        drain = 0.0
        if subscriber is not None and slow_task is not None:
            drain_start = time.perf_counter()
            await slow_task
            drain = time.perf_counter() - drain_start
            # Every event after the subscription, in the log's order, none missing.
            tail = logged[logged.index(subscriber.seqs[0]) :] if subscriber.seqs else logged
            lost = float(len(tail) - len(subscriber.seqs))
            if subscriber.seqs != tail:
                lost = max(lost, 1.0)
        if not summary.ok:
            raise SystemExit(f"benchmark run failed: {summary.message}")
        return {
            "makespan": marks["end"] - marks["start"],
            "events": float(len(logged)),
            "lost": lost,
            "drain": drain,
        }
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(config_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    disk = Path(tempfile.gettempdir())
    shm = Path("/dev/shm") if os.path.isdir("/dev/shm") else None

    nodes = random_dag(TICKETS, random.Random(args.seed))
    duration = CALLS * LATENCY_S
    ideal = list_schedule(nodes, duration, WORKERS)
    bound = max(critical_path(nodes, duration), TICKETS * duration / WORKERS)
    edges = sum(len(d) for _, d in nodes)
    print(
        f"DAG: {TICKETS} tickets, {edges} edges, distinct target files; {WORKERS} workers; "
        f"{CALLS} model calls x {LATENCY_S * 1000:.0f} ms per ticket"
    )
    print(f"ideal list schedule {ideal:.2f} s; max(critical path, work / {WORKERS}) {bound:.2f} s")

    # The slow subscriber is compared on tmpfs, where run-to-run noise is lowest: on a disk
    # the fsync latency of a loaded machine moves the makespan by more than 5 % by itself.
    base = shm if shm is not None else disk
    runs = [
        ("store on disk", disk, False),
        ("store on tmpfs", base, False),
        ("store on tmpfs + 50 ms/event subscriber", base, True),
    ]
    results: dict[str, dict[str, float]] = {}
    for name, where, with_slow in runs:
        result = asyncio.run(one_run(where, nodes, slow=with_slow))
        results[name] = result
        print(
            f"{name:>40}: makespan {result['makespan']:.3f} s, "
            f"/ideal {result['makespan'] / ideal:.3f} (target <= 1.05), "
            f"/bound {result['makespan'] / bound:.3f}, {result['events']:.0f} events"
        )
    plain = results["store on tmpfs"]
    slow = results["store on tmpfs + 50 ms/event subscriber"]
    change = slow["makespan"] / plain["makespan"] - 1
    print(
        f"slow subscriber: makespan change {change * 100:+.1f} % (target < 5 %), events lost "
        f"{slow['lost']:.0f} of {slow['events']:.0f} (target 0), it drained {slow['drain']:.1f} s "
        "after the run"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
