"""Skeleton and curated views of brace languages (and Ruby), one generic walk for all of them.

The view is the source with holes: the walk visits only declaration-holding nodes (the file,
namespaces, classes, impl blocks, export wrappers; `BraceRules.containers`), replaces each
function body it meets there with the language's empty body and a marker comment, drops or
shortens comments, and elides long literal values. Everything else is kept as written, as byte
slices of the source, so a view parses with the grammar that parsed the file, and headers keep
their generics, receivers, attributes and comments exactly. The walk never enters a function
body or a small expression, which keeps it to a few per cent of the parse.
"""

from __future__ import annotations

import functools
import re

from tree_sitter import Node, Tree

from slop_tui.memory.ast_views import BuiltViewKind, first_syntax_problem
from slop_tui.memory.brace_languages import BraceRules
from slop_tui.memory.literals import CURATED_LITERAL_LIMIT, SKELETON_LITERAL_LIMIT
from slop_tui.memory.parsers import parse
from slop_tui.memory.view_types import BuiltView

_BLANK_RUN = re.compile(rb"\n(?:[ \t]*\n){2,}")
_COMMENT_OPENERS = (b"//", b"/*", b"#")


@functools.cache
def build_view(source: bytes, kind: BuiltViewKind, rules: BraceRules) -> BuiltView:
    """Parse UTF-8 `source` and build its skeleton or curated view."""
    return view_of_tree(parse(source, rules), source, kind, rules)


def view_of_tree(tree: Tree, source: bytes, kind: BuiltViewKind, rules: BraceRules) -> BuiltView:
    """The skeleton or curated view of an already parsed `source`."""
    root = tree.root_node
    walk = _Walk(source, rules, curated=(kind == "curated"))
    walk.container(root)
    problem = first_syntax_problem(root) if root.has_error else None
    return BuiltView(text=walk.result().decode("utf-8", "replace"), syntax_problem=problem)


class _Walk:
    def __init__(self, src: bytes, rules: BraceRules, *, curated: bool) -> None:
        self.src = src
        self.rules = rules
        self.curated = curated
        self.limit = CURATED_LITERAL_LIMIT if curated else SKELETON_LITERAL_LIMIT
        self.literals = dict(rules.literals)
        # (start, end, replacement), in source order, never overlapping: the walk never
        # enters what it replaces.
        self.edits: list[tuple[int, int, bytes]] = []
        # Where the comment run being read ends (its later comments are dropped); -1: none.
        self.comment_end = -1

    def result(self) -> bytes:
        src = self.src
        if not self.edits:
            out = src
        else:
            pieces: list[bytes] = []
            at = 0
            for start, end, replacement in self.edits:
                pieces.append(src[at:start])
                pieces.append(replacement)
                at = end
            pieces.append(src[at:])
            out = b"".join(pieces)
        out = _BLANK_RUN.sub(b"\n\n", out)
        if out and not out.endswith(b"\n"):
            out += b"\n"
        return out

    def container(self, node: Node) -> None:
        rules = self.rules
        for child in node.named_children:
            kind = child.type
            if kind in rules.comments:
                self.comment(child)
                continue
            self.comment_end = -1
            if kind in rules.functions:
                self.function(child)
            elif kind in rules.containers:
                self.container(child)
            elif kind not in rules.opaque and child.end_byte - child.start_byte > self.limit:
                self.large(child)

    def large(self, node: Node) -> None:
        """A long statement or expression: elide its long literals and its functions' bodies."""
        kind = node.type
        placeholder = self.literals.get(kind)
        if placeholder is not None:
            self.edits.append((node.start_byte, node.end_byte, placeholder))
            return
        rules = self.rules
        for child in node.named_children:
            if child.type in rules.functions:
                self.function(child)
            elif child.type in rules.containers:
                self.container(child)
            elif child.type not in rules.opaque and child.end_byte - child.start_byte > self.limit:
                self.large(child)

    def function(self, node: Node) -> None:
        rules = self.rules
        body = node.child_by_field_name("body")
        if body is None or body.type not in rules.bodies:
            # A declaration without a block body (`x => x + 1`, an abstract method).
            if node.end_byte - node.start_byte > self.limit:
                self.large(node)
            return
        if self.curated and self.is_hot(node, body):
            return
        placeholder = rules.hidden_placeholder if self.curated else rules.body_placeholder
        if rules.placeholder_is_line_comment:
            line_end = self.src.find(b"\n", body.end_byte)
            rest = self.src[body.end_byte : len(self.src) if line_end < 0 else line_end]
            if rest.strip():
                line_start = self.src.rfind(b"\n", 0, node.start_byte) + 1
                indent = self.src[line_start : node.start_byte]
                indent = indent[: len(indent) - len(indent.lstrip())]
                placeholder += b"\n" + indent
        self.edits.append((body.start_byte, body.end_byte, placeholder))

    def is_hot(self, node: Node, body: Node) -> bool:
        """A `[HOT]` comment on the line above the declaration (its attributes included) or on
        its header line(s)."""
        first = node
        previous = node.prev_named_sibling
        while previous is not None and previous.type in self.rules.attached:
            first = previous
            previous = previous.prev_named_sibling
        src = self.src
        line_start = src.rfind(b"\n", 0, first.start_byte) + 1
        above = src.rfind(b"\n", 0, max(line_start - 1, 0)) + 1 if line_start else 0
        marker = self.rules.hot_marker
        header_end = src.find(b"\n", body.start_byte)
        if header_end < 0:
            header_end = len(src)
        at = src.find(marker, above, header_end)
        while at >= 0:
            line = src[src.rfind(b"\n", 0, at) + 1 : at]
            if any(opener in line for opener in _COMMENT_OPENERS):
                return True
            at = src.find(marker, at + 1, header_end)
        return False

    def comment(self, node: Node) -> None:
        src = self.src
        start, end = node.start_byte, node.end_byte
        previous = self.comment_end
        # Right below the comment before it (no blank line): the same run.
        in_run = previous >= 0 and src.count(b"\n", previous, start) <= 1
        self.comment_end = end
        if self.curated:
            return
        if in_run:
            self.delete(start, end)
            return
        rules = self.rules
        text = src[start:end]
        if text.lstrip(b"/*#! \t").startswith(rules.hot_marker):
            # A `[HOT]` marker documents nothing; a doc comment may follow it.
            self.comment_end = -1
            self.delete(start, end)
            return
        if not text.startswith(rules.doc_prefixes):
            self.delete(start, end)
            return
        # Some grammars (Rust's) end a line comment with its line break.
        first = _first_line(text) + (b"\n" if text.endswith(b"\n") else b"")
        if first != text:
            self.edits.append((start, end, first))

    def delete(self, start: int, end: int) -> None:
        src = self.src
        if src[end - 1 : end] == b"\n":
            end -= 1
        line_start = src.rfind(b"\n", 0, start) + 1
        line_end = src.find(b"\n", end)
        if line_end < 0:
            line_end = len(src)
        edits = self.edits
        if not src[line_start:start].strip() and not src[end:line_end].strip():
            # A comment on lines of its own: the lines go (one edit for a run of them).
            stop = min(line_end + 1, len(src))
            if edits and edits[-1][1] == line_start and not edits[-1][2]:
                edits[-1] = (edits[-1][0], stop, b"")
            else:
                edits.append((line_start, stop, b""))
        elif not src[end:line_end].strip():
            # A comment ending a line of code: the blanks before it go too.
            before = src[line_start:start]
            edits.append((line_start + len(before.rstrip()), end, b""))
        elif not src[line_start:start].strip():
            # A comment before code on its line: the blanks after it go too.
            after = src[end:line_end]
            edits.append((start, end + len(after) - len(after.lstrip()), b""))
        else:
            # Keeps tokens on either side apart (`a/* x */b`).
            edits.append((start, end, b" "))


# A block comment's opener, then (past blanks, line breaks and `*` gutters) its first text line.
_BLOCK_DOC = re.compile(rb"(/\*[*!]?)[ \t\r\n*]*([^\n]*)")


def _first_line(text: bytes) -> bytes:
    """A doc comment's first line of text, still a well-formed comment."""
    text = text.rstrip(b"\r\n")
    newline = text.find(b"\n")
    if newline < 0:
        return text
    if not text.startswith(b"/*"):
        return text[:newline].rstrip(b"\r")
    match = _BLOCK_DOC.match(text)
    assert match is not None  # it starts with `/*`
    opener, content = match.group(1), match.group(2).rstrip()
    if content.endswith(b"*/"):
        content = content[:-2].rstrip()
    return opener + b" " + content + b" */" if content else opener + b" */"
