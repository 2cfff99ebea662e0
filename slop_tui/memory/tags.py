"""Tags of a source file for the repository map: its definitions, the names it uses, its imports.

One tagger per language (`TAGGERS`, keyed by `LanguageRules.name`), so a new language plugs in
by adding a row. A tagger gets the file's UTF-8 bytes and returns a `FileTags`; it never raises
on bad source (tree-sitter gives a tree for anything; a broken file yields what parses).

Definitions come from the tree-sitter parse, walked at module and class level only (never a
function body), which is where the map's index lives. References and imports are read with a
regular expression over the bytes instead of a walk over every node: a full walk in Python
costs several times the parse, and the map only needs the set of names a file mentions.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec
from tree_sitter import Node

from slop_tui.memory.ast_views import parse
from slop_tui.memory.brace_languages import BRACE_LANGUAGES, BraceRules
from slop_tui.memory.brace_tags import tag_brace
from slop_tui.memory.languages import PYTHON

DefinitionKind = str  # "class" | "def" | "async def" | "const"

# The ellipsis shown for an elided default value or base list.
ELIDED = "…"
# Base-class text longer than this (a long generic subscript) is elided.
_BASES_LIMIT = 60


class Definition(msgspec.Struct, frozen=True, array_like=True):
    """One definition, with the line the map shows for it (no indentation)."""

    name: str
    kind: DefinitionKind
    # `class Console(Base):`, `def print(self, *objects, sep=…)`, `MAX = …`.
    line: str
    # The enclosing class's name for a class-level definition, "" at module level.
    parent: str
    lineno: int


class FileTags(msgspec.Struct, frozen=True, array_like=True):
    language: str
    definitions: list[Definition]
    # Identifiers the file mentions, sorted, each once, joined by spaces (one string decodes
    # from the cache far faster than thousands); the ones another file defines make a
    # reference edge to it.
    references: str
    # (level of a relative import, dotted module, names imported from it).
    imports: list[tuple[int, str, list[str]]]
    has_error: bool = False


# ---------------------------------------------------------------------------
# Python
# ---------------------------------------------------------------------------

_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")
_PY_KEYWORDS = frozenset(
    b"and as assert async await break class continue def del elif else except finally for from "
    b"global if import lambda nonlocal not or pass raise return try while with yield None True "
    b"False self cls match case type print len str int dict list set tuple bool".split()
)
# Both start with a literal line break (the source is searched with one put in front), which
# lets the regex engine skip ahead to candidate lines instead of trying every position.
_FROM_IMPORT = re.compile(
    rb"\n[ \t]*from[ \t]+(\.*)[ \t]*([A-Za-z_][\w.]*)?[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)"
)
_PLAIN_IMPORT = re.compile(rb"\n[ \t]*import[ \t]+([^\n#;(]+)")
_NAME = re.compile(r"[A-Za-z_][\w.]*")

_COMPOUND = frozenset({"if_statement", "try_statement", "with_statement"})
_CLAUSES = frozenset(
    {"elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause"}
)


def _python_imports(source: bytes) -> list[tuple[int, str, list[str]]]:
    source = b"\n" + source
    found: list[tuple[int, int, str, list[str]]] = []
    for match in _FROM_IMPORT.finditer(source):
        level = len(match.group(1))
        module = (match.group(2) or b"").decode("ascii", "replace")
        names_text = match.group(3).decode("ascii", "replace").strip("() \t\\\r\n")
        names = []
        for part in names_text.replace("\n", ",").split(","):
            words = part.split()
            if words and _NAME.fullmatch(words[0]):
                names.append(words[0])
        if level or module:
            found.append((match.start(), level, module, names))
    for match in _PLAIN_IMPORT.finditer(source):
        for part in match.group(1).decode("ascii", "replace").split(","):
            words = part.split()
            if words and _NAME.fullmatch(words[0]):
                found.append((match.start(), 0, words[0], []))
    found.sort(key=lambda item: item[0])
    return [(level, module, names) for _, level, module, names in found]


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _parameter(node: Node) -> str | None:
    kind = node.type
    if kind == "identifier":
        return _text(node)
    if kind in ("list_splat_pattern", "dictionary_splat_pattern"):
        return _text(node)
    if kind == "keyword_separator":
        return "*"
    if kind == "typed_parameter":
        for child in node.named_children:
            if child.type in ("identifier", "list_splat_pattern", "dictionary_splat_pattern"):
                return _text(child)
        return None
    if kind in ("default_parameter", "typed_default_parameter"):
        name = node.child_by_field_name("name")
        return f"{_text(name)}={ELIDED}" if name is not None else None
    return None  # `/`, comments, punctuation


def _function_line(node: Node, name: str) -> str:
    is_async = bool(node.children) and node.children[0].type == "async"
    params = node.child_by_field_name("parameters")
    names: list[str] = []
    if params is not None:
        for child in params.named_children:
            shown = _parameter(child)
            if shown:
                names.append(shown)
    keyword = "async def" if is_async else "def"
    return f"{keyword} {name}({', '.join(names)})"


def _class_line(node: Node, name: str) -> str:
    bases_node = node.child_by_field_name("superclasses")
    bases: list[str] = []
    if bases_node is not None:
        for child in bases_node.named_children:
            if child.type == "keyword_argument":
                key = child.child_by_field_name("name")
                bases.append(f"{_text(key)}={ELIDED}")
            elif child.type != "comment":
                text = " ".join(_text(child).split())
                bases.append(text if len(text) <= _BASES_LIMIT else ELIDED)
    return f"class {name}({', '.join(bases)}):" if bases else f"class {name}:"


_NESTING_LIMIT = 3  # class levels whose members are tagged


class _PythonWalk:
    def __init__(self) -> None:
        self.definitions: list[Definition] = []
        # A name defined twice at one level (`try: X = a` / `except: X = b`, `@overload`s, a
        # platform switch) is shown once, as first written.
        self.seen: set[tuple[str, str]] = set()

    def add(self, definition: Definition) -> None:
        key = (definition.parent, definition.name)
        if key not in self.seen:
            self.seen.add(key)
            self.definitions.append(definition)

    def block(self, nodes: list[Node], parent: str, depth: int) -> None:
        for node in nodes:
            kind = node.type
            if kind == "decorated_definition":
                inner = node.child_by_field_name("definition")
                if inner is not None:
                    self.definition(inner, parent, depth)
            elif kind in ("function_definition", "class_definition"):
                self.definition(node, parent, depth)
            elif kind == "expression_statement" and depth == 0:
                self.constant(node)
            elif kind in _COMPOUND:
                for child in node.children:
                    if child.type == "block":
                        self.block(child.named_children, parent, depth)
                    elif child.type in _CLAUSES:
                        for part in child.children:
                            if part.type == "block":
                                self.block(part.named_children, parent, depth)

    def definition(self, node: Node, parent: str, depth: int) -> None:
        name = _text(node.child_by_field_name("name"))
        if not name:
            return
        lineno = node.start_point[0] + 1
        if node.type == "class_definition":
            self.add(Definition(name, "class", _class_line(node, name), parent, lineno))
            body = node.child_by_field_name("body")
            # A nested class's members name it by its dotted path (`Cookies._Request`): the map
            # shows them under `class Cookies._Request:`. Classes inside functions are not API.
            if body is not None and depth < _NESTING_LIMIT:
                self.block(body.named_children, f"{parent}.{name}" if parent else name, depth + 1)
        else:
            line = _function_line(node, name)
            kind = "async def" if line.startswith("async") else "def"
            self.add(Definition(name, kind, line, parent, lineno))

    def constant(self, node: Node) -> None:
        for child in node.named_children:
            if child.type != "assignment":
                continue
            left = child.child_by_field_name("left")
            if left is None or left.type != "identifier":
                continue
            name = _text(left)
            if name.startswith("__") and name.endswith("__"):
                continue  # `__all__`, `__version__`: module metadata, not an API
            self.add(Definition(name, "const", f"{name} = {ELIDED}", "", node.start_point[0] + 1))


def tag_python(source: bytes) -> FileTags:
    tree = parse(source, PYTHON)
    walk = _PythonWalk()
    root = tree.root_node
    walk.block(root.named_children, "", 0)
    references = sorted(set(_IDENTIFIER.findall(source)) - _PY_KEYWORDS)
    return FileTags(
        language=PYTHON.name,
        definitions=walk.definitions,
        references=b" ".join(references).decode("ascii"),
        imports=_python_imports(source),
        has_error=root.has_error,
    )


def _brace_tagger(rules: BraceRules) -> Callable[[bytes], FileTags]:
    def tag(source: bytes) -> FileTags:
        name, definitions, references, has_error = tag_brace(source, rules)
        found = [Definition(*row) for row in definitions]
        return FileTags(name, found, references, [], has_error)

    return tag


TAGGERS: dict[str, Callable[[bytes], FileTags]] = {
    PYTHON.name: tag_python,
    **{rules.name: _brace_tagger(rules) for rules in BRACE_LANGUAGES},
}
