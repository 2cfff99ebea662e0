"""The file tools' write rules, each attack performed for real: `.git`/`.slop` in every spelling
at any depth, invisible characters in names, a folder swapped for a symlink mid-write, a
planted pre-image that would restore `.git/config`, and the write size cap."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slop_tui.errors import SlopError
from slop_tui.models import EditFileArgs, ReadFileArgs, WriteFileArgs
from slop_tui.store import Store
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.safe_write import read_at, replace_at, restore_at
from slop_tui.tools.sandbox import PathRefused, check_lexical, protected_name
from tests.tools.helpers import tree_fingerprint

HOSTILE_CONFIG = b'[core]\n\tfsmonitor = "touch PWNED"\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with its own `.git/` and an embedded one under `vendor/lib/`."""
    root = tmp_path / "repo"
    for git in (root / ".git", root / "vendor" / "lib" / ".git"):
        (git / "hooks").mkdir(parents=True)
        (git / "config").write_text("[core]\n\tbare = false\n")
    (root / ".slop").mkdir()
    (root / "src").mkdir()
    (root / "src" / "ok.py").write_text("x = 1\n")
    return root


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------
# .git and .slop, every spelling, any depth
# ---------------------------------------------------------------------------

# Names that are `.git`/`.slop` on some file system: case-insensitive (macOS, Windows), trailing
# dots and spaces (Windows drops them), 8.3 short names, alternate data streams.
SPELLINGS = [
    ".git/config",
    ".GIT/config",
    ".Git/hooks/pre-commit",
    ".git./config",
    ".git /config",
    ".git. . /config",
    "GIT~1/config",
    "git~1/hooks/post-checkout",
    ".git::$INDEX_ALLOCATION/config",
    ".git:stream",
    "vendor/lib/.git/config",
    "vendor/lib/.GIT/hooks/post-checkout",
    "vendor/lib/git~1/config",
    "a/b/c/.git./config",
    ".slop/state.json",
    ".Slop/x",
    "sub/.slop/state.json",
    "SLOP~1/x",
    ".slop. /x",
]


@pytest.mark.parametrize("path", SPELLINGS)
async def test_git_and_slop_in_any_spelling_are_refused_for_writes(repo: Path, path: str) -> None:
    executor = ToolExecutor(repo, store=Store(repo))
    before = tree_fingerprint(repo)
    for args in (
        WriteFileArgs(path=path, content=HOSTILE_CONFIG.decode()),
        EditFileArgs(path=path, old="bare = false", new="fsmonitor = touch PWNED"),
    ):
        with pytest.raises(PathRefused) as refused:
            executor.validate(args)
        message = str(refused.value)
        assert "never written" in message and "\n" not in message, message
        proposal = executor.propose("t1", args)
        assert proposal.error is not None and "never written" in proposal.error and proposal.diff == ""
        outcome = await executor.execute("t1", args)
        assert not outcome.ok and "never written" in outcome.output, outcome.output
    assert tree_fingerprint(repo) == before
    assert not (repo / ".slop" / "preimages").exists()


@pytest.mark.parametrize("path", SPELLINGS)
def test_git_and_slop_in_any_spelling_may_be_read(repo: Path, path: str) -> None:
    # Reads stay allowed: the worker reads history. (On Linux `.GIT` is just a missing folder.)
    ToolExecutor(repo).validate(ReadFileArgs(path=path))


async def test_the_embedded_repository_config_can_be_read_not_written(repo: Path) -> None:
    executor = ToolExecutor(repo)
    read = await executor.execute("t1", ReadFileArgs(path="vendor/lib/.git/config"))
    assert read.ok and "bare = false" in read.output
    wrote = await executor.execute("t1", WriteFileArgs(path="vendor/lib/.git/config", content="x"))
    assert not wrote.ok
    assert (repo / "vendor/lib/.git/config").read_text() == "[core]\n\tbare = false\n"


async def test_an_inside_symlink_into_an_embedded_git_is_refused(repo: Path) -> None:
    os.symlink("vendor/lib/.git", repo / "innocent")
    before = tree_fingerprint(repo)
    outcome = await ToolExecutor(repo).execute("t1", WriteFileArgs(path="innocent/config", content="x"))
    assert not outcome.ok and "never written" in outcome.output and "innocent/config" in outcome.output
    assert tree_fingerprint(repo) == before


@pytest.mark.parametrize(
    "name",
    [".g\u200cit", ".git\u200d", "\u200e.git", ".g\u202eit", ".gi\u206at", ".git\ufeff", ".\ufeffslop"],
)
async def test_hfs_ignorable_code_points_do_not_hide_git(repo: Path, name: str) -> None:
    assert protected_name(name) in (".git", ".slop")
    before = tree_fingerprint(repo)
    outcome = await ToolExecutor(repo).execute("t1", WriteFileArgs(path=f"{name}/config", content="x"))
    # Refused either way: as .git on HFS+, and as an invisible character in a name.
    assert not outcome.ok and "refused" in outcome.output
    assert tree_fingerprint(repo) == before


@pytest.mark.parametrize(
    "name",
    [".gitignore", ".gitmodules", ".github", ".gitattributes", "git", "slop", ".gitx", "my.git",
     "git~", "git~0", ".slopy", "slop.toml", ".slop.toml", "GIT~1x", ".git-old", "x.git."],
)
async def test_names_that_only_look_alike_are_written(repo: Path, name: str) -> None:
    assert protected_name(name) is None
    outcome = await ToolExecutor(repo).execute("t1", WriteFileArgs(path=f"d/{name}", content="ok\n"))
    assert outcome.ok, outcome.output
    assert (repo / "d" / name).read_text() == "ok\n"


# ---------------------------------------------------------------------------
# Invisible and control characters in names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("evil\u202etxt.sh", "<U+202E>"),  # displays as `evilhs.txt`
        ("a\u2028b.py", "<U+2028>"),
        ("a\u2029b.py", "<U+2029>"),
        ("next\x85line.py", "\\x85"),  # C1 NEL
        ("csi\x9b2J.py", "\\x9b"),  # C1 CSI
        ("zero\u200bwidth.py", "<U+200B>"),
        ("soft\xadhyphen.py", "\\xad"),
        ("tag\U000e0041.py", "<U+E0041>"),
        ("esc\x1b[2K.py", "\\x1b"),
    ],
)
async def test_names_with_invisible_or_control_characters_are_refused(
    repo: Path, path: str, shown: str
) -> None:
    with pytest.raises(PathRefused) as refused:
        check_lexical(path)
    message = str(refused.value)
    assert shown in message and "\n" not in message
    assert message.isprintable(), message  # the path is shown through the sanitiser
    before = tree_fingerprint(repo)
    outcome = await ToolExecutor(repo).execute("t1", WriteFileArgs(path=path, content="x\n"))
    assert not outcome.ok and shown in outcome.output
    assert tree_fingerprint(repo) == before


def test_ordinary_non_ascii_names_pass() -> None:
    for path in ("café.py", "données/été.txt", "日本語.md", "emoji_🙂.txt"):
        check_lexical(path)


# ---------------------------------------------------------------------------
# The descriptor walk: no race redirects a write, no temporary file is left
# ---------------------------------------------------------------------------


@pytest.fixture
def fast_base(tmp_path: Path) -> Iterator[Path]:
    """A memory file system where there is one: the race test is fsync-bound elsewhere."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm) as tmp:
            yield Path(tmp)
    else:
        yield tmp_path


def test_a_folder_swapped_for_a_symlink_never_redirects_a_write(fast_base: Path) -> None:
    repo, outside = fast_base / "repo", fast_base / "outside"
    (repo / "sub" / "inner").mkdir(parents=True)
    outside.mkdir()
    executor = ToolExecutor(repo)
    inner, parked = repo / "sub" / "inner", repo / "sub" / "parked"
    stop = threading.Event()
    swaps = 0

    def put_back() -> None:
        while True:
            try:
                if inner.is_symlink():
                    os.unlink(inner)
                elif inner.is_dir():
                    # A write found no folder for a moment and made one (inside): drop it.
                    shutil.rmtree(inner)
                os.rename(parked, inner)
                return
            except OSError:
                continue  # the writer is busy in it right now; try again

    def swap() -> None:
        nonlocal swaps
        # What a command of another ticket can do: the folder goes, a symlink out takes its place.
        while not stop.is_set():
            os.rename(inner, parked)
            try:
                os.symlink(outside, inner)
            except FileExistsError:
                pass
            put_back()
            swaps += 1

    async def writes() -> tuple[int, int]:
        attempts = written = 0
        deadline = time.monotonic() + 2.0
        while attempts < 2000 and time.monotonic() < deadline:
            outcome = await executor.execute("t1", WriteFileArgs(path="sub/inner/f.txt", content=f"{attempts}\n"))
            attempts += 1
            written += outcome.ok
        return attempts, written

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        attempts, written = asyncio.run(writes())
    finally:
        stop.set()
        swapper.join()
    print(f"{attempts} writes ({written} applied) against {swaps} swaps")
    assert attempts > 100 and swaps > 100, (attempts, swaps)
    assert sorted(os.listdir(outside)) == [], "a write landed outside the repository"
    assert _temp_files(fast_base) == []
    # The writes that were allowed landed in the real folder, wherever it was at the time.
    assert written == 0 or (inner / "f.txt").is_file() or (parked / "f.txt").is_file()


async def test_a_swap_after_the_last_check_is_refused_by_the_walk(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = repo.parent / "outside"
    outside.mkdir()
    (repo / "sub" / "inner").mkdir(parents=True)
    executor = ToolExecutor(repo)
    checks = 0
    original = ToolExecutor._write_target

    def check_then_swap(self: ToolExecutor, path: str) -> tuple[Path, str]:
        nonlocal checks
        result = original(self, path)
        checks += 1
        if checks == 2:  # the executor's last look before the write: the swap comes right after
            os.rename(repo / "sub" / "inner", repo / "sub" / "parked")
            os.symlink(outside, repo / "sub" / "inner")
        return result

    monkeypatch.setattr(ToolExecutor, "_write_target", check_then_swap)
    outcome = await executor.execute("t1", WriteFileArgs(path="sub/inner/new.py", content="pwned\n"))
    assert checks == 2
    assert not outcome.ok and "symlink" in outcome.output, outcome.output
    assert os.listdir(outside) == []
    assert _temp_files(repo.parent) == []


def test_the_walk_refuses_symlinks_and_special_files_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "d").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "link_dir")
    os.symlink("d", root / "inside_link")
    (root / "d" / "target.txt").write_text("t\n")
    os.symlink("target.txt", root / "d" / "file_link")
    os.mkfifo(root / "d" / "fifo")
    (root / "d" / "folder").mkdir()
    before = tree_fingerprint(tmp_path)
    for rel in ("link_dir/x", "link_dir/new/x", "inside_link/x", "d/file_link", "d/fifo", "d/folder"):
        with pytest.raises(PathRefused):
            replace_at(root, rel, b"x")
        with pytest.raises(PathRefused):
            restore_at(root, rel, b"x")
    with pytest.raises(SlopError, match="is a file"):
        replace_at(root, "d/target.txt/x", b"x")
    assert tree_fingerprint(tmp_path) == before
    # Reads through the walk: absent is None, a symlinked folder is refused.
    assert read_at(root, "d/target.txt") == b"t\n"
    assert read_at(root, "d/missing/x") is None
    with pytest.raises(PathRefused):
        read_at(root, "link_dir/x")


def test_the_walk_keeps_the_mode_makes_folders_and_cleans_dead_temps(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "bin").mkdir(parents=True)
    script = root / "bin" / "run.sh"
    script.write_text("old\n")
    script.chmod(0o750)
    replace_at(root, "bin/run.sh", b"new\n")
    assert script.read_bytes() == b"new\n" and (script.stat().st_mode & 0o777) == 0o750
    replace_at(root, "a/b/c.txt", b"deep\n")
    assert (root / "a" / "b" / "c.txt").read_bytes() == b"deep\n"
    # A writer killed between its write and its rename (pid 2**22+1 is never alive here).
    dead = root / "bin" / f".run.sh.{2**22 + 1}.7.tmp"
    dead.write_text("half")
    restore_at(root, "bin/run.sh", b"old\n")
    assert script.read_bytes() == b"old\n" and not dead.exists()
    restore_at(root, "a/b/c.txt", None)
    assert not (root / "a" / "b" / "c.txt").exists()
    assert _temp_files(tmp_path) == []


# ---------------------------------------------------------------------------
# Undo and resume restore through the same checks
# ---------------------------------------------------------------------------


class PlantedStore(Store):
    """A real store whose pre-image index also lists a planted path, as if the store's own
    checks had been got past: the executor must refuse it by itself (defence in depth)."""

    planted: dict[str, bytes | None] = {}

    def preimages(self, ticket_id: str) -> dict[str, bytes | None]:
        return {**super().preimages(ticket_id), **self.planted}


@pytest.mark.parametrize(
    "planted",
    [".git/config", "vendor/lib/.git/config", ".GIT/config", "vendor/lib/git~1/config", "sub/config",
     "../outside.txt", "src/../../outside.txt", "/etc/passwd", ".git/hooks/pre-commit"],
)
async def test_a_planted_pre_image_is_refused_before_anything_is_restored(repo: Path, planted: str) -> None:
    store = PlantedStore(repo)
    executor = ToolExecutor(repo, store=store)
    outcome = await executor.execute("t1", WriteFileArgs(path="src/ok.py", content="x = 2\n"))
    assert outcome.ok
    if planted == "sub/config":
        os.symlink(".git", repo / "sub")  # planted since: an inside symlink into .git
    # What a hostile repository (or a tampered .slop/) holds: an index entry for .git/config.
    store.planted = {planted: HOSTILE_CONFIG}
    (repo.parent / "outside.txt").write_text("victim\n")
    before = tree_fingerprint(repo / ".git")
    embedded = tree_fingerprint(repo / "vendor" / "lib" / ".git")
    with pytest.raises(SlopError) as refused:
        executor.undo("t1")
    assert "\n" not in str(refused.value)
    assert tree_fingerprint(repo / ".git") == before
    assert tree_fingerprint(repo / "vendor" / "lib" / ".git") == embedded
    # Checked first, refused whole: the ticket's own file is not half undone either.
    assert (repo / "src" / "ok.py").read_text() == "x = 2\n"
    assert (repo.parent / "outside.txt").read_text() == "victim\n"
    assert not (repo / "hooks").exists()


async def test_undo_still_restores_and_removes_what_a_ticket_changed(repo: Path) -> None:
    executor = ToolExecutor(repo, store=Store(repo))
    assert (await executor.execute("t1", WriteFileArgs(path="src/ok.py", content="x = 2\n"))).ok
    assert (await executor.execute("t1", WriteFileArgs(path="new/made.py", content="y\n"))).ok
    assert sorted(executor.undo("t1")) == ["new/made.py", "src/ok.py"]
    assert (repo / "src" / "ok.py").read_text() == "x = 1\n"
    assert not (repo / "new" / "made.py").exists()
    assert _temp_files(repo) == []


# ---------------------------------------------------------------------------
# The write size cap
# ---------------------------------------------------------------------------


async def test_the_default_cap_refuses_a_9_mb_write(repo: Path) -> None:
    executor = ToolExecutor(repo, store=Store(repo))
    args = WriteFileArgs(path="big.txt", content="x" * 9_000_000)
    outcome = await executor.execute("t1", args)
    assert not outcome.ok
    assert outcome.output.startswith(
        "write_file refused: 9,000,000 bytes is more than the 8,000,000-byte limit"
    ), outcome.output
    assert not (repo / "big.txt").exists()
    assert not (repo / ".slop" / "preimages").exists()
    proposal = executor.propose("t1", args)
    assert proposal.error is not None and proposal.error.startswith("write_file refused: 9,000,000 bytes")
    assert proposal.diff == ""


async def test_the_cap_counts_bytes_and_covers_edits(repo: Path) -> None:
    executor = ToolExecutor(repo, store=Store(repo), max_write_bytes=1000)
    before = tree_fingerprint(repo)
    too_big = WriteFileArgs(path="big.txt", content="é" * 600)  # 600 characters, 1,200 bytes
    with pytest.raises(SlopError, match="1,200 bytes is more than the 1,000-byte limit"):
        executor.validate(too_big)
    outcome = await executor.execute("t1", too_big)
    assert not outcome.ok and "1,200 bytes" in outcome.output
    (repo / "src" / "ok.py").write_text("x = 1\n" + "#" * 900 + "\n")
    before = tree_fingerprint(repo)
    grows = EditFileArgs(path="src/ok.py", old="x = 1", new="x = " + "1" * 200)
    proposal = executor.propose("t1", grows)
    assert proposal.error is not None and proposal.error.startswith("edit_file refused: the edited src/ok.py")
    outcome = await executor.execute("t1", grows)
    assert not outcome.ok and "more than the 1,000-byte limit" in outcome.output
    huge_new = EditFileArgs(path="src/ok.py", old="x = 1", new="y" * 2000)
    outcome = await executor.execute("t1", huge_new)
    assert not outcome.ok and outcome.output.startswith("edit_file refused: `new` is 2,000 bytes")
    assert tree_fingerprint(repo) == before
    assert not (repo / ".slop" / "preimages").exists()
    # At the limit is fine.
    assert (await executor.execute("t1", WriteFileArgs(path="ok.txt", content="z" * 1000))).ok
