"""Skeleton and curated views on tricky files: exact output, and every view parses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from slop_tui.memory.file_cache import FileCache, ViewKind
from tests.memory.helpers import definitions

DATA = Path(__file__).parent / "data"


def view(tmp_path: Path, source: str | bytes, kind: ViewKind = "skeleton") -> str:
    path = tmp_path / "module.py"
    if isinstance(source, str):
        path.write_text(source, encoding="utf-8")
    else:
        path.write_bytes(source)
    return FileCache().get_view(path, kind).text


def source_file(tmp_path: Path, name: str) -> Path:
    """A data file as a `.py` file (the broken one is stored as text so no tool chokes on it)."""
    if name == "tricky":
        return DATA / "tricky.py"
    path = tmp_path / f"{name}.py"
    path.write_bytes((DATA / f"{name}_source.txt").read_bytes())
    return path


@pytest.mark.parametrize("name", ["tricky", "broken"])
@pytest.mark.parametrize("kind", ["skeleton", "curated"])
def test_view_matches_the_reviewed_output(tmp_path: Path, name: str, kind: ViewKind) -> None:
    result = FileCache().get_view(source_file(tmp_path, name), kind)
    expected = (DATA / f"{name}.{kind}.txt").read_text(encoding="utf-8")
    assert result.text == expected
    ast.parse(result.text)
    assert (result.syntax_problem is None) == (name == "tricky")


@pytest.mark.parametrize("kind", ["skeleton", "curated"])
def test_tricky_views_keep_every_definition_with_its_parameters(kind: ViewKind) -> None:
    source = (DATA / "tricky.py").read_text(encoding="utf-8")
    text = FileCache().get_view(DATA / "tricky.py", kind).text
    assert definitions(ast.parse(text)) == definitions(ast.parse(source))


def test_non_ascii_comes_out_byte_exact() -> None:
    source = (DATA / "tricky.py").read_bytes()
    for kind in ("skeleton", "curated"):
        out = FileCache().get_view(DATA / "tricky.py", kind).text.encode("utf-8")
        for needle in ("def grüße(naïve: str = \"é\") -> str:", 'ÄPFEL = "grüne Äpfel 🍏"'):
            encoded = needle.encode("utf-8")
            assert encoded in source and encoded in out


def test_skeleton_hides_bodies_and_nested_functions(tmp_path: Path) -> None:
    text = view(tmp_path, "def outer(a):\n    def inner(b):\n        return b\n    return inner\n")
    assert text == "def outer(a): ...\n"


def test_curated_hot_marker_rules(tmp_path: Path) -> None:
    source = (
        "# [HOT]\n"
        "def above(): return 1\n"
        "\n"
        "# [HOT]\n"
        "@wrap(1)\n"
        "def above_decorators(): return 2\n"
        "\n"
        "@wrap(2)\n"
        "# [HOT]\n"
        "def between_decorator_and_def(): return 3\n"
        "\n"
        "def trailing():  # [HOT]\n"
        "    return 4\n"
        "\n"
        "# [HOT]\n"
        "\n"
        "def blank_line_between(): return 5\n"
        "\n"
        "x = 1  # [HOT]\n"
        "def trailing_comment_of_the_line_above(): return 6\n"
        "\n"
        "def marker_in_a_default(a='# [HOT]'): return 7\n"
        "\n"
        "# [HOT] because it is the inner loop\n"
        "def marker_with_a_reason(): return 8\n"
        "\n"
        "# [HOTTER]\n"
        "def another_word(): return 10\n"
        "\n"
        "# not [HOT]\n"
        "def marker_not_first(): return 9\n"
    )
    text = view(tmp_path, source, "curated")
    for shown in ("return 1", "return 2", "return 3", "return 4", "return 8"):
        assert shown in text
    for hidden in ("return 5", "return 6", "return 7", "return 9", "return 10"):
        assert hidden not in text
    assert "def blank_line_between(): ... # Hidden" in text
    ast.parse(text)
    # The skeleton shows no body at all.
    skeleton = view(tmp_path, source, "skeleton")
    assert "return" not in skeleton
    ast.parse(skeleton)


@pytest.mark.parametrize(
    "decorator",
    ["@core_logic", "@core_logic()", "@pkg.core_logic", "@pkg.sub.core_logic(level=2)"],
)
def test_core_logic_decorator_shows_the_body(tmp_path: Path, decorator: str) -> None:
    text = view(tmp_path, f"{decorator}\ndef f(x):\n    return x * 2\n", "curated")
    assert text == f"{decorator}\ndef f(x):\n    return x * 2\n"


@pytest.mark.parametrize("decorator", ["@not_core_logic", "@core_logic_extra", "@core"])
def test_other_decorators_do_not(tmp_path: Path, decorator: str) -> None:
    text = view(tmp_path, f"{decorator}\ndef f(x):\n    return x * 2\n", "curated")
    assert text == f"{decorator}\ndef f(x): ... # Hidden\n"


def test_hot_method_body_keeps_its_indentation(tmp_path: Path) -> None:
    source = "class A:\n\tx = 1\n\t# [HOT]\n\tdef m(self):\n\t\tif self:\n\t\t\treturn 1\n"
    text = view(tmp_path, source, "curated")
    assert text == "class A:\n\tx = 1\n\tdef m(self):\n\t\tif self:\n\t\t\treturn 1\n"


def test_tab_indentation_is_kept(tmp_path: Path) -> None:
    source = "class A:\n\tdef m(self):\n\t\t'''Doc.'''\n\t\treturn 1\n"
    text = view(tmp_path, source)
    assert text == "class A:\n\tdef m(self):\n\t\t'''Doc.'''\n\t\t...\n"
    ast.parse(text)


def test_block_structure_stays_and_empty_branches_get_a_placeholder(tmp_path: Path) -> None:
    source = (
        "import sys\n"
        "if sys.version_info >= (3, 12):\n"
        "    from typing import override\n"
        "elif sys.platform == 'win32':\n"
        "    print('nothing kept here')\n"
        "else:\n"
        "    def override(f): return f\n"
        "try:\n"
        "    setup()\n"
        "except* ValueError:\n"
        "    def fallback(): pass\n"
        "with lock:\n"
        "    class Guarded: pass\n"
        "if DEBUG:\n"
        "    print('dropped whole: nothing kept in any branch')\n"
        "for name in names:\n"
        "    def in_a_loop(): pass\n"
    )
    text = view(tmp_path, source)
    assert text == (
        "import sys\n"
        "\n"
        "if sys.version_info >= (3, 12):\n"
        "    from typing import override\n"
        "elif sys.platform == 'win32':\n"
        "    ...\n"
        "else:\n"
        "    def override(f): ...\n"
        "\n"
        "try:\n"
        "    ...\n"
        "except* ValueError:\n"
        "    def fallback(): ...\n"
        "\n"
        "with lock:\n"
        "    class Guarded: ...\n"
    )
    ast.parse(text)


def test_entry_point_block_is_dropped_unless_it_has_an_else(tmp_path: Path) -> None:
    dropped = view(tmp_path, "def f(): pass\nif __name__ == '__main__':\n    def main(): pass\n")
    assert dropped == "def f(): ...\n"
    kept = view(
        tmp_path,
        "if __name__ == '__main__':\n    def main(): pass\nelse:\n    def imported(): pass\n",
    )
    assert "def imported(): ..." in kept
    ast.parse(kept)


def test_statements_sharing_a_line_get_their_own(tmp_path: Path) -> None:
    source = "class A: x = 1; y = 2\nif TYPE_CHECKING: import os\na = 1; b = 2\n"
    text = view(tmp_path, source)
    assert text == (
        "class A:\n    x = 1\n    y = 2\n\nif TYPE_CHECKING:\n    import os\n\na = 1\nb = 2\n"
    )
    ast.parse(text)


@pytest.mark.parametrize(
    ("docstring", "first_line"),
    [
        ('"""Plain."""', '"""Plain."""'),
        ('"""\n    Starts on the second line.\n    """', '"""Starts on the second line."""'),
        ("'''Ends with a \"quote\"'''", "'''Ends with a \"quote\"'''"),
        ('"""Ends with a "quote\\""""', '"""Ends with a "quote\\" """'),
        ('r"""Raw \\N and \\d."""', 'r"""Raw \\N and \\d."""'),
        ('"""Backslash at the end \\\\\n    next line."""', '"""Backslash at the end"""'),
        ('"Single \\"escaped\\" quotes"', '"Single \\"escaped\\" quotes"'),
        ('u"""Unicode prefix é."""', 'u"""Unicode prefix é."""'),
    ],
)
def test_docstring_first_line_is_requoted_and_parses(
    tmp_path: Path, docstring: str, first_line: str
) -> None:
    text = view(tmp_path, f"def f():\n    {docstring}\n    return 1\n")
    assert text == f"def f():\n    {first_line}\n    ...\n"
    ast.parse(text)


@pytest.mark.parametrize("docstring", ['b"""bytes"""', 'f"""f-string {x}"""', '""""""'])
def test_strings_that_are_not_docstrings_are_hidden(tmp_path: Path, docstring: str) -> None:
    assert view(tmp_path, f"def f():\n    {docstring}\n    return 1\n") == "def f(): ...\n"


def test_curated_keeps_module_and_class_docstrings_whole(tmp_path: Path) -> None:
    source = (
        '"""Module.\n\nWhole."""\n'
        "import os\n"
        'class A:\n    """Class.\n\n    Whole too.\n    """\n    def m(self):\n'
        '        """Method.\n\n        Only the first line."""\n'
    )
    curated = view(tmp_path, source, "curated")
    assert curated == (
        '"""Module.\n\nWhole."""\n'
        "\n"
        "import os\n"
        "\n"
        'class A:\n    """Class.\n\n    Whole too.\n    """\n    def m(self):\n'
        '        """Method."""\n        ... # Hidden\n'
    )
    skeleton = view(tmp_path, source)
    assert skeleton == (
        'import os\n\nclass A:\n    """Class."""\n    def m(self):\n        """Method."""\n'
        "        ...\n"
    )


def test_bodies_that_are_already_a_placeholder_are_not_marked_hidden(tmp_path: Path) -> None:
    text = view(tmp_path, "class P(Protocol):\n    def m(self) -> int: ...\n", "curated")
    assert text == "class P(Protocol):\n    def m(self) -> int: ...\n"


def test_crlf_source_gives_a_parsing_view(tmp_path: Path) -> None:
    source = b'import os\r\nclass A:\r\n    """Doc."""\r\n    def m(\r\n        self,\r\n    ): pass\r\n'
    text = view(tmp_path, source)
    ast.parse(text)
    assert "def m(" in text and "self," in text


def test_declared_encoding_is_honoured(tmp_path: Path) -> None:
    source = "# -*- coding: latin-1 -*-\nNAME = 'café'\ndef größe(): pass\n".encode("latin-1")
    text = view(tmp_path, source)
    assert text == "NAME = 'café'\n\ndef größe(): ...\n"


def test_broken_files_keep_their_good_parts(tmp_path: Path) -> None:
    cache = FileCache()
    path = tmp_path / "broken.py"
    path.write_text("import os\ndef ok(a): pass\ndef bad(a:\n    pass\nclass C:\n    def m(self): pass\n")
    result = cache.get_view(path, "skeleton")
    assert result.syntax_problem is not None
    assert result.syntax_problem.line == 3
    assert "import os" in result.text
    assert "def ok(a): ..." in result.text
    assert "class C:\n    def m(self): ..." in result.text
    assert "bad" not in result.text


def test_clean_files_report_no_syntax_problem(tmp_path: Path) -> None:
    path = tmp_path / "fine.py"
    path.write_text("def f(): pass\n")
    assert FileCache().get_view(path, "curated").syntax_problem is None


def test_empty_file_gives_an_empty_view(tmp_path: Path) -> None:
    assert view(tmp_path, "") == ""
    assert view(tmp_path, "print('only statements a view drops')\n") == ""
