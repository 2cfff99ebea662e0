"""The executor on real files and a real store: proposals, writes, edits, reads, undo."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from slop_tui.models import (
    EditFileArgs,
    FinishArgs,
    ListFilesArgs,
    ReadFileArgs,
    RunCommandArgs,
    WriteFileArgs,
)
from slop_tui.store import Store
from slop_tui.tools.executor import ToolExecutor
from tests.tools.helpers import tree_fingerprint


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 1\n")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    return root


@pytest.fixture
def executor(repo: Path) -> ToolExecutor:
    return ToolExecutor(repo, store=Store(repo))


async def test_write_proposal_is_the_diff_and_changes_nothing(repo: Path, executor: ToolExecutor) -> None:
    before = tree_fingerprint(repo)
    proposal = executor.propose("t1", WriteFileArgs(path="pkg/new.py", content="x = 1\n"))
    assert proposal.error is None
    assert proposal.tool == "write_file" and proposal.ticket_id == "t1"
    assert proposal.diff.startswith("--- /dev/null\n+++ b/pkg/new.py\n")
    assert "+x = 1\n" in proposal.diff
    assert tree_fingerprint(repo) == before


async def test_edit_proposal_diffs_exactly_the_replacement(executor: ToolExecutor) -> None:
    proposal = executor.propose("t1", EditFileArgs(path="pkg/mod.py", old="def f():\n    return 1", new="def f():\n    return 2"))
    assert proposal.error is None
    assert "-    return 1\n+    return 2\n" in proposal.diff
    assert proposal.diff.count("\n-") == 1


@pytest.mark.parametrize(("old", "expected"), [("return 1", "occurs 2 times"), ("return 3", "does not occur")])
async def test_edit_needs_exactly_one_occurrence(
    repo: Path, executor: ToolExecutor, old: str, expected: str
) -> None:
    before = tree_fingerprint(repo)
    args = EditFileArgs(path="pkg/mod.py", old=old, new="return 9")
    proposal = executor.propose("t1", args)
    assert proposal.error is not None and expected in proposal.error
    assert "pkg/mod.py" in proposal.error
    outcome = await executor.execute("t1", args)
    assert not outcome.ok and expected in outcome.output
    assert tree_fingerprint(repo) == before
    assert executor.store is not None and executor.store.preimages("t1") == {}


async def test_command_proposal_shows_command_and_cwd(repo: Path, executor: ToolExecutor) -> None:
    proposal = executor.propose("t1", RunCommandArgs(command="pytest -q"))
    assert proposal.cwd == str(repo.resolve())
    assert proposal.diff == "" and proposal.error is None


async def test_write_then_edit_then_undo_restores_the_original(repo: Path, executor: ToolExecutor) -> None:
    original = tree_fingerprint(repo)
    out = await executor.execute("t1", WriteFileArgs(path="pkg/mod.py", content="changed\n"))
    assert out.ok and out.changed == ["pkg/mod.py"]
    assert out.preimages["pkg/mod.py"] is not None  # a name inside .slop/, for FileChanged
    assert (repo / ".slop" / str(out.preimages["pkg/mod.py"])).read_bytes().startswith(b"def f()")
    out = await executor.execute("t1", EditFileArgs(path="pkg/mod.py", old="changed", new="changed twice"))
    assert out.ok
    assert (repo / "pkg" / "mod.py").read_text() == "changed twice\n"
    out = await executor.execute("t1", WriteFileArgs(path="pkg/deep/new.py", content="new\n"))
    assert out.ok and out.preimages == {"pkg/deep/new.py": None}
    assert (repo / "pkg" / "deep" / "new.py").read_text() == "new\n"
    # The first pre-image wins: undo goes back to before the ticket, not to the middle.
    restored = executor.undo("t1")
    assert sorted(restored) == ["pkg/deep/new.py", "pkg/mod.py"]
    assert not (repo / "pkg" / "deep" / "new.py").exists()
    now = {k: v for k, v in tree_fingerprint(repo).items() if not k.startswith((".slop", "pkg/deep"))}
    assert now == original


async def test_undo_survives_a_new_executor_and_store(repo: Path, executor: ToolExecutor) -> None:
    await executor.execute("t7", WriteFileArgs(path="pkg/mod.py", content="gone\n"))
    fresh = ToolExecutor(repo, store=Store(repo))
    assert fresh.undo("t7") == ["pkg/mod.py"]
    assert (repo / "pkg" / "mod.py").read_text().startswith("def f():")


async def test_undo_without_a_store_uses_memory(repo: Path) -> None:
    executor = ToolExecutor(repo)
    await executor.execute("t1", WriteFileArgs(path="pkg/mod.py", content="x\n"))
    assert executor.undo("t1") == ["pkg/mod.py"]
    assert (repo / "pkg" / "mod.py").read_text().startswith("def f():")
    assert executor.undo("nobody") == []


async def test_writes_keep_the_mode_and_are_atomic(repo: Path, executor: ToolExecutor) -> None:
    out = await executor.execute("t1", EditFileArgs(path="run.sh", old="echo run", new="echo ran"))
    assert out.ok
    assert stat.S_IMODE(os.stat(repo / "run.sh").st_mode) == 0o755
    # No temporary file is left beside the target.
    assert sorted(p.name for p in repo.iterdir() if p.name != ".slop") == ["pkg", "run.sh"]


async def test_a_write_through_an_inside_symlink_changes_the_target(repo: Path, executor: ToolExecutor) -> None:
    os.symlink("pkg/mod.py", repo / "alias.py")
    out = await executor.execute("t1", WriteFileArgs(path="alias.py", content="via alias\n"))
    assert out.ok and out.changed == ["pkg/mod.py"]
    assert os.path.islink(repo / "alias.py")
    assert (repo / "pkg" / "mod.py").read_text() == "via alias\n"


async def test_read_list_and_finish(repo: Path, executor: ToolExecutor) -> None:
    out = await executor.execute("t1", ReadFileArgs(path="pkg/mod.py"))
    assert out.ok and out.output == (repo / "pkg" / "mod.py").read_text()
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref\n")
    (repo / "pkg" / "__pycache__").mkdir()
    out = await executor.execute("t1", ListFilesArgs())
    assert out.ok
    lines = out.output.splitlines()
    assert "pkg/mod.py" in lines and "run.sh" in lines
    assert ".git/ (not listed)" in lines and "pkg/__pycache__/ (not listed)" in lines
    assert ".git/HEAD" not in lines
    out = await executor.execute("t1", ListFilesArgs(path="pkg"))
    assert "run.sh" not in out.output.splitlines()
    out = await executor.execute("t1", FinishArgs(summary="all done"))
    assert out.ok and out.output == "all done"


async def test_reads_refuse_binary_missing_and_huge_files(repo: Path) -> None:
    executor = ToolExecutor(repo, max_read_bytes=1000)
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    (repo / "latin.txt").write_bytes("café".encode("latin-1"))
    (repo / "big.txt").write_text("x" * 5000)
    for path, expected in [
        ("blob.bin", "binary"),
        ("latin.txt", "not UTF-8"),
        ("big.txt", "read limit"),
        ("nope.txt", "no such file"),
        ("pkg", "is a directory"),
    ]:
        out = await executor.execute("t1", ReadFileArgs(path=path))
        assert not out.ok and expected in out.output, out.output
    out = await executor.execute("t1", ListFilesArgs(path="run.sh"))
    assert not out.ok and "not a directory" in out.output


async def test_edit_of_a_missing_file_says_to_write_it(executor: ToolExecutor) -> None:
    out = await executor.execute("t1", EditFileArgs(path="pkg/none.py", old="a", new="b"))
    assert not out.ok and "write_file" in out.output


async def test_a_lone_surrogate_fails_before_anything_is_written(repo: Path, executor: ToolExecutor) -> None:
    before = tree_fingerprint(repo)
    out = await executor.execute("t1", WriteFileArgs(path="pkg/mod.py", content="bad \ud800\n"))
    assert not out.ok
    assert tree_fingerprint(repo) == before


async def test_commands_run_in_the_repo_and_report_head_and_tail(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY_ENV", "never-visible")
    executor = ToolExecutor(repo, scrub_env=["MY_KEY_ENV"], output_tokens_cap=50)
    out = await executor.execute("t1", RunCommandArgs(command="pwd; echo ${MY_KEY_ENV:-unset}"))
    assert out.ok and out.command_result is not None
    assert out.output.splitlines() == ["exit code 0", str(repo.resolve()), "unset"]
    out = await executor.execute(
        "t1", RunCommandArgs(command=f"{sys.executable} -c \"print('\\n'.join(str(i) for i in range(5000)))\"")
    )
    assert out.ok and "characters omitted" in out.output
    assert out.output.splitlines()[1] == "0" and out.output.splitlines()[-1] == "4999"
    assert out.command_result is not None and "2500\n" in out.command_result.stdout  # QA gets it all
    out = await executor.execute("t1", RunCommandArgs(command="echo broken >&2; exit 2"))
    assert not out.ok and out.output == "exit code 2\nbroken\n"


async def test_the_configured_timeout_is_a_ceiling(repo: Path) -> None:
    executor = ToolExecutor(repo, command_timeout_s=0.3)
    out = await executor.execute("t1", RunCommandArgs(command="sleep 5", timeout_s=600))
    assert not out.ok and out.output.startswith("timed out after 0.3s")
    assert out.command_result is not None and out.command_result.timed_out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (RunCommandArgs(command="true", timeout_s=0), "timeout_s"),
        (RunCommandArgs(command="true", timeout_s=float("nan")), "timeout_s"),
        (RunCommandArgs(command="   "), "empty"),
        (EditFileArgs(path="pkg/mod.py", old="", new="x"), "`old` is empty"),
    ],
)
async def test_argument_limits_are_tool_results(executor: ToolExecutor, args: object, expected: str) -> None:
    assert isinstance(args, (RunCommandArgs, EditFileArgs))
    out = await executor.execute("t1", args)
    assert not out.ok and expected in out.output
    assert executor.propose("t1", args).error is not None


async def test_skeleton_and_curated_views_come_from_the_file_cache(repo: Path, executor: ToolExecutor) -> None:
    (repo / "pkg" / "hot.py").write_text(
        '"""Module doc."""\n\n\ndef cold(a: int) -> int:\n    return a * 2\n\n\n'
        "# [HOT]\ndef hot(b: int) -> int:\n    return b + 1\n"
    )
    skeleton = await executor.execute("t1", ReadFileArgs(path="pkg/hot.py", view="skeleton"))
    assert skeleton.ok
    assert "def cold(a: int) -> int:" in skeleton.output and "return a * 2" not in skeleton.output
    curated = await executor.execute("t1", ReadFileArgs(path="pkg/hot.py", view="curated"))
    assert curated.ok and "return b + 1" in curated.output and "return a * 2" not in curated.output
    # A file that is not code has its text as every view.
    (repo / "notes.md").write_text("# notes\n")
    out = await executor.execute("t1", ReadFileArgs(path="notes.md", view="skeleton"))
    assert out.ok and out.output == "# notes\n"


async def test_a_view_of_broken_python_says_so(repo: Path, executor: ToolExecutor) -> None:
    (repo / "broken.py").write_text("def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    out = await executor.execute("t1", ReadFileArgs(path="broken.py", view="skeleton"))
    assert out.ok
    assert out.output.startswith("# note: broken.py does not parse")
    assert "def ok():" in out.output


async def test_a_file_in_the_way_of_a_new_directory_is_reported(repo: Path, executor: ToolExecutor) -> None:
    args = WriteFileArgs(path="run.sh/inner.py", content="x\n")
    proposal = executor.propose("t1", args)
    assert proposal.error is not None and "run.sh is a file" in proposal.error
    out = await executor.execute("t1", args)
    assert not out.ok and "run.sh is a file" in out.output
    assert executor.store is not None and executor.store.preimages("t1") == {}
