"""TUI benchmarks: cold start, key latency on a busy 2,000-ticket board, and during a model call.

1. Cold start to first frame, each in a fresh process: `slop`'s app (2,000-ticket board) against
   a bare Textual app with the same widgets (a 2,000-row DataTable, an input, a log, a footer);
   the ratio is the figure (target <= 1.3). It also checks that no provider SDK was imported.
2. Key-to-repaint latency (a cursor move on the board) while 200 events/s stream in through a
   real event bus writing ahead to a real store, as a ratio at the 99th percentile to the same
   key on the idle board (target <= 2), the absolute figures, and events dropped (target 0).
3. The same key while the planner's model call takes 5 s (the scripted provider's latency).
4. Opening the clutch on a 2,000-line highlighted diff against a 20-line one, interleaved in the
   same app, to the first frame that shows the diff: the ratio is the figure (target <= 2).
5. Over SSH every byte crosses the network: the bytes written to the terminal per second on the
   idle board after its first frame (target ~0) and at 200 events/s, against a bare Textual app
   updating one label at the same rate in the same run (target <= 2 x its bytes); then the same
   traffic with a quiet ticket's detail on top of the board (target 0: nothing shown changes).

"Repaint" is the first frame the app hands to its driver after the key moved the cursor, with
that frame rendered to terminal bytes (headless drivers skip that step, so it is done here).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICKETS = 2000
TRACKS = 20
RATE = 200  # events per second
PRESSES = 150

# Both scripts stop at the first frame the app hands to its driver (the same hook for both).
FRAME_HOOK = """
def hook(app):
    original = app._display
    state = {"done": False}
    def display(screen, renderable):
        original(screen, renderable)
        if renderable is not None and not state["done"]:
            state["done"] = True
            sdks = [m for m in ("anthropic", "openai") if m in sys.modules]
            print("FRAME", ",".join(sdks) or "-", flush=True)
            app.set_timer(0.3, app.exit)  # measured already; let mounting finish before exiting
    app._display = display
"""

FIRST_FRAME_BARE = textwrap.dedent(
    """
    import sys
    from textual.app import App
    from textual.widgets import DataTable, Footer, Input, RichLog, Static
    %s
    class Bare(App):
        def compose(self):
            yield Static("header\\nusage")
            yield Input()
            yield DataTable(cursor_type="row")
            yield RichLog()
            yield Footer()

        def on_mount(self):
            table = self.query_one(DataTable)
            table.add_columns("ticket", "state", "worker", "tokens", "cost")
            table.add_rows([(f"ticket {i}", "todo", "", "", "") for i in range(%d)])

    app = Bare()
    hook(app)
    app.run(headless=True, size=(120, 40))
    """
) % (FRAME_HOOK, TICKETS + TRACKS)

FIRST_FRAME_SLOP = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, %r)
    %s
    from benchmarks.bench_tui import big_plan_events
    from slop_tui.ui.launch import build_app, prepare_demo

    repo, env = prepare_demo()
    app = build_app(repo, env=env, demo=True)
    for event in big_plan_events():
        app.view.apply(event)
    hook(app)
    app.run(headless=True, size=(120, 40))
    import shutil
    shutil.rmtree(repo.parent, ignore_errors=True)
    """
) % (str(ROOT), FRAME_HOOK)


def big_plan_events() -> list[Any]:
    from slop_tui.models import PlanAccepted, RunStarted, Ticket, Track

    tracks = []
    per = TICKETS // TRACKS
    for t in range(TRACKS):
        tickets = [
            Ticket(id=f"t{t}-{i}", title=f"ticket {i} of track {t}", target_files=[f"pkg/m{t}_{i}.py"])
            for i in range(per)
        ]
        tracks.append(Track(id=f"track{t}", title=f"track {t}", tickets=tickets))
    events: list[Any] = [RunStarted(run_id="bench", prompt="benchmark"), PlanAccepted(tracks=tracks)]
    for seq, event in enumerate(events, 1):
        event.seq = seq
    return events


def first_frame(script: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = ""
    for line in proc.stdout:
        if line.startswith("FRAME"):
            break
    elapsed = time.perf_counter() - start
    proc.wait(timeout=30)
    return elapsed, line.strip()


def bench_cold_start(rounds: int = 5) -> None:
    bare: list[float] = []
    slop: list[float] = []
    sdks = "-"
    for _ in range(rounds):  # interleaved so both see the same machine state
        bare.append(first_frame(FIRST_FRAME_BARE)[0])
        elapsed, line = first_frame(FIRST_FRAME_SLOP)
        slop.append(elapsed)
        sdks = line.split(" ", 1)[1] if " " in line else "?"
    b, s = statistics.median(bare), statistics.median(slop)
    print(f"cold start to first frame (median of {rounds}, {TICKETS} tickets):")
    print(f"  bare Textual app, same widgets: {b * 1000:7.0f} ms")
    print(f"  slop TUI                      : {s * 1000:7.0f} ms")
    print(f"  ratio {s / b:.2f} x (target <= 1.3)   SDKs loaded before the first frame: {sdks}")


class FrameWatch:
    """Records when the app hands a frame to its driver, rendering it as a terminal would."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.waiters: list[tuple[Any, asyncio.Future[float]]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            if render is not None:
                render(app.console)
            now = time.perf_counter()
            for condition, future in list(self.waiters):
                if not future.done() and condition():
                    future.set_result(now)
                    self.waiters.remove((condition, future))

        app._display = display

    def next_frame_where(self, condition: Any) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.append((condition, future))
        return future


async def key_latencies(app: Any, watch: FrameWatch, presses: int) -> list[float]:
    from slop_tui.ui.widgets.board import TicketBoard

    board = app.board.query_one(TicketBoard)
    board.focus()
    await asyncio.sleep(0.05)
    out: list[float] = []
    for i in range(presses):
        key = "down" if (i // 10) % 2 == 0 else "up"
        target = board.cursor_row + (1 if key == "down" else -1)
        frame = watch.next_frame_where(lambda: board.cursor_row == target)
        start = time.perf_counter()
        app.simulate_key(key)
        end = await asyncio.wait_for(frame, 5)
        out.append(end - start)
        await asyncio.sleep(random.uniform(0.01, 0.03))
    return out


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class BoardTraffic:
    """The busy run both the latency and the bytes cases measure: random tickets of the board,
    a quarter state moves (todo <-> in progress), a quarter usage updates, half streamed text."""

    def __init__(self, app: Any) -> None:
        from slop_tui.models import TicketState

        self.ids = [(v.track_id, v.ticket.id) for v in app.view.tickets.values()]
        self.states = {key: TicketState.TODO for key in self.ids}

    def event(self, n: int) -> Any:
        from slop_tui.models import ModelText, TicketState, TicketStateChanged, Tier, Usage, UsageUpdated

        track, tid = random.choice(self.ids)
        kind = n % 4
        if kind == 0:
            old = self.states[(track, tid)]
            new = TicketState.IN_PROGRESS if old is TicketState.TODO else TicketState.TODO
            self.states[(track, tid)] = new
            return TicketStateChanged(ticket_id=tid, old=old, new=new, track_id=track)
        if kind == 1:
            usage = Usage(input_tokens=100, output_tokens=10)
            return UsageUpdated(ticket_id=tid, tier=Tier.WORKER, model="bench", usage=usage, track_id=track)
        return ModelText(ticket_id=tid, tier=Tier.WORKER, text="streamed text ")


async def at_rate(step: Any) -> Any:
    """Calls `await step(n)` RATE times a second (catching up after a slow step) until the
    returned `halt()` is awaited."""
    stop = asyncio.Event()

    async def loop() -> None:
        n = 0
        next_at = time.perf_counter()
        while not stop.is_set():
            await step(n)
            n += 1
            next_at += 1 / RATE
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    task = asyncio.create_task(loop())

    async def halt() -> None:
        stop.set()
        await task

    return halt


async def bench_streaming() -> None:
    from slop_tui.conductor.bus import EventBus
    from slop_tui.store import Store
    from slop_tui.ui.app import SlopApp

    random.seed(7)
    with tempfile.TemporaryDirectory() as tmp:
        app = SlopApp(repo_root=Path(tmp), session_factory=None, replay=big_plan_events(), prefs_env={"SLOP_CONFIG_DIR": tmp})
        replayed = app.view.applied
        async with app.run_test(size=(120, 40)):
            watch = FrameWatch(app)
            idle = await key_latencies(app, watch, PRESSES)

            store = Store(Path(tmp))
            bus = EventBus(store)
            app.attach_bus(bus)
            traffic = BoardTraffic(app)
            published = 0

            async def publish(n: int) -> None:
                nonlocal published
                await bus.publish(traffic.event(n))
                published += 1

            halt = await at_rate(publish)
            await asyncio.sleep(0.5)
            started = time.perf_counter()
            busy = await key_latencies(app, watch, PRESSES)
            duration = time.perf_counter() - started
            await halt()
            await bus.close()
            for _ in range(200):
                if app.view.applied - replayed >= published:
                    break
                await asyncio.sleep(0.02)
            dropped = published - (app.view.applied - replayed)
            store.close()
    rate = published / (duration + 0.5)
    print(f"key-to-repaint on a {TICKETS}-ticket board ({PRESSES} presses each):")
    print(f"  idle            p50 {statistics.median(idle) * 1000:6.1f} ms   p99 {p99(idle) * 1000:6.1f} ms")
    print(f"  {rate:3.0f} events/s  p50 {statistics.median(busy) * 1000:6.1f} ms   p99 {p99(busy) * 1000:6.1f} ms")
    print(f"  ratio p99 {p99(busy) / p99(idle):.2f} x (target <= 2; a person notices 50 ms)")
    print(f"  events published {published}, dropped {dropped} (target 0)")


async def typing_latencies(app: Any, watch: FrameWatch, presses: int) -> list[float]:
    """Key-to-repaint for typing into the prompt (the board is empty while the planner thinks)."""
    from textual.widgets import Input

    prompt = app.board.query_one("#prompt", Input)
    prompt.focus()
    await asyncio.sleep(0.05)
    out: list[float] = []
    for _ in range(presses):
        target = len(prompt.value) + 1
        frame = watch.next_frame_where(lambda: len(prompt.value) == target)
        start = time.perf_counter()
        app.simulate_key("x")
        out.append(await asyncio.wait_for(frame, 5) - start)
        await asyncio.sleep(random.uniform(0.01, 0.03))
    return out


async def bench_model_call() -> None:
    from slop_tui.demo import DEMO_PROMPT, demo_paths
    from slop_tui.ui.launch import build_app, prepare_demo

    random.seed(11)
    with tempfile.TemporaryDirectory() as tmp:
        repo, env = prepare_demo(Path(tmp))
        slow = Path(tmp) / "slow.toml"
        text = demo_paths().scenario.read_text(encoding="utf-8")
        # The planner's reply (the first latency in the file) now takes 5 s.
        slow.write_text(text.replace("latency_s = 0.6", "latency_s = 5.0", 1), encoding="utf-8")
        (Path(env["SLOP_CONFIG_DIR"]) / "agents.toml").write_text(
            "[models]\n" + "".join(f'{t} = "scripted:{slow}"\n' for t in ("planner", "lead", "worker", "default_cheap")),
            encoding="utf-8",
        )
        app = build_app(repo, env=env, demo=True, prefs_env={"SLOP_CONFIG_DIR": tmp})
        async with app.run_test(size=(120, 40)):
            watch = FrameWatch(app)
            idle = await typing_latencies(app, watch, 60)
            assert app.start_run(DEMO_PROMPT)
            await asyncio.sleep(0.3)
            started = time.perf_counter()
            during = await typing_latencies(app, watch, 60)
            took = time.perf_counter() - started
            planning = app.busy
            app.exit()
    print("key-to-repaint (typing in the prompt) while the planner's model call takes 5 s:")
    print(f"  idle            p50 {statistics.median(idle) * 1000:6.1f} ms   p99 {p99(idle) * 1000:6.1f} ms")
    print(f"  during the call p50 {statistics.median(during) * 1000:6.1f} ms   p99 {p99(during) * 1000:6.1f} ms"
          f"  ({len(during)} keys in {took:.1f} s, status still '{planning}')")
    print(f"  ratio p99 {p99(during) / p99(idle):.2f} x (target <= 2)")


def rewrite_proposal(lines: int) -> Any:
    """A write_file whose diff is `lines` long: every line of a Python file of `lines // 2` rewritten."""
    from slop_tui.models import Proposal, WriteFileArgs
    from slop_tui.tools.proposals import unified_diff

    half = lines // 2
    before = "".join(
        f"def handler_{i}(request):  # route {i}\n" if i % 2 else f"    return {i} + request.size\n" for i in range(half)
    )
    after = "".join(
        f"def handler_{i}(request, user):  # route {i}\n" if i % 2 else f"    return {i} * request.size\n"
        for i in range(half)
    )
    path = "app/routes.py"
    return Proposal(id=f"p-{lines}", ticket_id="t0-0", tool="write_file",
                    arguments=WriteFileArgs(path=path, content=after), diff=unified_diff(path, before, after))


async def open_clutch(app: Any, watch: FrameWatch, proposal: Any) -> float:
    """Seconds from pushing the clutch to the first frame showing its diff; the clutch is closed again."""
    from slop_tui.ui.screens.clutch import ClutchScreen
    from slop_tui.ui.widgets.diff_view import DiffView

    def painted() -> bool:
        views = app.screen.query(DiffView)
        return isinstance(app.screen, ClutchScreen) and bool(views) and views.first().virtual_size.height > 0

    frame = watch.next_frame_where(painted)
    start = time.perf_counter()
    app.push_screen(ClutchScreen(proposal, waiting=1))
    end = await asyncio.wait_for(frame, 10)
    await asyncio.sleep(0.05)
    app.pop_screen()
    await asyncio.sleep(0.05)
    return end - start


async def bench_clutch_diff(rounds: int = 7) -> None:
    from slop_tui.ui.app import SlopApp

    small, big = rewrite_proposal(20), rewrite_proposal(2000)
    sizes = (small.diff.count("\n"), big.diff.count("\n"))
    with tempfile.TemporaryDirectory() as tmp:
        app = SlopApp(
            repo_root=Path(tmp), session_factory=None, replay=big_plan_events()[:1], prefs_env={"SLOP_CONFIG_DIR": tmp}
        )
        async with app.run_test(size=(120, 40)):
            watch = FrameWatch(app)
            await open_clutch(app, watch, small)  # warm-up: imports (Pygments) and the first screen
            short: list[float] = []
            long: list[float] = []
            for _ in range(rounds):  # interleaved so both see the same machine state
                short.append(await open_clutch(app, watch, small))
                long.append(await open_clutch(app, watch, big))
            app.exit()
    s, b = statistics.median(short), statistics.median(long)
    print(f"opening the clutch to first paint (median of {rounds}, 120x40, highlighted Python):")
    print(f"  {sizes[0]:5d}-line diff {s * 1000:7.1f} ms")
    print(f"  {sizes[1]:5d}-line diff {b * 1000:7.1f} ms")
    print(f"  ratio {b / s:.2f} x (target <= 2)")


async def bytes_idle_and_busy(app: Any, start_events: Any, seconds: float) -> tuple[int, float, float]:
    """The first frame's bytes, bytes/s on the idle app after it, then bytes/s while
    `start_events` (an async callable returning a stop callback) drives it."""
    from slop_tui.testing import TerminalBytes

    count = TerminalBytes(app)
    app.screen.refresh()  # the first frame, through the counting driver
    await asyncio.sleep(1.0)
    first = count.total
    idle = await count.per_second(seconds)
    stop = await start_events()
    busy = await count.per_second(seconds)
    await stop()
    return first, idle, busy


async def bench_bytes(seconds: float = 3.0) -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    from slop_tui.conductor.bus import EventBus
    from slop_tui.store import Store
    from slop_tui.testing import TerminalBytes
    from slop_tui.ui.app import SlopApp

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("event 0")

    bare_app = Bare()
    async with bare_app.run_test(size=(120, 40)):
        label = bare_app.query_one(Label)

        async def bare_events() -> Any:
            async def step(n: int) -> None:
                label.update(f"event {n}")
            return await at_rate(step)

        bare = await bytes_idle_and_busy(bare_app, bare_events, seconds)
        bare_app.exit()

    random.seed(5)
    with tempfile.TemporaryDirectory() as tmp:
        app = SlopApp(repo_root=Path(tmp), session_factory=None, replay=big_plan_events(), prefs_env={"SLOP_CONFIG_DIR": tmp})
        async with app.run_test(size=(120, 40)):
            store = Store(Path(tmp))
            bus = EventBus(store)
            traffic = BoardTraffic(app)
            quiet = traffic.ids.pop()  # a ticket no event touches: its detail has nothing new

            async def slop_events() -> Any:
                app.attach_bus(bus)

                async def step(n: int) -> None:
                    await bus.publish(traffic.event(n))
                return await at_rate(step)

            slop = await bytes_idle_and_busy(app, slop_events, seconds)
            # The same traffic with that ticket's detail on top: the board under it changes.
            app.open_ticket(next(v for v in app.view.tickets.values() if (v.track_id, v.ticket.id) == quiet))
            await asyncio.sleep(1.0)
            count = TerminalBytes(app)
            stop = await slop_events()
            covered = await count.per_second(seconds)
            await stop()
            await bus.close()
            store.close()
            app.exit()
    print(f"bytes written to the terminal per second (120x40, {seconds:.0f} s each; over SSH all of it crosses):")
    for name, (first, idle, busy) in (("bare Textual app, one label", bare), (f"slop board, {TICKETS} tickets", slop)):
        print(f"  {name:<28} first frame {first:7d} B   idle {idle:7.0f} B/s   at {RATE}/s {busy:7.0f} B/s")
    print(f"  {'the ticket detail on top':<28} {'':43}at {RATE}/s {covered:7.0f} B/s (nothing on it changes)")
    ratio = slop[2] / bare[2] if bare[2] else float("inf")
    print(f"  busy ratio {ratio:.2f} x (target <= 2); idle target ~0 after the first frame; "
          "under the detail target 0")


def main() -> int:
    if "--clutch" in sys.argv:  # just the clutch case
        asyncio.run(bench_clutch_diff())
        return 0
    if "--bytes" in sys.argv:  # just the bytes-per-second case
        asyncio.run(bench_bytes())
        return 0
    bench_cold_start()
    print()
    asyncio.run(bench_streaming())
    print()
    asyncio.run(bench_model_call())
    print()
    asyncio.run(bench_clutch_diff())
    print()
    asyncio.run(bench_bytes())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
