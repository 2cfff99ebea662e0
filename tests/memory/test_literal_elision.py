"""Long literal values in skeleton (and, when huge, curated) views: a data table becomes
`NAME = {...}  # 3,412 entries`, the view still parses, short constants stay as written."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from slop_tui.memory.ast_views import CURATED_LITERAL_LIMIT, SKELETON_LITERAL_LIMIT
from slop_tui.memory.file_cache import FileCache, ViewKind


def view(tmp_path: Path, source: str, kind: ViewKind = "skeleton") -> str:
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    text = FileCache().get_view(path, kind).text
    ast.parse(text)  # every view of valid Python is valid Python
    return text


def emoji_codes(entries: int) -> str:
    """A file shaped like rich's `_emoji_codes.py`: one dict of names to emoji, nothing else."""
    rows = "".join(f'    "emoji_name_{i}": "{chr(0x1F600 + i % 80)}",\n' for i in range(entries))
    return "EMOJI = {\n" + rows + "}\n"


def test_an_emoji_table_becomes_one_line_in_both_views(tmp_path: Path) -> None:
    source = emoji_codes(3412)
    ast.parse(source)
    assert len(source) > 20 * CURATED_LITERAL_LIMIT
    for kind in ("skeleton", "curated"):
        assert view(tmp_path, source, kind) == "EMOJI = {...}  # 3,412 entries\n"


def test_short_constants_stay_exactly_as_written(tmp_path: Path) -> None:
    just_short = "x" * (SKELETON_LITERAL_LIMIT - 10)
    source = (
        "import os\n\n"
        '__all__ = ["Console", "Text"]\n'
        'SMALL = {"a": 1, "b": [1, 2, 3]}\n'
        f'PATTERN = "{just_short}"\n'
        "NUMBERS = tuple(range(100))\n\n"
        "class Style:\n"
        "    DEFAULTS = {'bold': False}\n"
        "    def render(self): return 1\n"
    )
    text = view(tmp_path, source)
    for line in (
        '__all__ = ["Console", "Text"]',
        'SMALL = {"a": 1, "b": [1, 2, 3]}',
        f'PATTERN = "{just_short}"',
        "NUMBERS = tuple(range(100))",
        "    DEFAULTS = {'bold': False}",
    ):
        assert line + "\n" in text
    assert "..." not in text.replace("def render(self): ...", "")


def _items(count: int) -> str:
    return ", ".join(f'"item number {i}"' for i in range(count))


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (f"NAMES = [{_items(40)}]", "NAMES = [...]  # 40 entries"),
        (f"PAIR = ({_items(30)})", "PAIR = (...)  # 30 entries"),
        (f"BARE = {_items(30)}", "BARE = (...)  # 30 entries"),
        (f"KNOWN = {{{_items(25)}}}", "KNOWN = {...}  # 25 entries"),
        (f"TABLE: dict[str, int] = {{{', '.join(f'{i}: {i}' for i in range(200))}}}",
         "TABLE: dict[str, int] = {...}  # 200 entries"),
        (f"ONE = ['{'y' * 500}']", "ONE = [...]  # 1 entry"),
        (f"TEXT = '{'z' * 1000}'", "TEXT = '...'  # 1,002 characters"),
        (f"DATA = b'{'z' * 1000}'", "DATA = b'...'  # 1,003 characters"),
        (f"FMT = rf'{'z' * 1000}'", "FMT = rf'...'  # 1,004 characters"),
        (f"__all__ += [{_items(40)}]", "__all__ += [...]  # 40 entries"),
        (f"A = B = [{_items(40)}]", "A = B = [...]  # 40 entries"),
        (f"FROZEN = frozenset({{{_items(40)}}})", "FROZEN = frozenset({...})  # 40 entries"),
        ("WRAPPED = (\n" + "".join(f"    'line {i} of a long table'\n" for i in range(40)) + ")",
         "WRAPPED = '...'  # 1,185 characters"),
    ],
)
def test_each_kind_of_long_literal_gets_its_placeholder(
    tmp_path: Path, statement: str, expected: str
) -> None:
    ast.parse(statement)
    assert view(tmp_path, statement + "\n") == expected + "\n"


def test_class_level_tables_are_elided_and_comments_are_not_entries(tmp_path: Path) -> None:
    rows = "".join(f"        'k{i}': {i},  # the {i}th\n" for i in range(50))
    source = (
        "class Palette:\n"
        '    """Named colours."""\n'
        f"    COLORS = {{\n        # a header comment\n{rows}    }}\n"
        "    def get(self, name): return self.COLORS[name]\n"
    )
    assert view(tmp_path, source) == (
        "class Palette:\n"
        '    """Named colours."""\n'
        "    COLORS = {...}  # 50 entries\n"
        "    def get(self, name): ...\n"
    )


def test_curated_views_keep_a_targets_constants_unless_they_are_huge(tmp_path: Path) -> None:
    medium = f"SETTINGS = {{{', '.join(f'{i!r}: {i}' for i in range(150))}}}"
    assert SKELETON_LITERAL_LIMIT < len(medium) < CURATED_LITERAL_LIMIT
    huge = f"HUGE = [{_items(500)}]"
    assert len(huge) > CURATED_LITERAL_LIMIT
    source = f"{medium}\n{huge}\n"
    assert view(tmp_path, source, "skeleton") == (
        "SETTINGS = {...}  # 150 entries\nHUGE = [...]  # 500 entries\n"
    )
    assert view(tmp_path, source, "curated") == f"{medium}\nHUGE = [...]  # 500 entries\n"


def test_a_long_call_without_a_long_literal_is_kept_whole(tmp_path: Path) -> None:
    # Elision is for data, not code: a long expression of short parts stays readable.
    statement = "SETTINGS = make(" + ", ".join(f"option_{i}=[{i}]" for i in range(60)) + ")"
    assert len(statement) > SKELETON_LITERAL_LIMIT
    assert view(tmp_path, statement + "\n") == statement + "\n"


def test_hot_bodies_and_imports_are_never_elided(tmp_path: Path) -> None:
    long_list = f"[{_items(40)}]"
    names = ", ".join(f"name_{i}" for i in range(100))
    source = (
        f"from package import ({names})\n\n"
        "# [HOT]\n"
        f"def table():\n    return {long_list}\n"
    )
    text = view(tmp_path, source, "curated")
    assert f"from package import ({names})" in text
    assert f"    return {long_list}" in text
