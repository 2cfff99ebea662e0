"""Path escapes: every file tool, and every edited payload, stays inside the repository.

The repository sits beside an `outside/` folder and holds every trap: `..`, absolute paths,
symlinks out (relative, absolute, dangling, through a parent folder), `~`, NUL bytes, Windows
separators and drive letters, names and paths over the kernel's limits, FIFOs, a socket, device
nodes, symlink loops, and symlinks into `.git/` and `.slop/`. Each path goes

- straight to each file tool (`read_file`, `list_files`, `write_file`, `edit_file`) through
  `ToolExecutor.execute`: a refused tool result (ok=False), never an exception;
- into an edited payload for each of those tools, through `parse_edited_arguments` and
  `pass_clutch`: refused, the proposal still pending.

After each attempt the repository and `outside/` are unchanged and no byte of `outside/` was
returned. Generated paths (hypothesis) built from the same pieces check the general rule: a
path is either refused, or it resolves inside the repository (and a write to it is undone).
A symlink swapped in between a proposal and its approval is refused at execution.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slop_tui.models import (
    Approve,
    Decision,
    EditFileArgs,
    ListFilesArgs,
    Proposal,
    ReadFileArgs,
    ToolArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import EditRefused, make_edit, parse_edited_arguments
from slop_tui.tools.clutch_loop import pass_clutch
from slop_tui.tools.executor import ToolExecutor
from tests.reliability.counts import tally
from tests.reliability.helpers import HostileLayout, fingerprint, generated, hostile_repo

COUNTS = tally("path escapes", "attempts", "through file tools", "through edited payloads", "escapes")
SECRET = "outside secret"  # the content of outside/secret.txt
TOOLS = ("read_file", "list_files", "write_file", "edit_file")


def args_for(tool: str, path: str) -> ToolArgs:
    if tool == "read_file":
        return ReadFileArgs(path=path)
    if tool == "list_files":
        return ListFilesArgs(path=path)
    if tool == "write_file":
        return WriteFileArgs(path=path, content="pwned\n")
    return EditFileArgs(path=path, old="outside", new="pwned")


def _devices(repo: Path) -> list[str]:
    """Character devices inside the repository, where this machine lets us make them."""
    made = []
    for name, minor in (("null_dev", 3), ("zero_dev", 5)):
        try:
            os.mknod(repo / name, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        except (PermissionError, OSError):
            continue
        made.append(name)
    return made


class Traps:
    def __init__(self, base: Path) -> None:
        self.layout = hostile_repo(base)
        repo = self.layout.repo
        self.devices = _devices(repo)
        # A folder whose parent is a symlink out, and a symlink chain that ends outside.
        os.symlink("link_out", repo / "chain1")
        os.symlink("chain1/deeper", repo / "chain2")
        # An embedded repository: its .git/config's fsmonitor runs on the parent's `git status`.
        (repo / "sub" / "vendored" / ".git").mkdir(parents=True)
        (repo / "sub" / "vendored" / ".git" / "config").write_text("[core]\n")
        self.paths = self.layout.escape_paths() + [
            "chain1/secret.txt",
            "chain2/new.txt",
            "gitlink/config",
            "sloplink/state.json",
            ".git/config",
            ".slop/state.json",
            "./.git/hooks/pre-commit",
            "sub/vendored/.git/config",
            "sub/vendored/.git/hooks/post-checkout",
            # .git and .slop as case-insensitive, Windows and macOS file systems see them.
            ".GIT/config",
            ".git./config",
            ".git /hooks/pre-commit",
            "GIT~1/config",
            ".git::$INDEX_ALLOCATION/config",
            "sub/vendored/.Git/config",
            ".Slop/state.json",
            "SLOP~1/state.json",
            # Names a person would misread at the clutch, refused for every tool.
            "evil\u202etxt.sh",
            "line\u2028break.py",
            "c1\x9bcsi.py",
            ".g\u200cit/config",
            *self.devices,
        ]

    def refused_for(self, tool: str, path: str) -> bool:
        """`.git/` and `.slop/` (at any depth, in any spelling) may be read and listed (the
        worker reads history); they are never written."""
        protected = {".git", ".slop", "gitlink", "sloplink", ".GIT", ".git.", ".git ", "GIT~1",
                     ".git::$INDEX_ALLOCATION", ".Git", ".Slop", "SLOP~1"}
        hidden = any(part in protected for part in PurePosixPath(path).parts)
        return not (hidden and tool in ("read_file", "list_files"))


@pytest.fixture(scope="module")
def traps() -> Iterator[Traps]:
    with tempfile.TemporaryDirectory() as tmp:
        built = Traps(Path(tmp))
        yield built
        built.layout.close()


def test_the_trap_list_is_long_enough(traps: Traps) -> None:
    assert len(traps.paths) >= 55


class ApproveAfterRefusal:
    """A clutch that sends one edit, then approves whatever it is shown next."""

    def __init__(self, edit: ToolArgs) -> None:
        self.edit = edit
        self.shown: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.shown.append(proposal)
        return make_edit(self.edit) if len(self.shown) == 1 else Approve()


def escaped(before: dict[str, str], layout: HostileLayout, output: str = "") -> bool:
    return fingerprint(layout) != before or SECRET in output


@pytest.mark.parametrize("tool", TOOLS)
async def test_every_trap_through_every_file_tool_is_refused(traps: Traps, tool: str) -> None:
    executor = ToolExecutor(traps.layout.repo)
    failures = []
    for path in traps.paths:
        COUNTS.add("attempts")
        COUNTS.add("through file tools")
        before = fingerprint(traps.layout)
        outcome = await asyncio.wait_for(executor.execute("t1", args_for(tool, path)), 5)
        if escaped(before, traps.layout, outcome.output):
            COUNTS.add("escapes")
            failures.append((path, outcome.output))
        elif traps.refused_for(tool, path) and outcome.ok:
            failures.append((path, f"accepted: {outcome.output[:80]}"))
        elif not outcome.ok:
            assert outcome.output.startswith(f"{tool} failed: "), outcome.output
            assert "\n" not in outcome.output and len(outcome.output) < 400, outcome.output
    assert failures == []


# Edits of a proposal that was fine as the model made it: the human's edit is the attack.
SAFE_ORIGINALS: dict[str, ToolArgs] = {
    "read_file": ReadFileArgs(path="README.md"),
    "list_files": ListFilesArgs(path="src"),
    "write_file": WriteFileArgs(path="src/new.py", content="x = 1\n"),
    "edit_file": EditFileArgs(path="src/ok.py", old="return 1", new="return 2"),
}


@pytest.mark.parametrize("tool", TOOLS)
async def test_every_trap_through_an_edited_payload_is_refused(traps: Traps, tool: str) -> None:
    executor = ToolExecutor(traps.layout.repo)
    failures = []
    for path in traps.paths:
        if not traps.refused_for(tool, path):
            continue
        COUNTS.add("attempts")
        COUNTS.add("through edited payloads")
        before = fingerprint(traps.layout)
        original = executor.propose("t1", SAFE_ORIGINALS[tool])
        bad = args_for(tool, path)
        data = msgspec.to_builtins(bad)
        data.pop("tool")
        text = msgspec.json.encode(data).decode()
        try:
            parsed = parse_edited_arguments(original, text)
        except EditRefused:
            parsed = bad  # a buggy UI might send it anyway: pass_clutch must refuse it too
        clutch = ApproveAfterRefusal(parsed)
        decision, final = await pass_clutch(clutch, executor, original)
        refused = (
            len(clutch.shown) == 2
            and (clutch.shown[1].error or "").startswith("edit refused: ")
            and final == original
            and isinstance(decision, Approve)
        )
        if not refused:
            # Accepted as an edit (a read of a FIFO is lexically and spatially fine): the
            # approved call must still be refused when it runs.
            outcome = await asyncio.wait_for(executor.execute("t1", final.arguments), 5)
            refused = not outcome.ok and SECRET not in outcome.output
        if escaped(before, traps.layout) or not refused:
            COUNTS.add("escapes")
            failures.append((path, clutch.shown[-1].error))
    assert failures == []


# ---------------------------------------------------------------------------
# Generated paths: refused, or inside the repository
# ---------------------------------------------------------------------------

PIECES = st.sampled_from(
    ["..", ".", "", "src", "sub", "inner", "link_out", "link_up", "link_parent", "abs_link_dir",
     "chain1", "chain2", "secret.txt", "new.txt", "ok.py", "fifo", "loop", "~", "gitlink", ".git",
     "x" * 256, "a\\b", "\x00"]
)


@st.composite
def generated_paths(draw: st.DrawFn) -> str:
    parts = draw(st.lists(PIECES, min_size=1, max_size=6))
    lead = draw(st.sampled_from(["", "", "", "/", "./", "~/", "//"]))
    return lead + "/".join(parts)


def _inside(repo: Path, path: str) -> bool:
    real = os.path.realpath(repo / path)
    root = os.path.realpath(repo)
    return real == root or real.startswith(root + os.sep)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Traps]:
    with tempfile.TemporaryDirectory() as tmp:
        built = Traps(Path(tmp))
        yield built
        built.layout.close()


def test_generated_paths_are_refused_or_stay_inside(scratch: Traps) -> None:
    layout = scratch.layout
    pristine = fingerprint(layout)

    async def attempt(path: str) -> None:
        executor = ToolExecutor(layout.repo)
        for tool in TOOLS:
            COUNTS.add("attempts")
            COUNTS.add("through file tools")
            args = args_for(tool, path)
            outcome = await asyncio.wait_for(executor.execute("gen", args), 5)
            leaked = SECRET in outcome.output
            if outcome.ok and tool in ("write_file", "edit_file"):
                changed = outcome.changed
                assert all(_inside(layout.repo, rel) for rel in changed), changed
                executor.undo("gen")
            after = fingerprint(layout)
            # A write inside may leave new empty folders behind; nothing else may change.
            extra = {k for k in after.keys() - pristine.keys() if after[k].startswith("dir ")}
            for k in extra:
                shutil.rmtree(layout.base / k, ignore_errors=True)
            if leaked or fingerprint(layout) != pristine:
                COUNTS.add("escapes")
                raise AssertionError(f"{tool} {path!r}: {outcome.output[:200]}")

    @generated(90)
    @given(path=generated_paths())
    def case(path: str) -> None:
        asyncio.run(attempt(path))

    case()


# ---------------------------------------------------------------------------
# Swaps between a proposal and its execution
# ---------------------------------------------------------------------------


async def test_a_parent_swapped_for_a_symlink_after_approval_is_refused(tmp_path: Path) -> None:
    layout = hostile_repo(tmp_path)
    try:
        executor = ToolExecutor(layout.repo)
        args = WriteFileArgs(path="sub/inner/new.py", content="x\n")
        proposal = executor.propose("t1", args)
        assert proposal.error is None
        # After approval, before execution: another ticket's command swaps the folder.
        shutil.rmtree(layout.repo / "sub" / "inner")
        os.symlink(str(layout.outside), layout.repo / "sub" / "inner")
        before = fingerprint(layout)
        COUNTS.add("attempts")
        COUNTS.add("through file tools")
        outcome = await executor.execute("t1", args)
        assert not outcome.ok and "outside the repository" in outcome.output
        assert fingerprint(layout) == before
        assert not (layout.outside / "new.py").exists()
    finally:
        layout.close()


async def test_undo_refuses_a_target_swapped_for_a_symlink(tmp_path: Path) -> None:
    layout = hostile_repo(tmp_path)
    try:
        executor = ToolExecutor(layout.repo)
        outcome = await executor.execute("t1", WriteFileArgs(path="sub/inner/made.py", content="x\n"))
        assert outcome.ok
        shutil.rmtree(layout.repo / "sub" / "inner")
        os.symlink(str(layout.outside), layout.repo / "sub" / "inner")
        (layout.outside / "made.py").write_text("keep me\n")
        before = fingerprint(layout)
        COUNTS.add("attempts")
        COUNTS.add("through file tools")
        with pytest.raises(Exception) as caught:
            executor.undo("t1")
        assert "outside the repository" in str(caught.value)
        assert fingerprint(layout) == before
        assert (layout.outside / "made.py").read_text() == "keep me\n"
    finally:
        layout.close()
