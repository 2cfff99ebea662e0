"""Path confinement: unit checks of the resolver, then every escape through every file tool."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from slop_tui.models import EditFileArgs, ListFilesArgs, ReadFileArgs, ToolArgs, WriteFileArgs
from slop_tui.store import Store
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.sandbox import PathRefused, repo_relative, resolve_in_repo
from tests.tools.helpers import HostileLayout, tree_fingerprint


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[HostileLayout]:
    hostile = HostileLayout(tmp_path)
    yield hostile
    hostile.close()


def test_resolves_plain_paths_inside(layout: HostileLayout) -> None:
    repo = layout.repo.resolve()
    assert resolve_in_repo(layout.repo, "src/ok.py") == repo / "src" / "ok.py"
    assert resolve_in_repo(layout.repo, ".") == repo
    assert resolve_in_repo(layout.repo, "./src//ok.py") == repo / "src" / "ok.py"
    assert resolve_in_repo(layout.repo, "src/") == repo / "src"
    # A file that does not exist yet is fine while its nearest ancestor is inside.
    assert resolve_in_repo(layout.repo, "new/deep/file.py") == repo / "new" / "deep" / "file.py"


def test_a_symlink_that_stays_inside_resolves_to_its_target(layout: HostileLayout) -> None:
    assert resolve_in_repo(layout.repo, "inside_link") == layout.repo.resolve() / "src" / "ok.py"


def test_root_reached_through_a_symlink_still_confines(layout: HostileLayout) -> None:
    alias = layout.base / "alias"
    os.symlink(layout.repo, alias)
    assert resolve_in_repo(alias, "src/ok.py") == layout.repo.resolve() / "src" / "ok.py"
    with pytest.raises(PathRefused):
        resolve_in_repo(alias, "link_secret")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("a\x00b", "NUL"),
        ("~/x", "'~'"),
        ("/etc/passwd", "absolute"),
        ("a/../../x", "'..'"),
        ("a\\b", "backslash"),
        ("C:/x", "drive letter"),
        ("n" * 256, "255 bytes"),
        ("d/" * 2100, "4096 bytes"),
        ("link_out/secret.txt", "outside"),
        ("loop", "loop"),
    ],
)
def test_each_refusal_names_the_path_and_the_reason(
    layout: HostileLayout, path: str, reason: str
) -> None:
    with pytest.raises(PathRefused) as info:
        resolve_in_repo(layout.repo, path)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message and len(message) < 300


def test_repo_relative(layout: HostileLayout) -> None:
    repo = layout.repo
    assert repo_relative(repo, repo / "src" / "ok.py") == "src/ok.py"
    assert repo_relative(repo, repo) == "."
    with pytest.raises(PathRefused):
        repo_relative(repo, layout.outside / "secret.txt")


def _calls(path: str) -> list[ToolArgs]:
    return [
        ReadFileArgs(path=path),
        ReadFileArgs(path=path, view="skeleton"),
        ListFilesArgs(path=path),
        WriteFileArgs(path=path, content="pwned\n"),
        EditFileArgs(path=path, old="outside secret", new="pwned"),
    ]


async def test_every_escape_through_every_file_tool_is_a_refused_tool_result(
    layout: HostileLayout,
) -> None:
    paths = layout.escape_paths()
    assert len(paths) >= 50
    executor = ToolExecutor(layout.repo, store=Store(layout.repo))
    before_repo = tree_fingerprint(layout.repo)
    before_outside = tree_fingerprint(layout.outside)
    attempts = 0
    for path in paths:
        for args in _calls(path):
            proposal = executor.propose("t1", args)  # must not raise either
            outcome = await executor.execute("t1", args)
            attempts += 1
            assert not outcome.ok, f"{args!r} was not refused: {outcome.output}"
            assert outcome.changed == []
            assert "pwned" not in outcome.output
            assert "outside secret" not in outcome.output
            if args.WRITES:
                assert proposal.error, f"{args!r}: proposal carries no error"
                assert proposal.diff == ""
    assert attempts == len(paths) * 5
    assert tree_fingerprint(layout.repo) == before_repo
    assert tree_fingerprint(layout.outside) == before_outside
    assert not (layout.repo / ".slop" / "preimages").exists()


async def test_writes_into_tool_state_directories_are_refused(layout: HostileLayout) -> None:
    (layout.repo / ".git").mkdir()
    (layout.repo / ".git" / "config").write_text("[core]\n")
    os.symlink(".git/config", layout.repo / "git_config_link")
    executor = ToolExecutor(layout.repo)
    before = tree_fingerprint(layout.repo)
    for path in (".git/config", ".git/hooks/pre-commit", ".slop/state.json", "git_config_link"):
        outcome = await executor.execute("t1", WriteFileArgs(path=path, content="x"))
        assert not outcome.ok and "never written" in outcome.output, outcome.output
    assert tree_fingerprint(layout.repo) == before
    # Reading them is not an escape.
    assert (await executor.execute("t1", ReadFileArgs(path=".git/config"))).ok


async def test_reading_a_fifo_does_not_block(layout: HostileLayout) -> None:
    # Nothing ever writes to this FIFO: a plain open() would hang the test forever.
    executor = ToolExecutor(layout.repo)
    outcome = await executor.execute("t1", ReadFileArgs(path="fifo"))
    assert not outcome.ok and "regular file" in outcome.output
