"""Display spoofing: a model that writes terminal escape codes cannot change what a person sees.

The attack of issue 12, performed for real through the CLI: `slop run` with stdout a pipe, a
scripted team whose every text is hostile (plan titles and descriptions, ticket titles, a
`run_command` of `touch pwned # \\x1b[2K\\x1b[1G$ python -m pytest -q` that a terminal would show
as `$ python -m pytest -q`, a write whose diff holds escapes, a failing command whose output
sets the clipboard (OSC 52), the window title (OSC 0) and clears the screen, a QA hint, a file
name with U+202E, a summary with markup and U+2028), answered on stdin: the plan accepted, the
`touch` rejected (so `pwned` must not exist), the rest approved. Then every character of what
`slop run` and `slop status` printed is checked by Unicode category, independently of the
sanitiser's own list, and the shown command must read `touch pwned # \\x1b[2K...`, whole.

In the TUI (Textual's pilot): the clutch shows the escapes and the whole of a long command, and
markup in a model's title or a toast is displayed literally and does nothing.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.widgets import TextArea

from slop_tui.conductor.terminal_clutch import TerminalClutch
from slop_tui.models import (
    AnyEvent,
    Approve,
    Archetype,
    DecisionMade,
    ErrorRaised,
    FileChanged,
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
    WriteFileArgs,
)
from slop_tui.tools.proposals import unified_diff
from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from tests.reliability.counts import tally
from tests.ui.helpers import screen_text

COUNTS = tally("display spoofing", "texts", "raw control characters")
PROJECT = Path(__file__).resolve().parents[2]
PROMPT = "Tidy the notes"

TOUCH = "touch pwned # \x1b[2K\x1b[1G$ python -m pytest -q"
TOUCH_SHOWN = "touch pwned # \\x1b[2K\\x1b[1G$ python -m pytest -q"
# Real escapes in the output of a failing command: clipboard, window title, clear screen.
NOISY = (
    "printf '\\033]52;c;cHduZWQ=\\007\\033]0;PWNED\\007\\033[2J\\233H'; "
    "printf 'boom\\033[2K\\342\\200\\256 done\\n' >&2; exit 3"
)
CONTENT = "hello\x1b[2K\x1b[1Gsafe line\n\x9b31mred\u202e\ntag\U000e0041\n"
EVIL_NAME = "evil\u202etxt\x1b[2J.sh"

HOSTILE_TEXTS = {
    "track title": "Notes \x1b]0;PWNED\x07 \x1b[2J[bold red]track",
    "track description": "Clean up \x1b]52;c;cHduZWQ=\x07 the notes\u2028fake line",
    "ticket title": "Write notes \x9b2J[@click=app.quit]quit[/] \u202eevil",
    "ticket description": "Make notes.txt \x1b[1A\x1b[2Kand\u200b more",
    "worker text": "Running \x1b]0;title\x07 the tests",
    "command": TOUCH,
    "file content (diff)": CONTENT,
    "failing command output": NOISY,
    "QA hint": "System Hint: \x1b[2J the printf \u202e failed\x1b]52;c;ZXZpbA==\x07",
    "file name": EVIL_NAME,
    "summary": "done \x1b]52;c;ZXZpbA==\x07 [link=https://e.vil]click[/link]\u2028next",
}


def raw_controls(text: str) -> list[str]:
    """Characters a terminal could obey, by category: not the sanitiser's list."""
    return [
        ch for ch in text
        if (unicodedata.category(ch) == "Cc" and ch not in "\n\t")
        or unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Cs")
    ]


def _call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": tool, "arguments": arguments}


def hostile_scenario() -> dict[str, Any]:
    plan = {"tracks": [{"id": "notes", "title": HOSTILE_TEXTS["track title"],
                        "description": HOSTILE_TEXTS["track description"]}]}
    tickets = {"tickets": [{
        "id": "t1", "title": HOSTILE_TEXTS["ticket title"], "description": HOSTILE_TEXTS["ticket description"],
        "archetype": "implementer", "depends_on": [], "target_files": ["notes.txt"],
    }]}
    return {
        "planner": [{"text": json.dumps(plan)}],
        "lead": [{"text": json.dumps(tickets)}],
        "worker": {"t1": [
            {"text": HOSTILE_TEXTS["worker text"], "tool_calls": [_call("run_command", command=TOUCH, timeout_s=10)]},
            {"text": "", "tool_calls": [_call("write_file", path="notes.txt", content=CONTENT)]},
            {"text": "", "tool_calls": [_call("run_command", command=NOISY, timeout_s=10)]},
            {"text": "", "tool_calls": [_call("read_file", path=EVIL_NAME)]},
            {"text": "", "tool_calls": [_call("finish", summary=HOSTILE_TEXTS["summary"])]},
        ]},
        "default_cheap": {"t1": [{"text": HOSTILE_TEXTS["QA hint"]}]},
    }


def setup(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("notes\n")
    # The repository tightens one limit: the run must say so before anything runs.
    (repo / ".slop.toml").write_text("[run]\ncommand_timeout_s = 30\n")
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(hostile_scenario()))
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    models = "\n".join(f'{tier} = "scripted:{scenario}"' for tier in ("planner", "lead", "worker", "default_cheap"))
    (config_dir / "agents.toml").write_text(f"[models]\n{models}\n")
    return repo, config_dir


def slop(*args: str, config_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_AUTH_TOKEN"))}
    # FORCE_COLOR asks Rich to style even a pipe: the run's stdout must stay plain anyway.
    env.update(SLOP_CONFIG_DIR=str(config_dir), PYTHONPATH=str(PROJECT), FORCE_COLOR="1", COLUMNS="100")
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        input=stdin.encode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, timeout=120, env=env,
    )


def test_a_hostile_team_cannot_put_a_control_character_on_stdout(tmp_path: Path) -> None:
    repo, config_dir = setup(tmp_path)
    COUNTS.add("texts", len(HOSTILE_TEXTS))
    # Accept the plan, reject the touch, approve the write and the noisy command.
    run = slop("run", PROMPT, "--repo", str(repo), config_dir=config_dir, stdin="y\nr not that\na\na\n")
    out = run.stdout.decode("utf-8")
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 0, out + err
    assert "Traceback" not in out + err

    # The attack: approving what looks like pytest would have run `touch`. It was shown, and
    # rejected, so nothing ran.
    assert not (repo / "pwned").exists()
    assert f"$ {TOUCH_SHOWN}" in out
    # The written file is byte-exact; its diff and everything else are shown escaped.
    assert (repo / "notes.txt").read_bytes() == CONTENT.encode()
    assert "+hello\\x1b[2K\\x1b[1Gsafe line" in out and "\\x9b31mred<U+202E>" in out
    assert "[bold red]track" in out and "[link=https://e.vil]click[/link]" in out
    assert "<U+202E>" in out and "<U+2028>" in out
    override = out.index("repository override: .slop.toml: run.command_timeout_s")
    assert override < out.index(f": {PROMPT}") and "→ 30 (lowered)" in out

    status = slop("status", "--repo", str(repo), config_dir=config_dir)
    shown = status.stdout.decode("utf-8")
    assert status.returncode == 0, shown + status.stderr.decode()
    assert "Write notes \\x9b2J[@click=app.quit]quit[/] <U+202E>evil" in shown

    found = raw_controls(out) + raw_controls(shown)
    COUNTS.add("raw control characters", len(found))
    assert found == [], sorted({f"U+{ord(c):04X}" for c in found})
    assert b"\x1b" not in run.stdout + status.stdout and b"\xc2\x9b" not in run.stdout


def test_the_terminal_clutch_shows_a_long_command_whole_and_wrapped() -> None:
    command = TOUCH + " && " + " ".join(f"step{n:03d}" for n in range(120)) + " ; rm -rf ~/x\x1b[8mhidden"
    COUNTS.add("texts")
    stream = io.StringIO()
    clutch = TerminalClutch(stdin=io.StringIO(""), console=Console(file=stream, width=60, force_terminal=False))
    clutch.show(Proposal(id="p1", ticket_id="t1", tool="run_command", arguments=RunCommandArgs(command=command)))
    text = stream.getvalue()
    found = raw_controls(text)
    COUNTS.add("raw control characters", len(found))
    assert found == []
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    joined = "".join(line for line in lines if not line.startswith(("─", "in ", "network:", "unsandboxed")))
    expected = "$ " + command.replace("\x1b", "\\x1b")
    assert joined.replace(" ", "") == expected.replace(" ", "")
    assert "rm -rf ~/x\\x1b[8mhidden" in text.replace("\n", "") or "hidden" in lines[-2]


# -- the TUI ---------------------------------------------------------------------------------

MARKUP = "[@click=app.quit]quit[/] [link=https://e.vil]link[/link] [bold red]red"
LONG_COMMAND = TOUCH + " && " + " ".join(f"step{n:02d}" for n in range(45)) + " --token=" + "A" * 150 + " ; echo END-OF-COMMAND"


def hostile_events() -> list[AnyEvent]:
    """A run whose every text is hostile: the board, the log, the detail tabs all show it."""
    S = TicketState
    ticket = Ticket(
        id="t1", title=HOSTILE_TEXTS["ticket title"], description=HOSTILE_TEXTS["ticket description"],
        archetype=Archetype.IMPLEMENTER, target_files=["notes.txt", EVIL_NAME],
    )
    track = Track(id="notes", title=HOSTILE_TEXTS["track title"], description=HOSTILE_TEXTS["track description"],
                  tickets=[ticket])
    write = Proposal(id="p1", ticket_id="t1", tool="write_file", arguments=WriteFileArgs(path="notes.txt", content=CONTENT),
                     diff=unified_diff("notes.txt", "", CONTENT))
    raw: list[Any] = [
        RunStarted(run_id="run-1", prompt=PROMPT),
        PlanAccepted(tracks=[track]),
        TicketStateChanged(ticket_id="t1", old=S.TODO, new=S.IN_PROGRESS, track_id="notes", model="scripted:\x1b[2Jx"),
        ModelText(ticket_id="t1", tier=Tier.WORKER, text=HOSTILE_TEXTS["worker text"] + " " + MARKUP),
        ProposalMade(proposal=write),
        DecisionMade(proposal_id="p1", ticket_id="t1", decision=Approve()),
        FileChanged(ticket_id="t1", path=EVIL_NAME, preimage=None),
        ToolResult(ticket_id="t1", tool="run_command", ok=False, output="\x1b]52;c;cHduZWQ=\x07\x1b[2J"),
        HintGiven(ticket_id="t1", command=NOISY, exit_code=3, hint=HOSTILE_TEXTS["QA hint"],
                  raw_output="\x1b]52;c;cHduZWQ=\x07\x1b]0;PWNED\x07\x1b[2J\x9bH boom\u2028fake\n"),
        ErrorRaised(ticket_id="t1", message="model said " + MARKUP + " \x1b[2K"),
        TicketStateChanged(ticket_id="t1", old=S.IN_PROGRESS, new=S.BLOCKED, track_id="notes",
                           reason=HOSTILE_TEXTS["summary"]),
    ]
    for seq, event in enumerate(raw, start=1):
        event.seq = seq
        event.at = 0.0
    return raw


def checked(text: str) -> str:
    found = raw_controls(text)
    COUNTS.add("raw control characters", len(found))
    assert found == [], sorted({f"U+{ord(c):04X}" for c in found})
    return text


def squeezed(text: str) -> str:
    """The frame's characters without borders, scrollbars, spaces and the diff's wrap mark:
    wrapped lines joined."""
    from slop_tui.ui.diff_render import WRAP_MARK

    return "".join(ch for ch in text if not ch.isspace() and ch not in "│┃▌▐▊▎▔▁▏▕━─╸╺█▀▄" + WRAP_MARK)


async def test_the_tui_shows_hostile_texts_escaped_and_markup_literally() -> None:
    COUNTS.add("texts", len(HOSTILE_TEXTS) + 2)
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=hostile_events())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("s")  # the raw stderr under the hint
        await pilot.pause()
        board = checked(screen_text(app))
        assert "\\x1b]0;PWNED\\x07" in board and "<U+202E>evil" in board
        assert "\\x1b]52;c;cHduZWQ=\\x07" in board and "<U+2028>fake" in board
        assert "[@click=app.quit]quit[/]" in board

        await pilot.press("down", "enter")
        await pilot.pause()
        for tab in ("1", "2", "3", "4"):
            await pilot.press(tab)
            await pilot.pause()
            shown = checked(screen_text(app))
            if tab == "2":
                assert squeezed(MARKUP) in squeezed(shown) and "\\x1b]0;title\\x07" in shown
            if tab == "4":
                assert "+hello\\x1b[2K\\x1b[1Gsafe" in shown and "<U+E0041>" in shown
        await pilot.press("escape")
        await pilot.pause()

        # A toast quoting model text: shown literally, and clicking its "link" does nothing.
        app.notify("model said " + MARKUP + " \x1b]52;c;ZXZpbA==\x07")
        await pilot.pause(0.3)
        frame = checked(screen_text(app))
        toast = "\n".join(line.partition("▌ ")[2] for line in frame.splitlines() if "▌ " in line)
        assert squeezed("model said " + MARKUP + " \\x1b]52;c;ZXZpbA==\\x07") in squeezed(toast)
        y = next(n for n, line in enumerate(frame.splitlines()) if "▌ model said [@click" in line)
        x = frame.splitlines()[y].rindex("[@click=app.quit]") + 18
        await pilot.click(offset=(x, y))
        await pilot.pause()
        assert app.is_running and app.return_code is None


async def test_the_tui_clutch_shows_a_long_hostile_command_whole() -> None:
    COUNTS.add("texts")
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=hostile_events())
    proposal = Proposal(id="p2", ticket_id="t1", tool="run_command", arguments=RunCommandArgs(command=LONG_COMMAND))
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ClutchScreen(proposal))
        await pilot.pause()
        frame = checked(screen_text(app))
        assert "touch pwned # \\x1b[2K\\x1b[1G$" in frame
        # Every character of the command is on the screen, wrapped, none cut off at the edge.
        assert squeezed(LONG_COMMAND.replace("\x1b", "\\x1b")) in squeezed(frame)
        assert "END-OF-COMMAND" in frame

        # The JSON editor holds the escape as JSON (`\u001b`), the same payload, never the byte.
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen.query_one("#edit-json", TextArea)
        assert "\x1b" not in editor.text and "\\u001b[2K" in editor.text
        checked(screen_text(app))
        await pilot.press("ctrl+s")
        await pilot.pause()

        # A diff line longer than the screen wraps: its end is on the screen too.
        line = "x = '" + "B" * 120 + "\x1b[8m' + 'END-OF-LINE'\n"
        write = Proposal(id="p3", ticket_id="t1", tool="write_file", arguments=WriteFileArgs(path="a.py", content=line),
                         diff=unified_diff("a.py", "", line))
        app.push_screen(ClutchScreen(write))
        await pilot.pause()
        frame = checked(screen_text(app))
        assert squeezed("+" + line.replace("\x1b", "\\x1b")) in squeezed(frame) and "END-OF-LINE" in squeezed(frame)
    assert app.return_value is None


async def test_the_tui_plan_review_shows_markup_literally() -> None:
    COUNTS.add("texts")
    ticket = Ticket(id="t1", title="Write " + MARKUP + " \x1b[2K", description="desc \x1b]52;c;eA==\x07",
                    target_files=[EVIL_NAME])
    tracks = [Track(id="notes", title=HOSTILE_TEXTS["track title"], description="d", tickets=[ticket])]
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(120, 30)) as pilot:
        app.push_screen(PlanReviewScreen(tracks))
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        frame = checked(screen_text(app))
        assert "[@click=app.quit]quit[/]" in frame and "[bold red]red" in frame
        assert "evil<U+202E>txt\\x1b[2J.sh" in frame and "\\x1b]52;c;eA==\\x07" in frame
        y = next(n for n, line in enumerate(frame.splitlines()) if "[@click=app.quit]" in line)
        x = frame.splitlines()[y].index("[@click=app.quit]") + 18
        await pilot.click(offset=(x, y))
        await pilot.pause()
        assert app.is_running and app.return_code is None
