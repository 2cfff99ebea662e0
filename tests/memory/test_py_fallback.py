"""The `ast` fallback of the Python views: files tree-sitter misreads get an exact view from
the running Python's `ast`, broken files a warning where Python stops, and clean files never
make `ast` run."""

from __future__ import annotations

import ast
import sys
import warnings
from pathlib import Path

import pytest

from slop_tui.memory import py_fallback
from slop_tui.memory.ast_views import build_view, parse
from slop_tui.memory.file_cache import FileCache, ViewKind
from slop_tui.memory.languages import PYTHON
from slop_tui.memory.py_fallback import FallbackCounters

from .helpers import definitions

DATA = Path(__file__).parent / "data"

# Valid Python that tree-sitter-python reports errors in.
MISREAD: dict[str, bytes] = {
    "dedented continuation after a dot": (
        b"import os\n\n"
        b"class Compiler:\n"
        b'    """Checks the compiler."""\n'
        b"    LIMIT = 3\n\n"
        b"    def test_attribute(self, a):\n"
        b"        x = (a.\n"
        b"b)\n"
        b"        return x\n\n"
        b"    def test_after(self, b, *, c=1):\n"
        b"        return b\n\n"
        b"def module_level(x, /, y):\n"
        b"    return x\n"
    ),
    "starred subscript": (
        b"def before(a):\n    return a\n\nf[*[0]]\n\nclass After:\n    def m(self, q): ...\n"
    ),
    "CR-only line endings": (
        b"import os\r\rCONSTANT = 1\r\rdef f(x):\r    return x\r\r"
        b"class C:\r    '''Doc.'''\r    def m(self, y):\r        return y\r\r"
        b"f[*[0]]\r"
    ),
    "concatenated module docstring": (
        b'"first piece " \\\n"second piece"\nimport os\n\nf[*[0]]\n\n'
        b"def g(a, b=2):\n    '''Doc.'''\n    return a\n"
    ),
}


def view_of(tmp_path: Path, source: bytes, kind: ViewKind = "skeleton") -> tuple[str, object]:
    path = tmp_path / "module.py"
    path.write_bytes(source)
    view = FileCache().get_view(path, kind)
    return view.text, view.syntax_problem


@pytest.mark.parametrize("name", sorted(MISREAD))
@pytest.mark.parametrize("kind", ["skeleton", "curated"])
def test_valid_python_tree_sitter_misreads_gets_an_exact_view(
    tmp_path: Path, name: str, kind: ViewKind
) -> None:
    source = MISREAD[name]
    assert parse(source, PYTHON).root_node.has_error  # else the case tests nothing
    expected = definitions(ast.parse(source))
    before = FallbackCounters.checks
    text, problem = view_of(tmp_path, source, kind)
    assert FallbackCounters.checks == before + 1
    assert problem is None  # the file is valid Python: no warning
    assert definitions(ast.parse(text)) == expected  # every def and class, with parameters
    assert "\r" not in text


def test_the_fallback_keeps_headers_exactly_as_written(tmp_path: Path) -> None:
    text, _ = view_of(tmp_path, MISREAD["dedented continuation after a dot"])
    assert text == (
        "import os\n\n"
        "class Compiler:\n"
        '    """Checks the compiler."""\n'
        "    LIMIT = 3\n"
        "    def test_attribute(self, a): ...\n"
        "    def test_after(self, b, *, c=1): ...\n\n"
        "def module_level(x, /, y): ...\n"
    )
    curated, _ = view_of(tmp_path, MISREAD["concatenated module docstring"], "curated")
    assert curated.startswith('"first piece " \\\n"second piece"\n')
    assert "    '''Doc.'''\n    ... # Hidden\n" in curated


def test_hot_bodies_and_long_literals_follow_the_same_rules(tmp_path: Path) -> None:
    table = "".join(f"    'key{i}': {i},\n" for i in range(200))
    source = (
        "f[*[0]]\n\n"
        f"TABLE = {{\n{table}}}\n"
        "TEXT = (\n    # a comment\n    '" + "x" * 500 + "'\n)\n\n"
        "# [HOT]\ndef hot(a):\n    return a * 2\n\n"
        "@core_logic\ndef also_hot(b):\n    return b\n\n"
        "def cold(c):  # [HOT] is only a comment about it? no: it is trailing, so hot\n"
        "    return c\n\n"
        "def plain(d):\n    return d\n"
    ).encode()
    skeleton, _ = view_of(tmp_path, source)
    assert "TABLE = {...}  # 200 entries\n" in skeleton
    assert "TEXT = '...'  # 502 characters\n" in skeleton
    curated, _ = view_of(tmp_path, source, "curated")
    assert "def hot(a):\n    return a * 2\n" in curated
    assert "def also_hot(b):\n    return b\n" in curated
    assert "    return c\n" in curated
    assert "def plain(d): ... # Hidden\n" in curated
    for text in (skeleton, curated):
        ast.parse(text)


@pytest.mark.parametrize("kind", ["skeleton", "curated"])
def test_the_ast_walk_matches_the_tree_sitter_walk_on_a_clean_file(kind: ViewKind) -> None:
    """Forced onto a file both parsers read alike, the two walks give the same view."""
    source = (DATA / "tricky.py").read_bytes()
    assert not parse(source, PYTHON).root_node.has_error
    tree = ast.parse(source)
    from_ast = py_fallback.ast_view_text(source, tree, PYTHON, curated=(kind == "curated"))
    assert from_ast == build_view(source, kind, PYTHON).text


def test_clean_files_never_run_ast(tmp_path: Path) -> None:
    before = FallbackCounters.checks
    cache = FileCache()
    for kind in ("skeleton", "curated"):
        cache.get_view(DATA / "tricky.py", kind)
    path = tmp_path / "clean.py"
    path.write_text("import os\n\nclass A:\n    def m(self): return 1\n")
    cache.get_view(path, "skeleton")
    assert FallbackCounters.checks == before


# Invalid Python: the warning goes where Python's own compiler stops.
BROKEN: dict[str, bytes] = {
    "unclosed signature": (DATA / "broken_source.txt").read_bytes(),
    "dedent to no outer level": b"def f():\n    x = 1\n  y = 2\n\ndef g(): pass\n",
    "unexpected indent": b"x = 1\n    y = 2\ndef g(): pass\n",
    "unexpected indent of an expression": b"import os\n    print(os)\n",
    "no indented block": b"import os\n\ndef f():\nx = 1\n",
    "no indented block in a class": b"class C:\n    def f(self):\n    x = 1\n",
    "error late in the file": b"import os\n\ndef f(a):\n    return a\n\nx = = 2\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_warned_at_pythons_line(tmp_path: Path, name: str) -> None:
    source = BROKEN[name]
    with pytest.raises(SyntaxError) as raised:
        compile(source, "module.py", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    text, problem = view_of(tmp_path, source)
    assert problem is not None
    assert problem.line == raised.value.lineno  # type: ignore[attr-defined]
    assert text  # the parts that parse are still there


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="this Python accepts PEP 696 defaults")
def test_pep_696_defaults_on_an_older_python_are_warned_not_lost_silently(
    tmp_path: Path,
) -> None:
    source = b"import os\n\n\ndef f[T = int](x: T) -> T:\n    return x\n\nclass C[T = str]: pass\n"
    text, problem = view_of(tmp_path, source)
    assert problem is not None and problem.line == 4  # where `def f` is


@pytest.mark.skipif(sys.version_info < (3, 13), reason="PEP 696 needs Python 3.13")
def test_pep_696_defaults_keep_their_definitions(tmp_path: Path) -> None:  # pragma: no cover
    source = b"def f[T = int](x: T) -> T:\n    return x\n\nclass C[T = str]: pass\n"
    text, problem = view_of(tmp_path, source)
    assert problem is None
    assert definitions(ast.parse(text)) == definitions(ast.parse(source))
    assert "def f[T = int](x: T) -> T: ..." in text


def test_the_files_own_warnings_are_not_printed(tmp_path: Path) -> None:
    source = b'import re\nPATTERN = "\\d+"\nf[*[0]]\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text, problem = view_of(tmp_path, source)
    assert problem is None and 'PATTERN = "\\d+"' in text
    assert caught == []


@pytest.mark.parametrize("kind", ["skeleton", "curated"])
def test_one_misread_line_does_not_change_the_rest_of_the_view(
    tmp_path: Path, kind: ViewKind
) -> None:
    """tricky.py with `f[*[0]]` appended goes through `ast`, and gives tricky.py's view."""
    source = (DATA / "tricky.py").read_bytes()
    misread = source + b"\nf[*[0]]\n"
    assert parse(misread, PYTHON).root_node.has_error
    text, problem = view_of(tmp_path, misread, kind)
    assert problem is None
    assert text == (DATA / f"tricky.{kind}.txt").read_text(encoding="utf-8")
