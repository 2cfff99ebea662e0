"""Edited payloads: generated bad clutch edits are refused with the validation error, the
proposal stays pending, and nothing is applied.

Three ways in, as a person would come:
- the text a human typed, through `tools.clutch.parse_edited_arguments` (what the TUI's editor
  and the terminal clutch call): `EditRefused` with a one-line message naming the tool, the
  field (JSON path) and the problem;
- an `Edit` decision carrying typed arguments that fail the checks (another tool, a path out of
  the repository or into `.git/`, a bad timeout...), through `tools.clutch_loop.pass_clutch` with a
  scripted clutch: the clutch is asked again about the *same* proposal (same id, same arguments)
  with "edit refused: ..." shown, and the final answer is about that original proposal;
- a sample through the real `TerminalClutch`, its `$EDITOR` writing the bad text.

After every case the repository and the folder beside it are byte-for-byte unchanged.
"""

from __future__ import annotations

import asyncio
import io
import json
import shlex
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from slop_tui.conductor.terminal_clutch import TerminalClutch
from slop_tui.models import (
    TOOL_ARGS,
    Approve,
    Decision,
    EditFileArgs,
    FinishArgs,
    ListFilesArgs,
    Proposal,
    ReadFileArgs,
    Reject,
    RunCommandArgs,
    ToolArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import EditRefused, editable_json, make_edit, parse_edited_arguments
from slop_tui.tools.clutch_loop import pass_clutch
from slop_tui.tools.executor import ToolExecutor
from tests.reliability.counts import tally
from tests.reliability.helpers import HostileLayout, fingerprint, generated, hostile_repo, one_line

EXAMPLES_PER_KIND = 9
COUNTS = tally(
    "edited payloads",
    "cases",
    "refused with the validation error",
    "still pending",
    "applied",
    "through the terminal clutch",
)

ORIGINALS: dict[str, ToolArgs] = {
    "write_file": WriteFileArgs(path="src/new.py", content="x = 1\n"),
    "edit_file": EditFileArgs(path="src/ok.py", old="return 1", new="return 2"),
    "run_command": RunCommandArgs(command="echo hi", timeout_s=5),
    "read_file": ReadFileArgs(path="README.md"),
    "list_files": ListFilesArgs(path="src"),
    "finish": FinishArgs(summary="done"),
}
PATH_TOOLS = ["write_file", "edit_file", "read_file", "list_files"]
WRITE_TOOLS = ["write_file", "edit_file"]
REQUIRED = {
    "write_file": ["path", "content"],
    "edit_file": ["path", "old", "new"],
    "run_command": ["command"],
    "read_file": ["path"],
    "finish": ["summary"],
}
FIELD_TYPES = {
    "path": "str", "content": "str", "old": "str", "new": "str", "command": "str",
    "summary": "str", "view": "str", "timeout_s": "float",
}


@pytest.fixture(scope="module")
def layout() -> Iterator[HostileLayout]:
    with tempfile.TemporaryDirectory() as tmp:
        built = hostile_repo(Path(tmp))
        yield built
        built.close()


@dataclass
class BadEdit:
    kind: str
    tool: str
    text: str  # what the human typed
    fragments: list[str]
    typed: ToolArgs | None = None  # the same edit as typed arguments, when it decodes as one
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 200 else f"{self.text[:150]}…<{len(self.text)} chars>"
        return f"BadEdit({self.kind!r}, {self.tool!r}, {shown!r})"


def _arguments(tool: str) -> dict[str, Any]:
    data = msgspec.to_builtins(ORIGINALS[tool])
    data.pop("tool", None)
    return dict(data)


def _typed(tool: str, data: dict[str, Any]) -> ToolArgs:
    """The payload as the tool's Struct, skipping the checks `parse_edited_arguments` adds."""
    return msgspec.convert(data, type=TOOL_ARGS[tool])


@st.composite
def bad_edits(draw: st.DrawFn, kind: str) -> BadEdit:
    if kind == "not json":
        tool = draw(st.sampled_from(sorted(ORIGINALS)))
        good = editable_json(ORIGINALS[tool])
        text = draw(
            st.sampled_from(
                [
                    good[: draw(st.integers(1, len(good) - 3))],
                    good.rstrip() + " trailing",
                    good.replace('"', "'"),
                    "",
                    "// a comment\n" + good,
                    good.rstrip().rstrip("}") + ', "timeout_s": NaN}',
                    good.rstrip().rstrip("}") + ',}',
                ]
            )
        )
        return BadEdit(kind, tool, text, ["not valid JSON"])
    if kind == "not an object":
        tool = draw(st.sampled_from(sorted(ORIGINALS)))
        value = draw(st.sampled_from([[], [_arguments(tool)], "path", 7, None, True]))
        return BadEdit(kind, tool, json.dumps(value), ["must be a JSON object"])
    if kind == "wrong type":
        tool = draw(st.sampled_from(sorted(ORIGINALS)))
        data = _arguments(tool)
        name = draw(st.sampled_from(sorted(data)))
        if FIELD_TYPES[name] == "str":
            wrong = draw(st.sampled_from([1, 2.5, True, None, ["x"], {"a": "b"}]))
        else:
            wrong = draw(st.sampled_from(["5", True, None, [5], {"s": 5}]))
        data[name] = wrong
        return BadEdit(kind, tool, json.dumps(data), ["arguments are invalid", f"`$.{name}`"])
    if kind == "missing field":
        tool = draw(st.sampled_from(sorted(REQUIRED)))
        data = _arguments(tool)
        name = draw(st.sampled_from(REQUIRED[tool]))
        del data[name]
        return BadEdit(kind, tool, json.dumps(data), [f"missing required field `{name}`"])
    if kind == "unknown field":
        tool = draw(st.sampled_from(sorted(ORIGINALS)))
        data = _arguments(tool)
        name = draw(
            st.sampled_from(["cwd", "env", "mode", "sudo", "Path", "x" * draw(st.integers(5_000, 50_000))])
        )
        data[name] = draw(st.sampled_from([1, "x", None, []]))
        return BadEdit(kind, tool, json.dumps(data), ["unknown field `"])
    if kind == "other tool":
        tool = draw(st.sampled_from(sorted(ORIGINALS)))
        other = draw(st.sampled_from([t for t in sorted(TOOL_ARGS) if t != tool] + ["rm_rf", ""]))
        data = {"tool": other, **_arguments(tool)}
        typed = ORIGINALS[other] if other in ORIGINALS else None
        return BadEdit(kind, tool, json.dumps(data), ["an edit keeps the tool"], typed=typed)
    if kind == "path escape":
        tool = draw(st.sampled_from(PATH_TOOLS))
        path = draw(
            st.sampled_from(
                ["../outside/secret.txt", "src/../../x", "/etc/passwd", "~/.ssh/id_rsa", "~",
                 "a\x00b", "..\\outside", "C:\\x", "C:/x", "src/ok.py\n", "",
                 "d/" * 2100 + "x", "n" * 300, "\udcff"]
            )
        )
        data = {**_arguments(tool), "path": path}
        text = json.dumps(data)
        typed = _typed(tool, data)
        if path == "\udcff":  # a lone surrogate: JSON text that does not decode at all
            return BadEdit(kind, tool, text, ["not valid JSON"], typed=typed)
        return BadEdit(kind, tool, text, ["arguments are invalid", "refused"], typed=typed)
    if kind == "protected":
        tool = draw(st.sampled_from(WRITE_TOOLS))
        path = draw(
            st.sampled_from([".git/config", ".git/hooks/pre-commit", ".slop/state.json",
                             "./.git/HEAD", ".slop/events.jsonl", ".slop"])
        )
        data = {**_arguments(tool), "path": path}
        return BadEdit(
            kind, tool, json.dumps(data), ["is never written by the file tools"],
            typed=_typed(tool, data),
        )
    if kind == "bad timeout":
        value = draw(st.sampled_from(["0", "-1", "-0.0", "-1e9", "1e400", "-1e400"]))
        text = f'{{"command": "echo hi", "timeout_s": {value}}}'
        if "400" in value:
            return BadEdit(kind, "run_command", text, ["not valid JSON", "out of range"])
        typed = RunCommandArgs(command="echo hi", timeout_s=float(value))
        return BadEdit(kind, "run_command", text, ["timeout_s must be a positive number"], typed=typed)
    if kind == "empty command":
        command = draw(st.text(alphabet=" \t\n\r\x0b\x0c", max_size=12))
        text = json.dumps({"command": command, "timeout_s": 5})
        return BadEdit(kind, "run_command", text, ["the command is empty"],
                       typed=RunCommandArgs(command=command, timeout_s=5))
    if kind == "empty old":
        text = json.dumps({"path": "src/ok.py", "old": "", "new": draw(st.text(max_size=5))})
        typed = msgspec.json.decode(text, type=EditFileArgs)
        return BadEdit(kind, "edit_file", text, ["`old` is empty"], typed=typed)
    if kind == "huge":
        # A pasted megabyte: every refusal stays one bounded line.
        blob = draw(st.sampled_from("xyz")) * draw(st.integers(20_000, 200_000))
        which = draw(st.sampled_from(["key", "view", "tool", "path", "archetype"]))
        if which == "key":
            return BadEdit(kind, "read_file", json.dumps({"path": "README.md", blob: 1}),
                           ["unknown field `"])
        if which == "view":
            return BadEdit(kind, "read_file", json.dumps({"path": "README.md", "view": blob}),
                           ["`$.view`"])
        if which == "tool":
            return BadEdit(kind, "write_file", json.dumps({"tool": blob, "path": "a", "content": ""}),
                           ["keeps the tool"])
        if which == "path":
            data = {"path": blob, "content": ""}
            return BadEdit(kind, "write_file", json.dumps(data), ["refused", "longer than"],
                           typed=_typed("write_file", data))
        return BadEdit(kind, "finish", json.dumps({"summary": "done", "archetype": blob}),
                       ["unknown field `"])
    assert kind == "bad view"
    view = draw(st.sampled_from(["full", "RAW", "", "skeleton ", "x" * 20_000]))
    return BadEdit(kind, "read_file", json.dumps({"path": "README.md", "view": view}), ["`$.view`"])


KINDS = [
    "not json", "not an object", "wrong type", "missing field", "unknown field", "other tool",
    "path escape", "protected", "bad timeout", "empty command", "empty old", "bad view", "huge",
]


class ScriptedClutch:
    """Answers from a list; records every proposal it was shown."""

    def __init__(self, answers: list[Decision]) -> None:
        self.answers = list(answers)
        self.shown: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.shown.append(proposal)
        return self.answers.pop(0)


def check_refusal(message: str, bad: BadEdit) -> None:
    assert one_line(message), f"{bad.kind}: not one bounded line ({len(message)} chars)"
    assert message.startswith("edited ") and bad.tool in message, message
    for fragment in bad.fragments:
        assert fragment in message, f"{bad.kind}: {fragment!r} not in {message!r}"


async def through_pass_clutch(executor: ToolExecutor, bad: BadEdit, typed: ToolArgs) -> str:
    """Send `typed` as an `Edit`; return the refusal the clutch was shown."""
    original = executor.propose("t1", ORIGINALS[bad.tool])
    clutch = ScriptedClutch([make_edit(typed), Approve()])
    decision, final = await pass_clutch(clutch, executor, original)
    # Asked again about the same proposal, told why the edit was refused.
    assert len(clutch.shown) == 2
    again = clutch.shown[1]
    assert again.id == original.id and again.arguments == original.arguments
    assert again.error is not None and again.error.startswith("edit refused: "), again.error
    assert one_line(again.error), again.error
    # The approval is of the original, pending proposal, not of the refused edit.
    assert isinstance(decision, Approve)
    assert final == original
    return again.error


def check_case(layout: HostileLayout, bad: BadEdit) -> None:
    COUNTS.add("cases")
    before = fingerprint(layout)
    proposal = ToolExecutor(layout.repo).propose("t1", ORIGINALS[bad.tool])
    with pytest.raises(EditRefused) as refused:
        parse_edited_arguments(proposal, bad.text)
    check_refusal(str(refused.value), bad)
    COUNTS.add("refused with the validation error")
    if bad.typed is not None:
        asyncio.run(through_pass_clutch(ToolExecutor(layout.repo), bad, bad.typed))
    COUNTS.add("still pending")
    if fingerprint(layout) != before:
        COUNTS.add("applied")
        raise AssertionError(f"{bad.kind}: a refused edit changed the files")


@pytest.mark.parametrize("kind", KINDS)
def test_bad_edits_are_refused_and_the_proposal_stays_pending(layout: HostileLayout, kind: str) -> None:
    before = COUNTS["cases"]

    @generated(EXAMPLES_PER_KIND)
    @given(bad=bad_edits(kind))
    def case(bad: BadEdit) -> None:
        check_case(layout, bad)

    case()
    assert COUNTS["cases"] - before >= 5
    assert COUNTS["applied"] == 0


# Edits that only the file system can refuse: lexically fine paths that lead out of the
# repository, into tool state through a symlink, or onto something that is not a file.
FS_REFUSALS: list[tuple[str, str, str]] = [
    (tool, path, why)
    for tool in PATH_TOOLS
    for path, why in [
        ("link_out/secret.txt", "outside the repository"),
        ("link_secret", "outside the repository"),
        ("link_abs", "outside the repository"),
        ("abs_link_dir/secret.txt", "outside the repository"),
        ("sub/link_parent/secret.txt", "outside the repository"),
        ("sub/link_up/outside/secret.txt", "outside the repository"),
        ("dangling_out", "outside the repository"),
        ("loop", "symlink loop"),
    ]
] + [
    (tool, path, why)
    for tool in WRITE_TOOLS
    for path, why in [
        ("gitlink/config", "never written"),
        ("sloplink/state.json", "never written"),
        ("gitlink/hooks/pre-commit", "never written"),
        (".GIT/config", "never written"),
        (".git. /config", "never written"),
        ("GIT~1/config", "never written"),
        (".git::$INDEX_ALLOCATION/config", "never written"),
        ("sub/embedded/.git/config", "never written"),
        ("src/.Slop/x", "never written"),
        ("fifo", "not a regular file"),
        ("socket", "not a regular file"),
        ("src", "directory"),
        ("dev_null", "outside the repository"),
    ]
]


@pytest.mark.parametrize(("tool", "path", "why"), FS_REFUSALS)
async def test_edits_the_file_system_refuses_leave_the_proposal_pending(
    layout: HostileLayout, tool: str, path: str, why: str
) -> None:
    COUNTS.add("cases")
    before = fingerprint(layout)
    typed = _typed(tool, {**_arguments(tool), "path": path})
    executor = ToolExecutor(layout.repo)
    refusal = await through_pass_clutch(executor, BadEdit("file system", tool, "", [why]), typed)
    assert why in refusal and repr(path) in refusal, refusal
    COUNTS.add("refused with the validation error")
    COUNTS.add("still pending")
    assert fingerprint(layout) == before


async def test_an_edit_over_the_write_limit_leaves_the_proposal_pending(layout: HostileLayout) -> None:
    COUNTS.add("cases")
    before = fingerprint(layout)
    executor = ToolExecutor(layout.repo, max_write_bytes=1000)
    typed = _typed("write_file", {**_arguments("write_file"), "content": "x" * 1001})
    refusal = await through_pass_clutch(executor, BadEdit("too large", "write_file", "", []), typed)
    assert "write_file refused: 1,001 bytes is more than the 1,000-byte limit" in refusal, refusal
    COUNTS.add("refused with the validation error")
    COUNTS.add("still pending")
    assert fingerprint(layout) == before


TERMINAL_SAMPLE = [
    ("write_file", '{"path": "../outside/x", "content": "x"}', "'..' is not allowed"),
    ("write_file", '{"path": ".git/config", "content": "x"}', "never written"),
    ("write_file", '{"path": "vendor/lib/.GIT/config", "content": "x"}', "never written"),
    ("write_file", '{"path": "evil\\u202etxt.sh", "content": "x"}', "<U+202E>"),
    ("write_file", '{"path": "src/new.py", "content": 5}', "`$.content`"),
    ("edit_file", '{"path": "src/ok.py", "old": "", "new": "y"}', "`old` is empty"),
    ("run_command", '{"command": "echo hi", "timeout_s": -1}', "positive number"),
    ("run_command", '{"command": "  ", "timeout_s": 5}', "command is empty"),
    ("run_command", '{"command": "echo hi", "sudo": true}', "unknown field `sudo`"),
    ("read_file", '{"path": "/etc/passwd"}', "absolute paths"),
    ("list_files", '{"tool": "run_command", "command": "rm -rf /"}', "keeps the tool"),
    ("finish", '["done"]', "must be a JSON object"),
    ("finish", '{"summary": "done"', "not valid JSON"),
]


@pytest.mark.parametrize(("tool", "text", "fragment"), TERMINAL_SAMPLE)
async def test_the_terminal_clutch_refuses_a_bad_edit_and_asks_again(
    layout: HostileLayout, tool: str, text: str, fragment: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    COUNTS.add("cases")
    before = fingerprint(layout)
    edited = tmp_path / "edited.json"
    edited.write_text(text)
    # The "editor" copies the bad text over the file it is given.
    monkeypatch.setenv("EDITOR", f"cp {shlex.quote(str(edited))}")
    monkeypatch.delenv("VISUAL", raising=False)
    out = io.StringIO()
    clutch = TerminalClutch(
        stdin=io.StringIO("e\nr not like this\n"),
        console=Console(file=out, width=120, color_system=None),
    )
    executor = ToolExecutor(layout.repo)
    original = executor.propose("t1", ORIGINALS[tool])
    decision, final = await pass_clutch(clutch, executor, original)
    shown = out.getvalue()
    assert "edit refused: " in shown and fragment in shown, shown
    assert "nothing was applied" in shown
    assert isinstance(decision, Reject) and final == original
    assert fingerprint(layout) == before
    COUNTS.add("refused with the validation error")
    COUNTS.add("still pending")
    COUNTS.add("through the terminal clutch")
