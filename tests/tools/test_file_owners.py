"""A file one running ticket changed is refused to every other ticket until it is released."""

from __future__ import annotations

from pathlib import Path

from slop_tui.models import EditFileArgs, WriteFileArgs
from slop_tui.store import Store
from slop_tui.tools.executor import ToolExecutor

BUSY = "app/x.py is being changed by ticket A, which is still running; wait for it or leave the file alone"


def _repo(tmp_path: Path) -> tuple[Path, ToolExecutor]:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "x.py").write_text("X = 0\n")
    return repo, ToolExecutor(repo, store=Store(repo))


async def test_a_write_proposed_before_and_run_after_the_owner_wrote_is_refused(tmp_path: Path) -> None:
    repo, executor = _repo(tmp_path)
    # B's proposal was made (and approved) while nobody had touched the file ...
    early = executor.propose("B", WriteFileArgs(path="app/x.py", content="X = 'b'\n"))
    assert early.error is None
    # ... then A wrote it; B's write at execute time is refused and writes nothing.
    assert (await executor.execute("A", WriteFileArgs(path="app/x.py", content="X = 'a'\n"))).ok
    outcome = await executor.execute("B", early.arguments)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.changed == []
    assert outcome.output == f"write_file refused: {BUSY}; nothing was written"
    assert (repo / "app" / "x.py").read_text() == "X = 'a'\n"
    assert "app/x.py" not in Store(repo).preimages("B")
    # An edit, proposed now or executed, is refused the same way; A itself may go on.
    # Spelled through a symlinked folder, it is still the same file.
    (repo / "alias").symlink_to("app")
    edit = EditFileArgs(path="alias/x.py", old="'a'", new="'b'")
    assert executor.propose("B", edit).error == BUSY
    edited = await executor.execute("B", edit)
    assert not edited.ok and BUSY in edited.output
    assert executor.propose("A", WriteFileArgs(path="app/x.py", content="X = 2\n")).error is None
    assert (await executor.execute("A", EditFileArgs(path="app/x.py", old="'a'", new="'a2'"))).ok
    assert (repo / "app" / "x.py").read_text() == "X = 'a2'\n"
    # Other files stay free; once A is released, B may write the file.
    assert (await executor.execute("B", WriteFileArgs(path="app/y.py", content="Y = 1\n"))).ok
    executor.owners.release("A")
    assert executor.propose("B", EditFileArgs(path="alias/x.py", old="'a2'", new="'b'")).error is None
    assert (await executor.execute("B", WriteFileArgs(path="app/x.py", content="X = 'b'\n"))).ok
    assert executor.owners.held_by("B") == ["app/x.py", "app/y.py"]


async def test_a_failed_write_does_not_keep_the_file(tmp_path: Path) -> None:
    repo, executor = _repo(tmp_path)
    failed = await executor.execute("A", WriteFileArgs(path="app/x.py", content="bad \ud800\n"))
    assert not failed.ok and (repo / "app" / "x.py").read_text() == "X = 0\n"
    assert executor.owners.held_by("A") == []
    assert (await executor.execute("B", WriteFileArgs(path="app/x.py", content="X = 'b'\n"))).ok
