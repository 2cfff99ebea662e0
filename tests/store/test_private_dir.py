"""`.slop/` is slop's own or refused; no file in it is reached through a symlink; a pre-image
index names only restorable paths; the log keeps a digest of large contents."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from pathlib import Path

import msgspec
import pytest

from slop_tui.models import (
    DecisionMade,
    Edit,
    FileChanged,
    HintGiven,
    Proposal,
    ProposalMade,
    TicketState,
    ToolResult,
    WriteFileArgs,
)
from slop_tui.store import (
    LOG_EXCERPT_BYTES,
    LOG_FIELD_LIMIT,
    Store,
    StoreError,
    check_private_state,
    log_digest,
)
from tests.store.helpers import change, started_run

VICTIM = b'{"kind": "not an event"}\nsomeone else\'s file\n'


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    return victim


# -- the .slop/ check ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "socket", "symlinked-file", "symlinked-folder", "file"])
def test_anything_but_files_and_folders_in_slop_is_refused_before_any_read(tmp_path: Path, kind: str) -> None:
    repo = tmp_path / "repo"
    (repo / ".slop" / "preimages" / "t").mkdir(parents=True)
    target = repo / ".slop" / "preimages" / "t" / "index.json"
    outside = tmp_path / "outside"
    outside.mkdir()
    if kind == "fifo":
        os.mkfifo(target)  # opening it for reading would hang: it must never be opened
    elif kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        with contextlib.chdir(target.parent):  # a socket's path is short: bound by its name
            sock.bind(target.name)
        sock.close()
    elif kind == "symlinked-file":
        target.symlink_to(_victim(tmp_path))
    elif kind == "symlinked-folder":
        (repo / ".slop" / "preimages" / "u").symlink_to(outside, target_is_directory=True)
    else:
        (repo / ".slop" / "state.json").write_bytes(b"{}")
        (repo / "x").mkdir()
        (repo / "x" / ".slop").write_bytes(b"not a folder")
        repo = repo / "x"
    store = Store(repo)
    for action in (store.load_state, store.events, lambda: store.preimages("t"),
                   lambda: store.archive_run(), lambda: store.save_preimage("t", "a", b"")):
        with pytest.raises(StoreError, match=r"refused: .*(FIFO|socket|symlink|not a folder)"):
            action()
    assert not any(outside.iterdir())
    if kind == "symlinked-file":
        assert (tmp_path / "victim.txt").read_bytes() == VICTIM


def test_a_plain_folder_skips_the_git_check_and_a_real_store_passes(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    store.save_preimage("stub", "a.py", b"x")
    check_private_state(tmp_path)  # what slop itself writes is accepted
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    check_private_state(tmp_path)  # untracked (and excluded) in git: accepted too


def test_a_file_git_tracks_in_slop_is_refused(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".slop").mkdir()
    (tmp_path / ".slop" / "state.json").write_bytes(b"{}")
    subprocess.run(["git", "add", "-f", ".slop/state.json"], cwd=tmp_path, check=True)
    with pytest.raises(StoreError, match=r"refused: git tracks \.slop/state\.json"):
        Store(tmp_path).load_state()
    assert (tmp_path / ".slop" / "state.json").read_bytes() == b"{}"



def _recording_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on PATH that notes each call in a file, then runs the real git."""
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    shims = tmp_path / "shims"
    shims.mkdir()
    calls = tmp_path / "git-calls"
    (shims / "git").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    (shims / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_outside_any_repository_git_is_not_asked_inside_one_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert not any((folder / ".git").exists() for folder in (plain.resolve(), *plain.resolve().parents))
    calls = _recording_git(tmp_path, monkeypatch)
    check_private_state(plain)
    assert not calls.exists()  # no repository git could find: no process started
    inner = plain / "inner"
    inner.mkdir()
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    calls.unlink()
    check_private_state(inner)  # a repository above: git is asked
    assert "ls-files" in calls.read_text()


def test_a_git_dir_named_by_the_environment_is_still_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The repository's `.git` lives elsewhere and the environment points git at it: the folder
    # holds no `.git`, yet git tracks its `.slop`.
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".slop").mkdir()
    (repo / ".slop" / "state.json").write_bytes(b"{}")
    subprocess.run(["git", "add", "-f", ".slop/state.json"], cwd=repo, check=True)
    (repo / ".git").rename(tmp_path / "elsewhere.git")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    with pytest.raises(StoreError, match=r"refused: git tracks \.slop/state\.json"):
        Store(repo).load_state()
    assert (repo / ".slop" / "state.json").read_bytes() == b"{}"


# -- O_NOFOLLOW behind the check ----------------------------------------------------------


def test_a_log_swapped_for_a_symlink_after_the_check_is_never_written_through(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    repo = tmp_path / "repo"
    store, _ = started_run(repo)  # the check has passed for this store
    store.close()
    log = repo / ".slop" / "events.jsonl"
    log.unlink()
    log.symlink_to(victim)
    with pytest.raises(StoreError, match="symlink"):
        store.events()  # the old code read the victim, found corrupt lines, and emptied it
    with pytest.raises(StoreError):
        store.append(change("stub", TicketState.TODO, TicketState.IN_PROGRESS))
    assert victim.read_bytes() == VICTIM


def test_the_quarantine_replaces_a_symlink_rather_than_writing_through_it(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    repo = tmp_path / "repo"
    store, _ = started_run(repo)
    store.close()
    log = repo / ".slop" / "events.jsonl"
    log.unlink()
    log.symlink_to(victim)
    store._quarantine_log(VICTIM)  # reached directly: the defence behind the checks
    assert victim.read_bytes() == VICTIM
    assert not log.is_symlink()


# -- pre-image indexes --------------------------------------------------------------------

BAD_PATHS = [
    ".git/config", "vendor/lib/.git/config", ".GIT/hooks/pre-commit", ".git./config",
    ".git /config", "GIT~1/config", ".git::$INDEX_ALLOCATION/config", ".g\u200cit/config",
    ".slop/state.json", "../outside.txt", "/etc/passwd", "evil\u202etxt.sh", "a\x1bb", "",
]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_an_index_naming_a_path_outside_the_rules_is_refused_whole(tmp_path: Path, bad: str) -> None:
    store, _ = started_run(tmp_path)
    store.save_preimage("stub", "a.py", b"before")
    index_path = next((tmp_path / ".slop" / "preimages").glob("*/index.json"))
    index = msgspec.json.decode(index_path.read_bytes())
    index["files"][bad] = None
    index_path.write_bytes(msgspec.json.encode(index))
    before = index_path.read_bytes()
    with pytest.raises(StoreError, match="refused: it lists .*nothing was restored"):
        Store(tmp_path).preimages("stub")
    assert index_path.read_bytes() == before


def test_an_index_naming_a_blob_outside_its_folder_is_refused(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    store.save_preimage("stub", "a.py", b"before")
    index_path = next((tmp_path / ".slop" / "preimages").glob("*/index.json"))
    index = msgspec.json.decode(index_path.read_bytes())
    index["files"]["a.py"] = "../../../../victim.txt"
    index_path.write_bytes(msgspec.json.encode(index))
    with pytest.raises(StoreError, match="blob named"):
        Store(tmp_path).preimages("stub")


def test_an_index_rebuilt_from_a_log_naming_git_config_is_refused(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    store.save_preimage("stub", "a.py", b"before")
    store.append(FileChanged(ticket_id="stub", path=".git/config", preimage=None))
    index_path = next((tmp_path / ".slop" / "preimages").glob("*/index.json"))
    index_path.write_bytes(b"{corrupt")
    with pytest.raises(StoreError, match=r"events\.jsonl: refused: it lists '\.git/config'"):
        Store(tmp_path).preimages("stub")
    assert index_path.read_bytes() == b"{corrupt"  # not even moved aside


def test_save_preimage_refuses_git_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="inside .git or .slop"):
        Store(tmp_path).save_preimage("t", "sub/.Git/config", b"x")


# -- bounded log --------------------------------------------------------------------------


def test_large_contents_and_diffs_are_logged_as_digest_and_excerpt(tmp_path: Path) -> None:
    big = "x = 1\n" * 200_000  # 1.2 MB
    store, _ = started_run(tmp_path)
    args = WriteFileArgs(path="big.py", content=big)
    events = [
        ProposalMade(proposal=Proposal(id="p1", ticket_id="stub", tool="write_file", arguments=args, diff="+" + big)),
        DecisionMade(proposal_id="p1", ticket_id="stub", decision=Edit(arguments=args)),
        ToolResult(ticket_id="stub", tool="read_file", ok=True, output=big),
        HintGiven(ticket_id="stub", command="pytest", exit_code=1, hint="h", raw_output=big),
        ToolResult(ticket_id="stub", tool="read_file", ok=True, output="small"),
    ]
    for event in events:
        store.append(event)
    proposal = events[0]
    assert isinstance(proposal, ProposalMade)
    assert proposal.proposal.diff == "+" + big and args.content == big  # memory unchanged
    log = tmp_path / ".slop" / "events.jsonl"
    assert log.stat().st_size < 6 * (LOG_EXCERPT_BYTES + 1024) + 4096
    logged = store.events()
    made = logged[2]
    assert isinstance(made, ProposalMade) and isinstance(made.proposal.arguments, WriteFileArgs)
    digest = log_digest(made.proposal.arguments.content)
    assert digest is not None and digest.size == len(big.encode())
    assert digest.sha256 == hashlib.sha256(big.encode()).hexdigest()
    assert big.startswith(digest.excerpt) and len(digest.excerpt) == LOG_EXCERPT_BYTES
    assert log_digest(made.proposal.diff) is not None
    last = logged[-1]
    assert isinstance(last, ToolResult) and last.output == "small" and log_digest("small") is None
    # Replay needs no content: a state rebuilt from this log is the one saved.
    saved = Store(tmp_path).load_state()
    (tmp_path / ".slop" / "state.json").unlink()
    rebuilt = Store(tmp_path).load_state()
    assert rebuilt is not None and saved is not None and rebuilt.tracks == saved.tracks
    assert rebuilt.last_seq == saved.last_seq


def test_content_at_the_limit_is_kept_whole(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    text = "é" * (LOG_FIELD_LIMIT // 2)  # exactly the limit in UTF-8 bytes
    store.append(ToolResult(ticket_id="stub", tool="read_file", ok=True, output=text))
    last = store.events()[-1]
    assert isinstance(last, ToolResult) and last.output == text
