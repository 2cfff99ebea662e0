"""`slop run` without a terminal (issue 19): nobody to answer is found before any planner
token; piped diffs keep their `+`/`-` column; a missing key leaves no run in `.slop/`;
summaries count in words."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.agents.transitions import transition
from slop_tui.conductor.answerable import nobody_can_answer
from slop_tui.conductor.bus import EventBus
from slop_tui.conductor.headless import terminal_console
from slop_tui.conductor.printer import Printer
from slop_tui.conductor.terminal_clutch import TerminalClutch
from slop_tui.models import PlanAccepted, Proposal, RunFinished, WriteFileArgs
from slop_tui.tools.proposals import unified_diff
from tests.conductor.helpers import ticket, track

PROMPT = "Write notes"


def slop(repo: Path, config: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "slop_tui", "run", PROMPT, "--repo", str(repo), *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config)}, **kwargs,
    )


def scripted_config(tmp: Path) -> tuple[Path, Path, Path]:
    """A repository, a config playing a scenario, and the scenario (whose planner reply, if
    ever asked for, would be spent)."""
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("notes\n")
    scenario = tmp / "scenario.toml"
    scenario.write_text('[[planner]]\ntext = "{}"\n')
    config = tmp / "config"
    config.mkdir()
    (config / "agents.toml").write_text(
        "[models]\n" + "".join(f'{t} = "scripted:{scenario}"\n' for t in ("planner", "lead", "worker", "default_cheap"))
    )
    return repo, config, scenario


@pytest.mark.parametrize("stdin", ["devnull", "closed pipe", "empty file"])
def test_without_yes_and_nobody_to_answer_nothing_starts(tmp_path: Path, stdin: str) -> None:
    repo, config, _ = scripted_config(tmp_path)
    if stdin == "devnull":
        done = slop(repo, config, stdin=subprocess.DEVNULL)
    elif stdin == "closed pipe":
        done = slop(repo, config, input="")
    else:
        empty = tmp_path / "empty"
        empty.write_text("")
        with empty.open() as handle:
            done = slop(repo, config, stdin=handle)
    assert done.returncode == 2, done.stderr
    assert "nobody can answer the plan review or the clutch" in done.stderr and "--yes" in done.stderr
    assert "Traceback" not in done.stderr
    # No run recorded, nothing planned: at most the lock file exists.
    left = {p.name for p in (repo / ".slop").iterdir()} if (repo / ".slop").exists() else set()
    assert left <= {"lock"}, left


def test_a_missing_key_leaves_no_run_behind(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.toml").write_text('[models]\nplanner = "anthropic:claude-x"\n')
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "run", PROMPT, "--repo", str(repo), "--yes"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**env, "SLOP_CONFIG_DIR": str(config)},
    )
    assert done.returncode == 2 and "no API key" in done.stderr, done.stderr
    assert not (repo / ".slop").exists()


def test_nobody_can_answer_looks_without_reading() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as reader:
        assert nobody_can_answer(reader) is None  # a writer is still there: answers may come
        os.write(write_end, b"y\n")
        os.close(write_end)
        assert nobody_can_answer(reader) is None  # an answer is waiting
        assert reader.readline() == "y\n"  # and it was not consumed
        assert nobody_can_answer(reader) == "stdin is a pipe at its end"
    assert nobody_can_answer(io.StringIO("y\n")) is None
    with open(os.devnull) as null:
        assert nobody_can_answer(null) == "stdin is /dev/null"


def test_a_piped_diff_keeps_every_line_whole() -> None:
    before = "x = 1\n"
    after = "x = '" + "long " * 40 + "'\n"
    proposal = Proposal(id="p1", ticket_id="t", tool="write_file",
                        arguments=WriteFileArgs(path="a.py", content=after), diff=unified_diff("a.py", before, after))
    out = io.StringIO()
    TerminalClutch(stdin=io.StringIO(""), console=terminal_console(out)).show(proposal)
    lines = out.getvalue().splitlines()
    added = [line for line in lines if line.startswith("+x")]
    assert added == ["+" + after.rstrip("\n")]
    # Every line of the diff starts in its column: none is the tail of a wrapped one.
    diff_lines = lines[lines.index(next(x for x in lines if x.startswith("---"))):]
    assert all(line[:1] in "+- @" for line in diff_lines if line), diff_lines


async def _printed(*events: object) -> list[str]:
    bus = EventBus(None)
    stream = io.StringIO()
    printer = Printer(bus.subscribe(), stream=stream, live=False)
    task = asyncio.create_task(printer.run())
    for event in events:
        await bus.publish(event)  # type: ignore[arg-type]
    await bus.close()
    await asyncio.wait_for(task, 5)
    return stream.getvalue().splitlines()


async def test_summaries_count_in_words_and_say_it_once() -> None:
    one = track(ticket("only"))
    lines = await _printed(PlanAccepted(tracks=[one]), RunFinished(ok=False, message="0/1 ticket done, 1 cancelled"))
    assert lines[0] == "plan accepted: 1 track, 1 ticket"
    assert lines[-1] == "run stopped: 0/1 ticket done, 0 tok: 1 cancelled"
    two = track(ticket("a"), ticket("b", ["a"]))
    done = two.tickets[0]
    lines = await _printed(
        PlanAccepted(tracks=[two]), transition(done, "start"), transition(done, "mark_complete", summary="ok"),
        RunFinished(ok=False, message="1/2 tickets done"),
    )
    assert lines[0] == "plan accepted: 1 track, 2 tickets"
    assert lines[-1] == "run stopped: 1/2 tickets done, 0 tok"
