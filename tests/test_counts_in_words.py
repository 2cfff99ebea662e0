"""No `(s)` plurals in what slop says (issue 19): counts go through `slop_tui/words.py`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from slop_tui.words import counted, plural, verb

PACKAGE = Path(__file__).resolve().parents[1] / "slop_tui"
HEDGED = re.compile(r"\w\((?:s|es|ies)\)")  # `file(s)`, `match(es)`, `entr(ies)`


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose for developers, not messages."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def hedged_plurals(source: str) -> list[str]:
    """Each string literal (f-string parts included) with a `(s)` plural, docstrings aside."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and HEDGED.search(node.value)
    ]


def test_the_scan_finds_a_hedged_plural_in_a_message_and_not_in_a_docstring() -> None:
    source = '"""Reads the file(s)."""\ndef f(n):\n    """line(s)"""\n    return f"{n} line(s) dropped"\n'
    assert hedged_plurals(source) == [" line(s) dropped"]


def test_no_message_in_slop_tui_says_s_in_brackets() -> None:
    sample = PACKAGE / "demo" / "sample_repo"  # the demo's deliberately messy code is not slop's
    found = {
        path.relative_to(PACKAGE).as_posix(): hits
        for path in sorted(PACKAGE.rglob("*.py"))
        if sample not in path.parents and (hits := hedged_plurals(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_words_for_the_messages_that_used_brackets() -> None:
    assert counted(1, "corrupt line") == "1 corrupt line" and counted(2, "corrupt line") == "2 corrupt lines"
    assert plural(1, "ticket id") == "ticket id" and plural(3, "track id") == "track ids"
    assert counted(2, "pre-image") == "2 pre-images" and verb(2, "belongs", "belong") == "belong"
    assert counted(0, "commit") == "0 commits"
