"""Definitions of a brace-language file, from its grammar's own `queries/tags.scm`.

The repository map tags these languages with the captures each grammar's wheel ships (the
query GitHub's code navigation uses), so a definition the grammar knows is one the map knows;
the view tests and the views benchmark check against the same captures. Definitions inside a
function body are not API and are left out. C# ships no tags query: a small one is written
here.
"""

from __future__ import annotations

import functools
import importlib
import os
import re

from tree_sitter import Node, Query, QueryCursor

from slop_tui.memory.brace_languages import BraceRules
from slop_tui.memory.parsers import language_of, parse

_CSHARP_TAGS = """
(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(struct_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.class
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(property_declaration name: (identifier) @name) @definition.constant
(namespace_declaration name: (_) @name) @definition.module
"""
# Grammar modules whose `queries/tags.scm` a language's query is made of (TypeScript's adds
# its own patterns to JavaScript's).
_QUERY_SOURCES: dict[str, tuple[str, ...]] = {
    "typescript": ("tree_sitter_javascript", "tree_sitter_typescript"),
    "tsx": ("tree_sitter_javascript", "tree_sitter_typescript"),
    "javascript": ("tree_sitter_javascript",),
    "go": ("tree_sitter_go",),
    "rust": ("tree_sitter_rust",),
    "java": ("tree_sitter_java",),
    "c": ("tree_sitter_c",),
    "cpp": ("tree_sitter_c", "tree_sitter_cpp"),
    "php": ("tree_sitter_php",),
    "ruby": ("tree_sitter_ruby",),
}
_CONTAINER_KINDS = frozenset({"class", "interface", "module", "type", "struct", "enum", "trait"})
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")
_HEADER_LIMIT = 160


@functools.cache
def tags_query(rules: BraceRules) -> Query:
    parts = []
    for module in _QUERY_SOURCES.get(rules.name, ()):
        folder = os.path.dirname(importlib.import_module(module).__file__ or "")
        with open(os.path.join(folder, "queries", "tags.scm"), encoding="utf-8") as handle:
            parts.append(handle.read())
    if not parts:
        parts.append(_CSHARP_TAGS)
    return Query(language_of(rules), "\n".join(parts))


def _in_function_body(node: Node, rules: BraceRules) -> bool:
    child = node
    parent = node.parent
    while parent is not None:
        if parent.type in rules.functions:
            body = parent.child_by_field_name("body")
            if body is not None and body.id == child.id:
                return True
        child, parent = parent, parent.parent
    return False


def definitions(root: Node, rules: BraceRules) -> list[tuple[str, str, Node, Node]]:
    """(kind, name, definition node, name node) of each definition outside function bodies,
    in source order, each node once."""
    found: dict[int, tuple[str, str, Node, Node]] = {}
    for _, captures in QueryCursor(tags_query(rules)).matches(root):
        kind = next((key[11:] for key in captures if key.startswith("definition.")), None)
        names = captures.get("name")
        if kind is None or not names:
            continue
        node = captures["definition." + kind][0]
        name_node = names[0]
        if node.id in found or _in_function_body(node, rules):
            continue
        text = name_node.text or b""
        found[node.id] = (kind, text.decode("utf-8", "replace"), node, name_node)
    return sorted(found.values(), key=lambda row: row[2].start_byte)


def definition_names(source: bytes, rules: BraceRules) -> list[str]:
    """The names of a source's definitions outside function bodies, sorted (with repeats)."""
    return sorted(name for _, name, _, _ in definitions(parse(source, rules).root_node, rules))


def _header(node: Node, source: bytes, is_type: bool) -> str:
    """The definition's header as written (whitespace folded), up to its body."""
    body = node.child_by_field_name("body")
    if body is None:
        value = node.child_by_field_name("value")  # `const f = (a) => {...}`
        if value is not None:
            body = value.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    newline = source.find(b"\n", node.start_byte, end)
    if body is None and newline >= 0:
        end = newline
    if is_type:
        brace = source.find(b"{", node.start_byte, end)
        if brace >= 0:
            end = brace
    text = " ".join(source[node.start_byte : end].decode("utf-8", "replace").split())
    text = text.rstrip("{ =;:")
    return text if len(text) <= _HEADER_LIMIT else text[: _HEADER_LIMIT - 1] + "…"


def tag_brace(
    source: bytes, rules: BraceRules
) -> tuple[str, list[tuple[str, str, str, str, int]], str, bool]:
    """(language, definitions as (name, kind, line, parent, lineno), references, has_error)."""
    root = parse(source, rules).root_node
    rows = definitions(root, rules)
    owners: dict[int, str] = {}
    out: list[tuple[str, str, str, str, int]] = []
    for kind, name, node, _ in rows:
        parent = ""
        ancestor = node.parent
        while ancestor is not None:
            owner = owners.get(ancestor.id)
            if owner is not None:
                parent = owner
                break
            ancestor = ancestor.parent
        if kind in _CONTAINER_KINDS:
            owners[node.id] = f"{parent}.{name}" if parent else name
            shown_kind = "class"
        elif kind == "constant":
            shown_kind = "const"
        else:
            shown_kind = "def"
        line = _header(node, source, shown_kind == "class")
        out.append((name, shown_kind, line, parent, node.start_point[0] + 1))
    references = sorted(set(_IDENTIFIER.findall(source)))
    return rules.name, out, b" ".join(references).decode("ascii"), root.has_error
