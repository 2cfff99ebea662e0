"""`.slop/` stays out of git, and no credential ever reaches it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec

from slop_tui.models import (
    ErrorRaised,
    HintGiven,
    ModelText,
    RunStarted,
    Secret,
    Tier,
    ToolResult,
    WorkerContext,
    enc_hook,
)
from slop_tui.store import Store, exclude_from_git, replay
from tests.store.helpers import slop_bytes


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_slop_is_excluded_once_in_a_git_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / ".git" / "info" / "exclude").write_text("*.log")  # no final newline
    Store(tmp_path).append(RunStarted(run_id="r", prompt="p"))
    Store(tmp_path).save_state(replay(Store(tmp_path).events()))  # type: ignore[arg-type]
    text = (tmp_path / ".git" / "info" / "exclude").read_text()
    assert text.startswith("*.log\n") and text.count(".slop/") == 1
    (tmp_path / "code.py").write_text("x = 1\n")
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all") == "?? code.py\n"


def test_a_subdirectory_and_a_worktree_use_the_repository_exclude(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    git(main, "init", "-q")
    (main / "f").write_text("x")
    git(main, "add", "f")
    git(main, "commit", "-q", "-m", "one")
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"))
    Store(tmp_path / "wt").save_preimage("t", "f", b"x")
    assert git(tmp_path / "wt", "status", "--porcelain", "--untracked-files=all") == ""
    sub = main / "pkg"
    sub.mkdir()
    Store(sub).save_preimage("t", "f", b"x")
    assert git(main, "status", "--porcelain", "--untracked-files=all") == ""
    assert (main / ".git" / "info" / "exclude").read_text().count(".slop/") == 1


def test_outside_git_nothing_is_written_but_slop(tmp_path: Path) -> None:
    assert exclude_from_git(tmp_path) is False
    Store(tmp_path).save_preimage("t", "f", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".slop"]


KEY = 'sk-proj-"quoted"\\and/slashed-0123456789'


def test_no_credential_reaches_slop(tmp_path: Path) -> None:
    ctx = WorkerContext(ticket_id="t", assigned_model="m", credentials=Secret(KEY))
    store = Store(tmp_path, secrets=[Secret(KEY)])
    store.add_secrets(None, "short")  # ignored: not a key
    store.append(RunStarted(run_id="r", prompt="p"))
    store.append(ErrorRaised(message="a short word stays"))
    # A command that printed the key, and a model echoing the WorkerContext's text.
    store.append(ToolResult(ticket_id="t", tool="run_command", ok=True, output=f"KEY={KEY}\n"))
    store.append(HintGiven(ticket_id="t", command="env", exit_code=1, hint="h", raw_output=KEY))
    echoed = msgspec.json.encode(ctx, enc_hook=enc_hook).decode() + repr(ctx)
    store.append(ModelText(ticket_id="t", tier=Tier.WORKER, text=echoed))
    state = replay(store.events())
    assert state is not None
    state.prompt = f"use {KEY}"
    store.save_state(state)
    store.save_preimage("t", "notes.txt", b"no key here")
    data = slop_bytes(tmp_path)
    assert KEY.encode() not in data
    assert msgspec.json.encode(KEY)[1:-1] not in data  # nor its JSON-escaped form
    assert b"KEY=***" in data
    assert b"a short word stays" in data  # values under 8 characters are not redacted
    events = store.events()
    assert events[2].output == "KEY=***\n"  # type: ignore[union-attr]


def test_an_unwritable_exclude_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    exclude = tmp_path / ".git" / "info" / "exclude"
    exclude.unlink()
    exclude.mkdir()  # root ignores permissions, so make it a directory: opening it fails
    store = Store(tmp_path)
    store.append(RunStarted(run_id="r", prompt="p"))
    assert len(store.events()) == 1
    assert len(store.warnings) == 1 and "info/exclude: cannot add .slop/" in store.warnings[0]
