"""Fixed runs for UI tests: events with fixed seqs and no clock, so every frame is repeatable."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from slop_tui.models import (
    AnyEvent,
    Approve,
    Archetype,
    DecisionMade,
    HintGiven,
    ModelText,
    PlanAccepted,
    Proposal,
    ProposalMade,
    RunCommandArgs,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    ToolResult,
    Track,
    Usage,
    UsageUpdated,
    WriteFileArgs,
)
from slop_tui.tools.proposals import unified_diff

S = TicketState
# The two sizes every snapshot is taken at.
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


class FixedClock:
    """A clock that says `now` until a test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


BEFORE = 'DEBUG = False\nCURRENCY = "EUR"\n\n\ndef get(name):\n    return globals()[name]\n'
AFTER = (
    'from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass Settings:\n'
    '    debug: bool = False\n    currency: str = "EUR"\n\n\ndef get_settings() -> Settings:\n'
    "    return Settings()\n"
)


def sample_tracks() -> list[Track]:
    def t(tid: str, title: str, arch: Archetype, deps: list[str], files: list[str]) -> Ticket:
        return Ticket(id=tid, title=title, description=f"{title}.", archetype=arch, depends_on=deps, target_files=files)

    return [
        Track(
            id="config",
            title="Refactor the config system",
            description="One typed Settings object instead of globals.",
            tickets=[
                t("stub-config", "Stub the Settings interface", Archetype.CONTRACT_STUBBER, [], ["app/config.py"]),
                t("impl-config", "Implement load_settings", Archetype.IMPLEMENTER, ["stub-config"], ["app/config.py"]),
                t("use-config", "Read settings everywhere", Archetype.IMPLEMENTER, ["stub-config"], ["app/cli.py"]),
                t("test-config", "Test the new settings", Archetype.TESTER, ["impl-config", "use-config"], ["tests/test_settings.py"]),
            ],
        )
    ]


def write_proposal(pid: str = "p-impl-1", ticket: str = "impl-config") -> Proposal:
    return Proposal(
        id=pid,
        ticket_id=ticket,
        tool="write_file",
        arguments=WriteFileArgs(path="app/config.py", content=AFTER),
        diff=unified_diff("app/config.py", BEFORE, AFTER),
    )


def command_proposal() -> Proposal:
    return Proposal(
        id="p-impl-2",
        ticket_id="impl-config",
        tool="run_command",
        arguments=RunCommandArgs(command="python -m pytest -q tests/test_config.py", timeout_s=60),
        cwd="<repo>",
    )


def hostile_command_proposal() -> Proposal:
    """A command that a terminal would show as `$ python -m pytest -q`, and longer than the
    clutch is wide: the clutch must show the escapes and every character of it."""
    command = (
        "touch pwned # \x1b[2K\x1b[1G$ python -m pytest -q \u202e && "
        + " ".join(f"step{n:02d}" for n in range(30))
        + " ; echo [@click=app.quit]END[/]"
    )
    return Proposal(
        id="p-evil-1",
        ticket_id="impl-config",
        tool="run_command",
        arguments=RunCommandArgs(command=command, timeout_s=60),
        cwd="<repo>",
    )


RAW = (
    "Traceback (most recent call last):\n  File \"app/config.py\", line 12, in <module>\n"
    "    return Setings()\nNameError: name 'Setings' is not defined\n"
)


def sample_events() -> list[AnyEvent]:
    """A run part way through: one ticket done, one waiting at the clutch after a failed test
    and its hint, one running, one waiting for its dependencies."""
    usage = Usage(input_tokens=1200, output_tokens=300, cost_usd=0.0042)
    raw: list[Any] = [
        RunStarted(run_id="run-1", prompt="Refactor config system"),
        UsageUpdated(ticket_id=None, tier=Tier.PLANNER, model="scripted:demo", usage=usage),
        UsageUpdated(ticket_id=None, tier=Tier.LEAD, model="scripted:demo", usage=usage),
        PlanAccepted(tracks=sample_tracks()),
        TicketStateChanged(ticket_id="stub-config", old=S.TODO, new=S.IN_PROGRESS, track_id="config", model="scripted:demo"),
        ProposalMade(proposal=write_proposal("p-stub-1", "stub-config")),
        DecisionMade(proposal_id="p-stub-1", ticket_id="stub-config", decision=Approve()),
        UsageUpdated(ticket_id="stub-config", tier=Tier.WORKER, model="scripted:demo", usage=usage, track_id="config"),
        TicketStateChanged(ticket_id="stub-config", old=S.IN_PROGRESS, new=S.DONE, track_id="config", summary="Settings stubbed."),
        TicketStateChanged(ticket_id="impl-config", old=S.TODO, new=S.IN_PROGRESS, track_id="config", model="scripted:demo"),
        TicketStateChanged(ticket_id="use-config", old=S.TODO, new=S.IN_PROGRESS, track_id="config", model="scripted:demo"),
        ModelText(ticket_id="impl-config", tier=Tier.WORKER, text="I will implement load_settings, "),
        ModelText(ticket_id="impl-config", tier=Tier.WORKER, text="then run the config tests."),
        ToolResult(ticket_id="impl-config", tool="run_command", ok=False, output="exit code 1\nNameError"),
        HintGiven(
            ticket_id="impl-config",
            command="python -m pytest -q tests/test_config.py",
            exit_code=1,
            hint="System Hint: app/config.py line 12 says Setings; the class is Settings.",
            raw_output=RAW,
        ),
        UsageUpdated(ticket_id="impl-config", tier=Tier.WORKER, model="scripted:demo", usage=usage, track_id="config"),
        UsageUpdated(ticket_id="impl-config", tier=Tier.DEFAULT_CHEAP, model="scripted:demo", usage=Usage(input_tokens=400, output_tokens=30, cost_usd=0.0001)),
        ProposalMade(proposal=write_proposal()),
        TicketStateChanged(ticket_id="impl-config", old=S.IN_PROGRESS, new=S.AWAITING_APPROVAL, track_id="config"),
    ]
    events: list[AnyEvent] = []
    for seq, event in enumerate(raw, start=1):
        event.seq = seq
        event.at = 0.0
        events.append(event)
    return events


async def wait_for(condition: Any, *, timeout: float = 10.0, pilot: Any = None) -> None:
    """Poll `condition()` until true (the session runs on the app's loop: let it go on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(condition, '__name__', condition)}")
        if pilot is not None:
            await pilot.pause(0.02)
        else:
            await asyncio.sleep(0.02)


def screen_text(app: App[Any]) -> str:
    """The current frame as plain text (what a person reads), for assertions."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def tree_files(root: Path) -> dict[str, str]:
    """Every text file under `root` except tool state, as relative path -> content."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not re.search(r"(^|/)(\.slop|__pycache__|\.pytest_cache)(/|$)", rel):
            out[rel] = path.read_text(encoding="utf-8", errors="replace")
    return out
