"""Every standard-library file `ast.parse` accepts: its views parse and keep every module- and
class-level class and function (under `if`/`try`/`with` too) with its parameter names."""

from __future__ import annotations

import ast
from collections import Counter

import pytest

from slop_tui.memory.file_cache import FileCache, ViewKind
from tests.memory.helpers import Definition, definitions, stdlib_files


@pytest.fixture(scope="module")
def references() -> dict[str, Counter[Definition]]:
    found: dict[str, Counter[Definition]] = {}
    for path in stdlib_files():
        with open(path, "rb") as handle:
            source = handle.read()
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # Python 2 test data under lib2to3; test_unparsable_files covers them
        found[path] = definitions(tree)
    return found


def test_the_stdlib_is_there(references: dict[str, Counter[Definition]]) -> None:
    assert len(references) > 500


@pytest.mark.parametrize("kind", ["skeleton", "curated"])
def test_views_parse_and_keep_every_definition(
    references: dict[str, Counter[Definition]], kind: ViewKind
) -> None:
    cache = FileCache()
    failures: list[str] = []
    for path, expected in references.items():
        text = cache.get_view(path, kind).text
        try:
            got = definitions(ast.parse(text))
        except SyntaxError as exc:
            failures.append(f"{path}: the {kind} view does not parse: {exc}")
            continue
        missing = expected - got
        if missing:
            failures.append(f"{path}: the {kind} view lost {sorted(missing)[:3]}")
    assert failures == []


def test_unparsable_files_still_get_views(references: dict[str, Counter[Definition]]) -> None:
    cache = FileCache()
    others = [path for path in stdlib_files() if path not in references]
    assert others, "expected the Python 2 files under lib2to3/tests/data"
    for path in others:
        for kind in ("skeleton", "curated"):
            cache.get_view(path, kind)  # must not raise
