"""Undo and resume that lose nothing (plain folders): `conductor/restore.py` through `Session`."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from slop_tui.conductor.restore import RestoreRefused
from slop_tui.conductor.session import Session
from slop_tui.config import Config, load_config
from slop_tui.models import FileChanged, FilesRestored, TicketState
from slop_tui.providers.scripted import Scenario, ScriptedReply
from slop_tui.store import Store
from slop_tui.tools.clutch import ApproveAll
from tests.conductor.demo import write_config
from tests.conductor.helpers import reply, ticket, tool_reply, track

EDIT = tool_reply("edit_file", path="a.py", old="A = 0", new="A = 00")  # twice: `A = 000`


def _config(tmp_path: Path, repo: Path, name: str, replies: list[ScriptedReply]) -> Config:
    path = tmp_path / f"{name}.json"
    path.write_bytes(msgspec.json.encode(Scenario(worker={"a": replies})))
    config_dir = write_config(tmp_path / f"config-{name}", path, "[run]\nworker_steps = 3\n")
    return load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("A = 0\n")
    return repo


async def _run(repo: Path, config: Config) -> Session:
    session = Session(repo, config, clutch=ApproveAll())
    await session.run_tracks("edit a", [track(ticket("a", files=["a.py"]), tid="T")])
    await session.close()
    return session


async def test_a_finished_run_with_a_blocked_ticket_is_continued_by_resume_from_its_preimages(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    # The worker edits, then answers without a tool call until the ticket is blocked.
    first = await _run(repo, _config(tmp_path, repo, "stuck", [EDIT] + [reply(text="thinking")] * 6))
    assert first.state.find_ticket("a")[1].state is TicketState.BLOCKED
    saved = Store(repo).load_state()
    assert saved is not None and saved.finished
    assert (repo / "a.py").read_text() == "A = 00\n"

    again = Session(repo, _config(tmp_path, repo, "fine", [EDIT, tool_reply("finish", summary="ok")]), clutch=ApproveAll())
    summary = await again.resume()
    await again.close()
    assert summary.ok, summary.message
    assert (repo / "a.py").read_text() == "A = 00\n"  # restored first: never `A = 000`
    restored = [e for e in Store(repo).events() if isinstance(e, FilesRestored)]
    assert [(e.ticket_id, e.paths) for e in restored] == [("a", ["a.py"])]


async def test_a_todo_ticket_can_be_retried_and_undo_names_a_later_ticket_or_the_user(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    config = _config(tmp_path, repo, "fine", [EDIT, tool_reply("finish", summary="ok")])
    await _run(repo, config)
    session = Session(repo, config, clutch=ApproveAll())
    (repo / "a.py").write_text("A = 00  # mine\n")
    with pytest.raises(RestoreRefused, match=r"cannot undo ticket 'a'.*a.py \(changed outside slop\).*nothing was restored"):
        await session.undo_ticket("a")
    assert (repo / "a.py").read_text() == "A = 00  # mine\n"
    (repo / "a.py").write_text("A = 00\n")  # put back as the ticket left it: the undo goes
    assert (await session.undo_ticket("a")).paths == ["a.py"]
    assert (repo / "a.py").read_text() == "A = 0\n"
    assert session.state.find_ticket("a")[1].state is TicketState.TODO
    await session.retry_ticket("a")  # todo: accepted (the TUI's `r` then continues the run)
    await session.close()
    written = [e for e in Store(repo).events() if isinstance(e, FileChanged)]
    assert written and all(e.after is not None and len(e.after) == 64 for e in written)


async def test_a_done_ticket_without_recorded_hashes_is_not_undone_blindly(tmp_path: Path) -> None:
    """A log from a slop that did not record hashes: a changed file cannot be told from the
    ticket's own, so a done ticket's undo stops rather than guess."""
    repo = _repo(tmp_path)
    config = _config(tmp_path, repo, "fine", [EDIT, tool_reply("finish", summary="ok")])
    await _run(repo, config)
    events = repo / ".slop" / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    stripped = [line.replace(b'"after":"', b'"was":"') if b'"file_changed"' in line else line for line in lines]
    assert stripped != lines
    events.write_bytes(b"".join(stripped))
    session = Session(repo, config, clutch=ApproveAll())
    with pytest.raises(RestoreRefused, match="no record of what the ticket left in it"):
        await session.undo_ticket("a")
    await session.close()
    assert (repo / "a.py").read_text() == "A = 00\n"
