"""Every standard-library file `ast.parse` accepts: its views parse and keep every module- and
class-level class and function (under `if`/`try`/`with` too) with its parameter names; the files
it refuses (Python 2 test data under lib2to3) still get views.

One test for both views: the reference definitions (2.4 s of parsing) are read once, where a
fixture shared by several tests was read again on each xdist worker that ran one of them."""

from __future__ import annotations

import ast
from collections import Counter

from slop_tui.memory.file_cache import FileCache, ViewKind
from tests.memory.helpers import Definition, definitions, stdlib_files

KINDS: tuple[ViewKind, ...] = ("skeleton", "curated")


def references() -> tuple[dict[str, Counter[Definition]], list[str]]:
    """Each parsable file's definitions, and the files `ast.parse` refuses."""
    found: dict[str, Counter[Definition]] = {}
    unparsable: list[str] = []
    for path in stdlib_files():
        with open(path, "rb") as handle:
            source = handle.read()
        try:
            found[path] = definitions(ast.parse(source))
        except SyntaxError:
            unparsable.append(path)
    return found, unparsable


def test_every_stdlib_file_gets_views_that_parse_and_keep_every_definition() -> None:
    parsable, unparsable = references()
    assert len(parsable) > 500
    assert unparsable, "expected the Python 2 files under lib2to3/tests/data"
    cache = FileCache()
    failures: list[str] = []
    for kind in KINDS:
        for path, expected in parsable.items():
            text = cache.get_view(path, kind).text
            try:
                got = definitions(ast.parse(text))
            except SyntaxError as exc:
                failures.append(f"{path}: the {kind} view does not parse: {exc}")
                continue
            missing = expected - got
            if missing:
                failures.append(f"{path}: the {kind} view lost {sorted(missing)[:3]}")
        for path in unparsable:
            cache.get_view(path, kind)  # must not raise
    assert failures == []
