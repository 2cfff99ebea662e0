"""The file cache: stat hits without reading, hash checks, invalidate/rebuild, and errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from slop_tui.memory import file_cache
from slop_tui.memory.file_cache import FileCache, ViewError

OLD_NS = 1_600_000_000 * 1_000_000_000  # September 2020: far outside the racy window


def write(path: Path, text: str, mtime_ns: int | None = OLD_NS) -> None:
    path.write_text(text, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_matching_stat_serves_the_cached_view_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, "def one(): pass\n")
    cache = FileCache()
    assert cache.get_skeleton_view(path) == "def one(): ...\n"
    assert (cache.counters.reads, cache.counters.parses) == (1, 1)
    # Same size, same mtime, different bytes: only a read could notice, and none happens.
    write(path, "def two(): pass\n")
    assert cache.get_skeleton_view(path) == "def one(): ...\n"
    assert cache.counters.reads == 1
    assert cache.counters.stat_hits == 1


def test_changed_stat_with_same_bytes_reads_but_does_not_reparse(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, "def one(): pass\n")
    cache = FileCache()
    first = cache.get_skeleton_view(path)
    write(path, "def one(): pass\n", mtime_ns=OLD_NS + 5_000_000_000)
    assert cache.get_skeleton_view(path) == first
    assert (cache.counters.reads, cache.counters.parses) == (2, 1)
    # The new stat is remembered: the next lookup is a stat hit again.
    cache.get_skeleton_view(path)
    assert cache.counters.reads == 2


def test_changed_bytes_reparse(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, "def one(): pass\n")
    cache = FileCache()
    cache.get_skeleton_view(path)
    write(path, "def three(x): pass\n", mtime_ns=OLD_NS + 1)
    assert cache.get_skeleton_view(path) == "def three(x): ...\n"
    assert (cache.counters.reads, cache.counters.parses) == (2, 2)


def test_a_just_written_file_is_hashed_even_when_its_stat_matches(tmp_path: Path) -> None:
    # Two writes of the same size inside one clock tick leave the same stat; a stat taken that
    # recently cannot be trusted, so the cache reads and hashes.
    path = tmp_path / "a.py"
    now = time.time_ns()
    write(path, "def one(): pass\n", mtime_ns=now)
    cache = FileCache()
    assert cache.get_skeleton_view(path) == "def one(): ...\n"
    write(path, "def two(): pass\n", mtime_ns=now)
    assert cache.get_skeleton_view(path) == "def two(): ...\n"


def test_each_view_kind_is_built_once(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, '"""Doc."""\ndef one(): pass\n')
    cache = FileCache()
    for _ in range(3):
        assert cache.get_curated_view(path) == '"""Doc."""\n\ndef one(): ... # Hidden\n'
        assert cache.get_skeleton_view(path) == "def one(): ...\n"
        assert cache.get_raw_view(path) == '"""Doc."""\ndef one(): pass\n'
    assert (cache.counters.reads, cache.counters.parses) == (1, 2)


def test_relative_and_absolute_paths_share_an_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a.py", "x = 1\n")
    monkeypatch.chdir(tmp_path)
    cache = FileCache()
    cache.get_skeleton_view("a.py")
    cache.get_skeleton_view(tmp_path / "a.py")
    assert len(cache) == 1
    assert cache.counters.reads == 1


def test_invalidate_forgets_and_rebuild_builds_again(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    write(a, "def one(): pass\n")
    write(b, "def two(): pass\n")
    cache = FileCache()
    cache.get_skeleton_view(a)
    cache.get_skeleton_view(b)
    # A stub lands with the same size and mtime: only an explicit rebuild can know.
    write(a, "def uno(): pass\n")
    assert cache.get_skeleton_view(a) == "def one(): ...\n"
    rebuilt = cache.rebuild([a, tmp_path / "deleted.py"])
    assert rebuilt == [str(a)]
    parses = cache.counters.parses
    assert cache.get_skeleton_view(a) == "def uno(): ...\n"
    assert cache.get_curated_view(a) == "def uno(): ... # Hidden\n"
    assert cache.counters.parses == parses  # rebuild made both views already
    write(b, "def dos(): pass\n")
    cache.invalidate([str(b)])
    assert cache.get_skeleton_view(b) == "def dos(): ...\n"


def test_module_functions_use_the_default_cache(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, "def one(): pass\n")
    assert file_cache.get_skeleton_view(path) == "def one(): ...\n"
    assert file_cache.get_curated_view(str(path)) == "def one(): ... # Hidden\n"
    assert file_cache.get_raw_view(path) == "def one(): pass\n"
    write(path, "def two(): pass\n")
    assert file_cache.rebuild([path]) == [str(path)]
    assert file_cache.get_skeleton_view(path) == "def two(): ...\n"
    write(path, "def six(): pass\n")
    file_cache.invalidate([path])
    assert file_cache.get_skeleton_view(path) == "def six(): ...\n"


def test_a_file_without_a_grammar_is_its_own_view(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    write(path, "# Notes\n\ndef not_code(): pass\n")
    cache = FileCache()
    assert cache.get_skeleton_view(path) == "# Notes\n\ndef not_code(): pass\n"
    assert cache.get_curated_view(path) == cache.get_raw_view(path)


def test_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbfdef f(): pass\n")
    assert FileCache().get_skeleton_view(path) == "def f(): ...\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"\x7fELF\x00\x00binary", "binary file"),
        (b"x = '\xff\xfe'\n", "not readable as utf-8 text"),
        (b"# coding: no-such-codec\nx = 1\n", "not readable as no-such-codec text"),
    ],
)
def test_errors_name_the_file_in_one_line(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "bad.py"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ViewError) as caught:
        FileCache().get_skeleton_view(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ViewError, match="is a directory"):
        FileCache().get_raw_view(tmp_path)


def test_a_file_that_becomes_undecodable_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, "def one(): pass\n")
    cache = FileCache()
    cache.get_skeleton_view(path)
    path.write_bytes(b"\x00\x01")
    with pytest.raises(ViewError):
        cache.get_skeleton_view(path)
    assert len(cache) == 0
    path.unlink()
    with pytest.raises(ViewError, match="no such file"):
        cache.get_skeleton_view(path)


def test_unknown_view_kind_is_a_programming_error(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "x = 1\n")
    with pytest.raises(ValueError, match="unknown view kind"):
        FileCache().get_view(tmp_path / "a.py", "summary")  # type: ignore[arg-type]


def test_unnormalized_paths_share_the_entry_and_its_invalidation(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    write(path, "def one(): pass\n")
    cache = FileCache()
    dotted = f"{tmp_path}/./sub/../a.py"
    (tmp_path / "sub").mkdir()
    assert cache.get_skeleton_view(dotted) == "def one(): ...\n"
    assert cache.get_skeleton_view(path) == "def one(): ...\n"
    assert len(cache) == 1
    write(path, "def two(): pass\n")  # same size and mtime: only invalidation can tell
    cache.invalidate([dotted])
    assert cache.get_skeleton_view(path) == "def two(): ...\n"
