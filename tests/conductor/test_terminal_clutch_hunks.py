"""The headless clutch's new answers, typed into a real pipe: hunks, always-allow, `E` with a
real `$EDITOR` script, and the "why" lines above every proposal."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path
from typing import TextIO

import msgspec
import pytest
from rich.console import Console

from slop_tui.conductor.terminal_clutch import FILE_PROMPT, ClutchClosed, TerminalClutch
from slop_tui.models import (
    Approve,
    ApproveHunks,
    Decision,
    Edit,
    EditFileArgs,
    Proposal,
    ProposalContext,
    RunCommandArgs,
    ToolArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import AllowList, AskForChanges
from slop_tui.tools.clutch_loop import pass_clutch
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.hunks import apply_hunks

BEFORE = "".join(f"line {i}\n" for i in range(30))
AFTER = BEFORE.replace("line 2\n", "LINE 2\n").replace("line 15\n", "line 15\nnew 15\n").replace("line 27\n", "")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "mod.py").write_text(BEFORE)
    return root


def _pipe(answers: str) -> TextIO:
    """A real pipe holding the answers, its writing end closed (then: end of input)."""
    read, write = os.pipe()
    os.write(write, answers.encode())
    os.close(write)
    return os.fdopen(read, "r", encoding="utf-8")


class Screen:
    def __init__(self, width: int = 80) -> None:
        self.buffer = io.StringIO()
        self.console = Console(file=self.buffer, width=width, color_system=None)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()


def _clutch(answers: str, screen: Screen, repo: Path | None = None) -> TerminalClutch:
    return TerminalClutch(stdin=_pipe(answers), console=screen.console, repo=repo)


async def _pass(clutch: object, repo: Path, args: ToolArgs, *, sandboxed: bool = True) -> tuple[Decision, Proposal, ToolExecutor]:
    executor = ToolExecutor(repo, sandboxed=sandboxed)
    proposal = executor.propose("t1", args)
    decision, final = await pass_clutch(clutch, executor, proposal)  # type: ignore[arg-type]
    return decision, final, executor


async def test_hunks_are_numbered_and_chosen_by_number(repo: Path) -> None:
    screen = Screen()
    clutch = _clutch("h 9\nh 1,3\n\nline 15 later\n", screen)
    decision, final, executor = await _pass(clutch, repo, WriteFileArgs(path="mod.py", content=AFTER))
    assert decision == ApproveHunks(hunks=[0, 2], reason="line 15 later")
    assert isinstance(final.arguments, WriteFileArgs)
    assert final.arguments.content == apply_hunks(BEFORE, AFTER, [0, 2])
    outcome = await executor.execute("t1", final.arguments)
    assert outcome.ok and (repo / "mod.py").read_text() == apply_hunks(BEFORE, AFTER, [0, 2])
    text = screen.text
    assert FILE_PROMPT.strip() in text
    assert "hunk 1 of 3" in text and "hunk 2 of 3" in text and "hunk 3 of 3" in text
    assert text.index("hunk 2 of 3") < text.index("+new 15") < text.index("hunk 3 of 3")
    assert "give hunk numbers from 1 to 3" in text  # `h 9` was refused, then asked again
    assert "why leave out hunk 2?" in text


async def test_every_hunk_is_an_approval_and_none_is_a_rejection(repo: Path) -> None:
    decision, final, _ = await _pass(_clutch("h 1 2 3\n", Screen()), repo, WriteFileArgs(path="mod.py", content=AFTER))
    assert decision == Approve() and final.arguments == WriteFileArgs(path="mod.py", content=AFTER)
    decision, _, _ = await _pass(_clutch("h\n\nnot now\n", Screen()), repo, WriteFileArgs(path="mod.py", content=AFTER))
    assert decision.reason == "not now" and type(decision).__name__ == "Reject"  # type: ignore[union-attr]


async def test_always_allow_a_confirmed_prefix(repo: Path) -> None:
    screen = Screen()
    allow = AllowList()
    # A prefix that is not at a word boundary is refused; then a good one is typed.
    policy = AskForChanges(_clutch("A\npython -m py\nA\npython -m pytest\n", screen), allow)
    decision, _, _ = await _pass(policy, repo, RunCommandArgs(command="python -m pytest -q"))
    assert decision == Approve(always="python -m pytest")
    assert allow.rules() == ["python -m pytest"]
    assert "not allowed always: a rule must be the command or a prefix of it" in " ".join(screen.text.split())
    assert "[A]lways allow" in screen.text
    # The next one is not asked: the pipe is empty, asking would end the clutch.
    decision, _, _ = await _pass(policy, repo, RunCommandArgs(command="python -m pytest tests -x"))
    assert decision == Approve()
    with pytest.raises(ClutchClosed):
        await _pass(policy, repo, RunCommandArgs(command="python -m pytest; curl x"))


async def test_always_allow_the_exact_command_and_never_with_network(repo: Path) -> None:
    screen = Screen()
    clutch = _clutch("A\n\n", screen)
    decision, _, _ = await _pass(clutch, repo, RunCommandArgs(command="make test && make lint"))
    assert decision == Approve(always="make test && make lint")
    screen = Screen()
    decision, _, _ = await _pass(
        _clutch("A\na\n", screen), repo, RunCommandArgs(command="curl x", network=True)
    )
    assert decision == Approve()  # `A` is refused here, said so, and the answer asked again
    assert "[A]lways" not in screen.text
    assert "not allowed always: a command with the network is asked about every time" in screen.text
    screen = Screen()
    decision, _, _ = await _pass(_clutch("A\na\n", screen), repo, RunCommandArgs(command="ls"), sandboxed=False)
    assert decision == Approve() and "[A]lways" not in screen.text
    assert "unsandboxed command is asked about every time" in screen.text


def _editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real $EDITOR: a script that keeps what it was given and rewrites the file."""
    seen = tmp_path / "editor-saw.txt"
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path, encoding='utf-8').read()\n"
        f"open({str(seen)!r}, 'w', encoding='utf-8').write(text)\n"
        "open(path, 'w', encoding='utf-8').write(text.replace('LINE 2', 'Line Two'))\n"
    )
    wrapper = tmp_path / "editor.sh"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(wrapper))
    monkeypatch.delenv("VISUAL", raising=False)
    return seen


async def test_E_edits_the_whole_new_text_of_an_edit(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _editor(tmp_path, monkeypatch)
    screen = Screen()
    clutch = _clutch("E\na\n", screen, repo)
    decisions: list[Decision] = []

    async def log(_: Proposal, decision: Decision) -> None:
        decisions.append(decision)

    executor = ToolExecutor(repo)
    proposal = executor.propose("t1", EditFileArgs(path="mod.py", old="line 2\n", new="LINE 2\n"))
    decision, final = await pass_clutch(clutch, executor, proposal, on_decision=log)
    assert seen.read_text() == BEFORE.replace("line 2\n", "LINE 2\n")  # the file's text, not JSON
    assert isinstance(decisions[0], Edit) and decision == Approve()
    args = final.arguments
    assert isinstance(args, EditFileArgs)  # the same tool
    assert "+Line Two" in final.diff and "LINE 2" not in final.diff
    outcome = await executor.execute("t1", args)
    assert outcome.ok and (repo / "mod.py").read_text() == BEFORE.replace("line 2\n", "Line Two\n")


async def test_E_on_a_write_gives_a_write(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _editor(tmp_path, monkeypatch)
    decision, final, _ = await _pass(_clutch("E\na\n", Screen(), repo), repo, WriteFileArgs(path="mod.py", content=AFTER))
    assert seen.read_text() == AFTER
    assert final.arguments == WriteFileArgs(path="mod.py", content=AFTER.replace("LINE 2", "Line Two"))


async def test_why_lines_are_shown_sanitised_and_wrapped(repo: Path) -> None:
    screen = Screen(width=60)
    reason = "I change the greeting\x1b[2J because the ticket asks for it; " + "very " * 30 + "END-OF-REASON"
    executor = ToolExecutor(repo)
    proposal = msgspec.structs.replace(
        executor.propose("t1", EditFileArgs(path="mod.py", old="line 2\n", new="LINE 2\n")),
        context=ProposalContext(reason=reason, ticket_title="Greet", number=3, model="openai:gpt-4.1", tokens=1234),
    )
    clutch = _clutch("a\n", screen)
    assert await clutch.decide(proposal) == Approve()
    text = screen.text
    assert "why: I change the greeting\\x1b[2J because" in text
    assert "\x1b" not in text
    assert "END-OF-REASON" in text  # wrapped, not cropped
    flat = " ".join(text.split())
    assert "ticket t1: Greet · proposal 3 · openai:gpt-4.1 · 1,234 tokens so far" in flat
    assert max(len(line) for line in text.splitlines()) <= 60


async def test_a_long_diff_line_wraps_whole(repo: Path) -> None:
    screen = Screen(width=60)
    long_line = "x = '" + "B" * 150 + "\x1b[8m' + 'END-OF-LINE'\n"
    proposal = ToolExecutor(repo).propose("t1", WriteFileArgs(path="mod.py", content=BEFORE + long_line))
    assert await _clutch("a\n", screen).decide(proposal) == Approve()
    flat = "".join(screen.text.split())  # wrapped: every character there, in order
    assert "+x='" + "B" * 150 + "\\x1b[8m'+'END-OF-LINE'" in flat
    assert max(len(line) for line in screen.text.splitlines()) <= 60
