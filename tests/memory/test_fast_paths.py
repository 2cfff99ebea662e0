"""The shortcuts the view walk and the cache lookup take, on the inputs that could fool them.

The walk finds a header's colon by a byte search when no comment sign sits before the body, and
rules docstrings out from the body's first bytes; the cache serves a repeated lookup with one
dict lookup and one `stat`. Each case here is one where a careless shortcut gives a wrong answer.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from slop_tui.memory import file_cache
from slop_tui.memory.file_cache import FileCache

OLD_NS = 1_600_000_000 * 1_000_000_000  # far outside the racy window


def skeleton(tmp_path: Path, source: str) -> str:
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    return FileCache().get_skeleton_view(path)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Colons and comment signs in strings, comments, annotations and defaults.
        ('def f(a="#:"):  # note: here\n    return a\n', 'def f(a="#:"): ...\n'),
        ("def f():  # see: below\n    pass\n", "def f(): ...\n"),
        ("class A:  # base: none\n    x = 1\n", "class A:\n    x = 1\n"),
        ('def f(x) -> "a:b":\n    pass\n', 'def f(x) -> "a:b": ...\n'),
        ("def f(a=lambda: 1): pass\n", "def f(a=lambda: 1): ...\n"),
        (
            "def f(a,  # first: a\n      b):\n    pass\n",
            "def f(a,  # first: a\n      b): ...\n",
        ),
        (
            'def f(\n    a,\n) -> int:  # returns: int\n    """Doc."""\n',
            'def f(\n    a,\n) -> int:\n    """Doc."""\n    ...\n',
        ),
        ("@dec  # deco: note\ndef f(): pass\n", "@dec  # deco: note\ndef f(): ...\n"),
        (
            'class A(B, metaclass=M):  # meta: yes\n    """Doc: here."""\n    def m(self): pass\n',
            'class A(B, metaclass=M):\n    """Doc: here."""\n    def m(self): ...\n',
        ),
        # Bodies that start with a string prefix letter, or with a string that is no docstring.
        ('def f():\n    return "x"\n', "def f(): ...\n"),
        ('def f():\n    rb"abc"\n', "def f(): ...\n"),
        ('def f():\n    R"""Raw doc."""\n', 'def f():\n    R"""Raw doc."""\n    ...\n'),
        ('def f():\n    "a", "b"\n', "def f(): ...\n"),
        ('def f():\n    "doc".strip()\n', "def f(): ...\n"),
        ("def f(): u", "def f(): ...\n"),  # the file ends inside what could be a prefix
    ],
)
def test_header_and_docstring_shortcuts_are_not_fooled(
    tmp_path: Path, source: str, expected: str
) -> None:
    text = skeleton(tmp_path, source)
    assert text == expected
    ast.parse(text)


def _write_old(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(OLD_NS, OLD_NS))


def test_a_cached_lookup_is_one_stat_and_no_path_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.py"
    _write_old(path, "def one(): pass\n")
    cache = FileCache()
    cache.get_skeleton_view(path)
    calls: list[str] = []
    real_stat, real_abspath = os.stat, os.path.abspath

    def counting_stat(target: str) -> os.stat_result:
        calls.append("stat")
        return real_stat(target)

    def counting_abspath(target: str) -> str:
        calls.append("abspath")
        return real_abspath(target)

    monkeypatch.setattr(file_cache.os, "stat", counting_stat)
    monkeypatch.setattr(file_cache.os.path, "abspath", counting_abspath)
    for _ in range(3):
        assert cache.get_skeleton_view(path) == "def one(): ...\n"
        assert cache.get_skeleton_view(str(path)) == "def one(): ...\n"
    assert calls == ["stat"] * 6
    assert cache.counters.reads == 1


def test_a_relative_path_follows_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _write_old(first / "a.py", "def one(): pass\n")
    _write_old(second / "a.py", "def two(): pass\n")
    cache = FileCache()
    monkeypatch.chdir(first)
    assert cache.get_skeleton_view("a.py") == "def one(): ...\n"
    monkeypatch.chdir(second)
    assert cache.get_skeleton_view("a.py") == "def two(): ...\n"
    assert cache.get_view("a.py", "skeleton").path == str(second / "a.py")


def test_a_changed_file_is_seen_through_every_spelling(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    _write_old(path, "def one(): pass\n")
    cache = FileCache()
    spellings = [str(path), f"{tmp_path}/./a.py", f"{tmp_path}//a.py"]
    for spelling in spellings:
        assert cache.get_skeleton_view(spelling) == "def one(): ...\n"
    assert len(cache) == 1
    _write_old(path, "def three(): pass\n")  # another size: the stat tells
    assert cache.get_skeleton_view(spellings[1]) == "def three(): ...\n"
    for spelling in spellings:
        assert cache.get_skeleton_view(spelling) == "def three(): ...\n"
    assert (cache.counters.reads, cache.counters.parses) == (2, 2)


def test_clear_forgets_every_spelling(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    _write_old(path, "def one(): pass\n")
    cache = FileCache()
    cache.get_skeleton_view(path)
    _write_old(path, "def two(): pass\n")  # same size and mtime: only a read can tell
    cache.clear()
    assert len(cache) == 0
    assert cache.get_skeleton_view(path) == "def two(): ...\n"
    assert cache.counters.reads == 2
