"""Crashes: `kill -9` at 20+ points of a scripted multi-ticket run, then `slop resume`.

The run is the bundled demo (`slop run "Refactor config system" --yes --workers 1` on the
sample repository, scripted provider, four tickets, twelve file writes), with its commands made
instant (`true`) so two dozen runs fit in the suite's time. The exact moments come from the
store's test-only hook (`SLOP_TEST_CRASH_AT`, see `slop_tui/store.py`): the process SIGKILLs
itself before an event is written, half-way through writing it, after it is fsynced but before
`append` returns, and between an atomic write's temporary file and its rename (the
repository's files and `.slop/`'s). "Between a tool's apply and its event's fsync" is
`append:file_changed:N`: the file is replaced, its `FileChanged` not yet written. Two more runs
are killed from outside, at whatever moment the log reaches a length, with parallel workers.

For every point, against one uninterrupted run:
- right after the kill: the log holds exactly the events acknowledged before the point (same
  kinds, in order; a half-written line only at the end), and every repository file is whole
  (a version the uninterrupted run had at some moment: never a half write);
- after `slop resume` (or, when the plan was never accepted, the clear refusal and a new
  `slop run`): the same files as the uninterrupted run, no temporary file left anywhere, every
  event the killed run had written still in the log (or in the archived run), all tickets done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from slop_tui.demo import DEMO_PROMPT, copy_sample_repo
from slop_tui.models import (
    AnyEvent,
    EditFileArgs,
    FileChanged,
    ProposalMade,
    TicketState,
    WriteFileArgs,
)
from slop_tui.store import CRASH_ENV, Store
from tests.conductor.demo import scaled_scenario
from tests.reliability.counts import tally

COUNTS = tally(
    "crashes",
    "kill points",
    "killed there",
    "resumed to the same files",
    "acknowledged events lost",
    "half-written files",
    "stray temporary files",
)
PROJECT = Path(__file__).resolve().parents[2]
PARALLEL = 3

# (point, what it is) in run order. Counts refer to the uninterrupted run: 8 ticket moves,
# 12 file changes, 26 proposals / decisions / tool results, 1 plan, 1 run end.
POINTS: list[tuple[str, str]] = [
    ("append:run_started:1", "before the first event"),
    ("append:plan_accepted:1", "planned, the plan not yet logged"),
    ("append-half:plan_accepted:1", "half of the plan written"),
    ("append-done:plan_accepted:1", "the plan fsynced, append not returned"),
    ("append:ticket_state:1", "the first ticket about to start"),
    ("rename:slop:1", "the first pre-image blob complete, not renamed"),
    ("rename:repo:1", "the stub's file in its temporary file, not renamed"),
    ("append:file_changed:1", "the stub's write applied, its event not written"),
    ("append-half:file_changed:1", "the stub's write applied, its event half written"),
    ("append:ticket_state:2", "the stub finished, not yet logged"),
    ("append-done:ticket_state:2", "the stub's finish logged, not acknowledged"),
    ("rename:repo:2", "the implementation's file before its rename"),
    ("append:file_changed:3", "a write applied, its event not written"),
    ("append:tool_result:10", "a tool result about to be logged"),
    ("rename:repo:6", "a later write before its rename"),
    ("append-half:file_changed:7", "a later write applied, its event half written"),
    ("rename:slop:14", "a later pre-image or checkpoint before its rename"),
    ("append:file_changed:11", "the last ticket's write applied, its event not written"),
    ("append:ticket_state:8", "the last ticket finished, not yet logged"),
    ("append:run_finished:1", "everything done, the run's end not logged"),
]
EXTERNAL_KILLS = [45, 100]  # kill -9 from outside once the log holds this many events


@dataclass
class Reference:
    base: Path
    config_dir: Path
    tree: dict[str, bytes]
    kinds: list[str]
    versions: dict[str, set[bytes]]  # every content each file had during the run


def tree(repo: Path) -> dict[str, bytes]:
    """Every file of the repository but tool state and caches (temporary files included)."""
    skip = {".slop", "__pycache__", ".pytest_cache"}
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and not (set(p.relative_to(repo).parts) & skip)
    }


def kind_of(event: AnyEvent) -> str:
    return str(type(event).__struct_config__.tag)


def slop(*args: str, config_dir: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env["SLOP_CONFIG_DIR"] = str(config_dir)
    env["PYTHONPATH"] = str(PROJECT)
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, env=env,
    )


def run_args(repo: Path, *, workers: int = 1) -> list[str]:
    return ["run", DEMO_PROMPT, "--repo", str(repo), "--yes", "--workers", str(workers)]


def versions_of(repo: Path, events: list[AnyEvent], original: dict[str, bytes]) -> dict[str, set[bytes]]:
    """Replay the run's approved writes and edits: each file's successive contents."""
    current = dict(original)
    seen: dict[str, set[bytes]] = {path: {data} for path, data in original.items()}
    proposals: dict[str, ProposalMade] = {}
    for event in events:
        if isinstance(event, ProposalMade):
            proposals[event.proposal.ticket_id] = event
        elif isinstance(event, FileChanged):
            args = proposals[event.ticket_id].proposal.arguments
            if isinstance(args, WriteFileArgs):
                data = args.content.encode()
            else:
                assert isinstance(args, EditFileArgs)
                before = current[event.path].decode()
                data = before.replace(args.old, args.new, 1).encode()
            current[event.path] = data
            seen.setdefault(event.path, set()).add(data)
    assert current == tree(repo), "the replayed writes do not give the final files"
    return seen


@pytest.fixture(scope="module")
def reference() -> Iterator[Reference]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        config_dir = base / "config"
        config_dir.mkdir()
        scenario = scaled_scenario(base, 0.0, commands="true")
        models = "\n".join(
            f'{tier} = "scripted:{scenario}"' for tier in ("planner", "lead", "worker", "default_cheap")
        )
        (config_dir / "agents.toml").write_text(f"[models]\n{models}\n")
        repo = copy_sample_repo(base / "reference")
        original = tree(repo)
        done = slop(*run_args(repo), config_dir=config_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        events = Store(repo).events()
        yield Reference(
            base=base,
            config_dir=config_dir,
            tree=tree(repo),
            kinds=[kind_of(e) for e in events],
            versions=versions_of(repo, events, original),
        )


def _complete_lines(raw: bytes) -> bytes:
    return raw[: raw.rfind(b"\n") + 1]


def expected_written(point: str, kinds: list[str]) -> int | None:
    """How many events a kill at `point` leaves complete in the log (None: not exact)."""
    where, _, rest = point.partition(":")
    if where == "rename":
        return None
    kind, _, nth = rest.partition(":")
    positions = [i for i, k in enumerate(kinds) if k == kind]
    index = positions[int(nth) - 1]
    return index + 1 if where == "append-done" else index


def check_point(ref: Reference, label: str, point: str | None, kill_after: int | None = None) -> list[str]:
    """One killed run and its recovery; the problems found (empty: all well)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(dir=ref.base) as tmp:
        repo = copy_sample_repo(Path(tmp) / "repo")
        if point is not None:
            killed = slop(*run_args(repo), config_dir=ref.config_dir, crash_at=point)
            returncode = killed.returncode
        else:
            returncode = _kill_from_outside(repo, ref.config_dir, kill_after or 0)
        if returncode != -signal.SIGKILL:
            return [f"{label}: the run was not killed there (exit {returncode})"]
        COUNTS.add("killed there")
        log = repo / ".slop" / "events.jsonl"
        raw = log.read_bytes() if log.exists() else b""
        written = _complete_lines(raw)
        torn = raw[len(written):]
        # Decoded here, read-only: a Store opened for appends would cut the torn tail first.
        kinds = [kind_of(e) for e in _decode(written)]
        # (Killed from outside, the run had parallel workers: its order is its own.)
        if point is not None and kinds != ref.kinds[: len(kinds)]:
            problems.append(f"{label}: the log is not a prefix of the uninterrupted run's")
        exact = expected_written(point, ref.kinds) if point is not None else None
        if exact is not None and len(kinds) != exact:
            COUNTS.add("acknowledged events lost")
            problems.append(f"{label}: {len(kinds)} events written, expected {exact}")
        if point is not None and point.startswith("append-half") and not torn:
            problems.append(f"{label}: no half-written line at the end")
        # Every file is whole: some version the uninterrupted run had.
        temps = []
        for rel, data in tree(repo).items():
            name = Path(rel).name
            if name.startswith(".") and name.endswith(".tmp"):
                temps.append(rel)
                target = str(Path(rel).parent / name[1:].rsplit(".", 3)[0])
                if data not in ref.versions.get(target.removeprefix("./"), set()):
                    COUNTS.add("half-written files")
                    problems.append(f"{label}: temporary file {rel} is not a whole version")
                continue
            if data not in ref.versions.get(rel, set()):
                COUNTS.add("half-written files")
                problems.append(f"{label}: {rel} is not a version the run ever wrote")
        # A kill from outside lands anywhere, inside an atomic write too: its temporary file
        # is allowed there (it is whole, checked above, and the resume must remove it, below).
        if temps and point is not None and not point.startswith("rename:repo"):
            problems.append(f"{label}: unexpected temporary files {temps}")
        # Recover.
        resumed = slop("resume", "--repo", str(repo), "--yes", "--workers", "1", config_dir=ref.config_dir)
        archived: bytes | None = None
        if resumed.returncode == 2 and "nothing to resume" in resumed.stderr:
            # Killed before the plan was accepted: the refusal is clear, and a new run starts
            # afresh (the old log is archived, not lost).
            again = slop(*run_args(repo), config_dir=ref.config_dir)
            if again.returncode != 0:
                problems.append(f"{label}: the new run failed: {again.stderr[-300:]}")
            archives = sorted((repo / ".slop" / "runs").glob("*/events.jsonl"))
            archived = archives[-1].read_bytes() if archives else b""
        elif resumed.returncode != 0:
            problems.append(f"{label}: resume exited {resumed.returncode}: {resumed.stderr[-300:]}")
        if "Traceback" in resumed.stdout + resumed.stderr:
            problems.append(f"{label}: a traceback was shown")
        final = log.read_bytes()
        kept = archived if archived is not None else final
        if not kept.startswith(written):
            COUNTS.add("acknowledged events lost")
            problems.append(f"{label}: events the killed run had written are gone")
        after = tree(repo)
        stray = [rel for rel in after if Path(rel).name.endswith(".tmp")]
        stray += [str(p) for p in (repo / ".slop").rglob("*.tmp")]
        if stray:
            COUNTS.add("stray temporary files", len(stray))
            problems.append(f"{label}: temporary files left: {stray}")
        if {k: v for k, v in after.items() if k not in stray} != ref.tree:
            problems.append(f"{label}: the files differ from the uninterrupted run's")
        state = Store(repo).load_state()
        if state is None or not state.finished or not all(
            t.state is TicketState.DONE for _, t in state.tickets()
        ):
            problems.append(f"{label}: the run did not finish with every ticket done")
        if not problems:
            COUNTS.add("resumed to the same files")
    return problems


def _decode(data: bytes) -> list[AnyEvent]:
    decoder = msgspec.json.Decoder(AnyEvent)
    return [decoder.decode(line) for line in data.split(b"\n") if line.strip()]


def _kill_from_outside(repo: Path, config_dir: Path, after: int) -> int:
    """`kill -9` the run (default workers) once its log has `after` complete events."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env.update(SLOP_CONFIG_DIR=str(config_dir), PYTHONPATH=str(PROJECT))
    args = ["run", DEMO_PROMPT, "--repo", str(repo), "--yes"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "slop_tui", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    log = repo / ".slop" / "events.jsonl"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if log.read_bytes().count(b"\n") >= after:
                    break
            except OSError:
                pass
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    return proc.returncode


def test_kill_9_at_every_point_then_resume_ends_in_the_same_files(reference: Reference) -> None:
    jobs = [(f"{point} ({what})", point, None) for point, what in POINTS]
    jobs += [(f"kill -9 from outside after {n} events", None, n) for n in EXTERNAL_KILLS]
    COUNTS.add("kill points", len(jobs))
    assert len(jobs) >= 20
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda job: check_point(reference, *job), jobs))
    problems = [p for found in results for p in found]
    assert not problems, "\n".join(problems)


def test_the_crash_hook_is_inert_without_its_variable() -> None:
    # The hook must cost nothing and do nothing in a normal run: no variable, no spec.
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    code = "import slop_tui.store as s; print(s._CRASH)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=PROJECT, timeout=60)
    assert done.stdout.strip() == "None", done.stderr
