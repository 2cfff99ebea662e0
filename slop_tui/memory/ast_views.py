"""Skeleton and curated views of a source file, built from its tree-sitter tree.

One pass over the tree: the walker visits module-level and class-level statements (and the
blocks of `if`/`try`/`with` statements there), never a function body, and builds the view from
byte slices of the original source. Slicing (instead of re-printing nodes) is what keeps
decorators, multi-line signatures, comments inside signatures and non-ASCII text exactly as
written, and it is cheap: the walk costs a few per cent of the parse.

tree-sitter, not `ast`, so that a file with syntax errors still gives a view of its good parts.
The language-specific node names come from `languages.LanguageRules`.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Literal

import msgspec
from tree_sitter import Language, Node, Parser, Tree

from slop_tui.memory.languages import LanguageRules

BuiltViewKind = Literal["skeleton", "curated"]

_BLANK_LINE = re.compile(rb"\n[ \t\f]*\r?\n")
# A line that starts a top-level statement: column 0, a name, a keyword or a decorator (a
# non-ASCII byte starts a Unicode name), but not a clause that continues the statement above.
_TOP_LEVEL_START = re.compile(
    rb"^(?!(?:else|elif|except|finally)\b)[A-Za-z_@\x80-\xff]", re.MULTILINE
)


class SyntaxProblem(msgspec.Struct, frozen=True):
    """Where a file stops parsing: 1-based line and column, and what is wrong there."""

    line: int
    column: int
    message: str


class BuiltView(msgspec.Struct, frozen=True):
    """A view's text, and the first syntax problem of its source (None for a clean parse)."""

    text: str
    syntax_problem: SyntaxProblem | None = None


@functools.cache
def _language(rules: LanguageRules) -> Language:
    return Language(rules.load_grammar())


# A tree-sitter Parser holds parse state, so each thread gets its own.
_thread_parsers = threading.local()


def parser_for(rules: LanguageRules) -> Parser:
    """This thread's parser for a language (created once per thread)."""
    parsers: dict[str, Parser] | None = getattr(_thread_parsers, "by_name", None)
    if parsers is None:
        parsers = {}
        _thread_parsers.by_name = parsers
    parser = parsers.get(rules.name)
    if parser is None:
        parser = Parser(_language(rules))
        parsers[rules.name] = parser
    return parser


def parse(source: bytes, rules: LanguageRules) -> Tree:
    """The tree-sitter tree of UTF-8 `source`."""
    return parser_for(rules).parse(source)


def build_view(source: bytes, kind: BuiltViewKind, rules: LanguageRules) -> BuiltView:
    """Parse UTF-8 `source` and build its skeleton or curated view."""
    return view_of_tree(parse(source, rules), source, kind, rules)


def view_of_tree(tree: Tree, source: bytes, kind: BuiltViewKind, rules: LanguageRules) -> BuiltView:
    """The skeleton or curated view of an already parsed `source`."""
    root = tree.root_node
    walk = _Walk(source, rules, curated=(kind == "curated"), root=root)
    walk.module()
    lines = walk.lines
    text = (b"\n".join(lines) + b"\n").decode("utf-8", "replace") if lines else ""
    return BuiltView(text=text, syntax_problem=first_syntax_problem(root))


def first_syntax_problem(root: Node) -> SyntaxProblem | None:
    """The first error or missing token of a tree, in source order; None when there is none."""
    if not root.has_error:
        return None
    node = root
    while True:
        for child in node.children:
            if child.is_missing:
                return _problem(child, f"missing {child.type!r}")
            if child.has_error:
                if child.is_error:
                    return _problem(child, "invalid syntax")
                node = child
                break
        else:
            return _problem(node, "invalid syntax")


def _problem(node: Node, message: str) -> SyntaxProblem:
    point = node.start_point
    return SyntaxProblem(line=point.row + 1, column=point.column + 1, message=message)


class _Walk:
    """The single pass that appends a view's lines (as byte slices of the source) to `lines`."""

    __slots__ = ("src", "rules", "curated", "root", "lines", "placeholder")

    def __init__(self, src: bytes, rules: LanguageRules, *, curated: bool, root: Node) -> None:
        self.src = src
        self.rules = rules
        self.curated = curated
        self.root = root
        self.lines: list[bytes] = []
        self.placeholder = rules.hidden_placeholder if curated else rules.body_placeholder

    # -- module ---------------------------------------------------------------------------

    def module(self, *, docstring: bool = True, recover: bool = True) -> None:
        rules = self.rules
        children = self.root.children
        start = 0
        for index, child in enumerate(children):
            if not docstring:
                break
            if child.type == rules.comment:
                continue
            if self._docstring(child) is not None:
                start = index + 1
                if self.curated:
                    self.lines.append(self._indent_of(child, b"") + self._text(child))
            break
        lines = self.lines
        prev_kind: str | None = "docstring" if lines else None
        prev_multi = False
        prev_end = 0
        for child in children[start:]:
            mark = len(lines)
            segments = self._segments(child) if recover and child.has_error else None
            if segments:
                kind = self._recover(segments)
            else:
                kind = self.statement(child, b"", in_class=False)
            if kind is None:
                continue
            # Blank lines only at module level: around definitions and multi-line items, and
            # where the source had one between two kept imports or constants (import groups).
            multi = len(lines) - mark > 1 or b"\n" in lines[mark]
            if prev_kind is not None and (
                kind != prev_kind
                or multi
                or prev_multi
                or (kind != "def" and _BLANK_LINE.search(self.src, prev_end, child.start_byte))
            ):
                lines.insert(mark, b"")
            prev_kind, prev_multi, prev_end = kind, multi, child.end_byte

    # -- recovering from syntax errors ----------------------------------------------------

    def _segments(self, node: Node) -> list[tuple[int, int]] | None:
        """Where a broken top-level node can be cut into top-level statements, or None.

        tree-sitter's recovery can swallow the rest of a file into one ERROR node (an unclosed
        bracket does it); every line that starts at column 0 with a statement (not inside a
        string) begins a piece that can be parsed on its own.
        """
        src = self.src
        cuts = [node.start_byte]
        for match in _TOP_LEVEL_START.finditer(src, node.start_byte + 1, node.end_byte):
            position = match.start()
            found = self.root.descendant_for_byte_range(position, position + 1)
            if found is not None and found.type in self.rules.string_parts:
                continue
            cuts.append(position)
        if len(cuts) == 1:
            return None
        cuts.append(node.end_byte)
        return list(zip(cuts, cuts[1:]))

    def _recover(self, segments: list[tuple[int, int]]) -> str | None:
        """Parse each piece of a broken region alone and keep what each view keeps of it."""
        lines = self.lines
        mark = len(lines)
        for start, end in segments:
            piece = self.src[start:end]
            walk = _Walk(piece, self.rules, curated=self.curated, root=parse(piece, self.rules).root_node)
            walk.module(docstring=False, recover=False)
            if walk.lines:
                if len(lines) > mark:
                    lines.append(b"")
                lines += walk.lines
        return "def" if len(lines) > mark else None

    # -- statements -----------------------------------------------------------------------

    def statement(self, node: Node, indent: bytes, *, in_class: bool) -> str | None:
        """Append what a view keeps of one statement; its kind ("import", "assignment", "def"),
        or None when the view drops it."""
        rules = self.rules
        kind = node.type
        if kind in rules.verbatim_statements or (
            kind == rules.expression_statement and self._is_assignment(node)
        ):
            if node.has_error:
                return None
            self.lines.append(self._indent_of(node, indent) + self._text(node))
            return "import" if kind in rules.imports else "assignment"
        if kind in rules.functions or kind in rules.classes or kind == rules.decorated:
            return "def" if self.definition(node, indent) else None
        if kind in rules.compound_statements:
            return "def" if self.compound(node, indent, in_class=in_class) else None
        if node.is_error:
            # tree-sitter wraps what it could not fit in ERROR nodes; whole statements often
            # survive inside, so salvage them.
            mark = len(self.lines)
            for child in node.children:
                self.statement(child, indent, in_class=in_class)
            return "def" if len(self.lines) > mark else None
        return None

    def _is_assignment(self, node: Node) -> bool:
        expression = node.named_child(0)
        return expression is not None and expression.type in self.rules.assignments

    # -- definitions ----------------------------------------------------------------------

    def definition(self, node: Node, indent: bytes) -> bool:
        rules = self.rules
        if node.type == rules.decorated:
            found = node.child_by_field_name("definition")
            if found is None:
                return False
            definition = found
        else:
            definition = node
        colon, body = self._colon_and_block(definition)
        if colon is None or body is None:
            return False
        if node.has_error and self._header_broken(node, definition, colon):
            return False
        own = self._indent_of(node, indent)
        header = self.src[node.start_byte : colon.end_byte]
        if definition.type in rules.classes:
            self._class(own, header, body)
            return True
        if self.curated and not body.has_error and self._is_hot(node, definition, colon):
            self.lines.append(own + self._text(node))
            return True
        first = self._first_statement(body)
        doc = self._docstring_line(first) if first is not None else None
        if doc is None:
            # A body that is already just the placeholder (an overload, a protocol method) hides
            # nothing, so it is not marked as hidden.
            placeholder = self.placeholder
            if self.curated and self._text(body) == self.rules.body_placeholder:
                placeholder = self.rules.body_placeholder
            self.lines.append(own + header + b" " + placeholder)
        else:
            assert first is not None
            body_indent = self._block_indent(first, own)
            self.lines += (own + header, body_indent + doc, body_indent + self.placeholder)
        return True

    def _class(self, own: bytes, header: bytes, body: Node) -> None:
        lines = self.lines
        lines.append(own + header)
        mark = len(lines)
        first = self._first_statement(body)
        if first is None:
            lines[-1] = own + header + b" " + self.rules.body_placeholder
            return
        body_indent = self._block_indent(first, own)
        skip = -1
        if self._docstring(first) is not None:
            skip = first.start_byte
            if self.curated:
                lines.append(body_indent + self._text(first))
            else:
                doc = self._docstring_line(first)
                if doc is not None:
                    lines.append(body_indent + doc)
        for child in body.children:
            if child.start_byte != skip:
                self.statement(child, body_indent, in_class=True)
        if len(lines) == mark:
            lines[-1] = own + header + b" " + self.rules.body_placeholder

    def _header_broken(self, node: Node, definition: Node, colon: Node) -> bool:
        """Whether an error sits in the decorators or the signature (not the body)."""
        if node is not definition:
            for child in node.children:
                if child.type == self.rules.decorator and child.has_error:
                    return True
        for child in definition.children:
            if child == colon:
                return False
            if child.has_error or child.is_missing:
                return True
        return False

    # -- if / try / with ------------------------------------------------------------------

    def compound(self, node: Node, indent: bytes, *, in_class: bool) -> bool:
        """Keep a block-structured statement when any branch keeps something.

        Every header line (`if`, `elif`, `else`, `try`, `except`, `finally`, `with`) stays so the
        view still parses; a branch left empty gets the placeholder.
        """
        rules = self.rules
        if node.type == rules.if_statement and self._is_entry_point(node):
            return False
        colon, block = self._colon_and_block(node)
        if colon is None or block is None:
            return False
        branches = [(node, colon, block)]
        for clause in node.children:
            if clause.type in rules.continuation_clauses:
                clause_colon, clause_block = self._colon_and_block(clause)
                if clause_colon is None or clause_block is None:
                    return False
                branches.append((clause, clause_colon, clause_block))
        if node.has_error:
            for owner, owner_colon, _ in branches:
                for child in owner.children:
                    if child == owner_colon:
                        break
                    if child.has_error or child.is_missing:
                        return False
        own = self._indent_of(node, indent)
        lines = self.lines
        mark = len(lines)
        kept = False
        for owner, owner_colon, owner_block in branches:
            lines.append(own + self.src[owner.start_byte : owner_colon.end_byte])
            first = self._first_statement(owner_block)
            body_indent = self._block_indent(first, own) if first is not None else own + self._unit(own)
            branch_mark = len(lines)
            for child in owner_block.children:
                self.statement(child, body_indent, in_class=in_class)
            if len(lines) == branch_mark:
                lines.append(body_indent + self.rules.body_placeholder)
            else:
                kept = True
        if not kept:
            del lines[mark:]
        return kept

    def _is_entry_point(self, node: Node) -> bool:
        if node.child_by_field_name("alternative") is not None:
            return False
        condition = node.child_by_field_name("condition")
        if condition is None:
            return False
        text = b"".join(self._text(condition).split()).replace(b"'", b'"')
        return text in self.rules.entry_point_conditions

    # -- hot bodies -----------------------------------------------------------------------

    def _is_hot(self, node: Node, definition: Node, colon: Node) -> bool:
        """A `@...core_logic` decorator, or a hot-marker comment directly above the definition
        (its decorators or its `def` line) or trailing on the `def` line or the colon line."""
        rules = self.rules
        src = self.src
        if node is not definition:
            for child in node.children:
                if child.type == rules.decorator and self._is_hot_decorator(child):
                    return True
        start = self._line_start(node.start_byte)
        region_start = self._line_start(start - 1) if start > 0 else 0
        colon_line_end = self._line_end(colon.end_byte)
        # Cheap rejection first: most definitions have no marker anywhere near them.
        if src.find(rules.hot_marker, region_start, colon_line_end) < 0:
            return False
        if start > 0 and self._full_line_comment_is_hot(region_start, start - 1):
            return True
        def_start = self._line_start(definition.start_byte)
        if def_start != start and self._full_line_comment_is_hot(
            self._line_start(def_start - 1), def_start - 1
        ):
            return True
        def_end = self._line_end(definition.start_byte)
        if self._trailing_comment_is_hot(definition.start_byte, def_end):
            return True
        colon_start = self._line_start(colon.start_byte)
        return colon_start > def_start and self._trailing_comment_is_hot(
            colon.end_byte, colon_line_end
        )

    def _is_hot_decorator(self, decorator: Node) -> bool:
        expression = decorator.named_child(0)
        if expression is None:
            return False
        if expression.type == "call":
            function = expression.child_by_field_name("function")
            if function is None:
                return False
            expression = function
        name = b"".join(self._text(expression).split()).rsplit(b".", 1)[-1]
        return name == self.rules.hot_decorator

    def _full_line_comment_is_hot(self, start: int, end: int) -> bool:
        line = self.src[start:end]
        stripped = line.lstrip()
        if not stripped.startswith(self.rules.comment_sign):
            return False
        return self._comment_is_hot(start + len(line) - len(stripped), end)

    def _trailing_comment_is_hot(self, start: int, end: int) -> bool:
        sign = self.rules.comment_sign
        position = self.src.find(sign, start, end)
        while position >= 0:
            found = self.root.descendant_for_byte_range(position, position + 1)
            if found is not None and found.type == self.rules.comment:
                return self._comment_is_hot(position, end)
            position = self.src.find(sign, position + 1, end)
        return False

    def _comment_is_hot(self, position: int, end: int) -> bool:
        # Confirm with the tree that the sign opens a comment (not, say, a line of a string).
        found = self.root.descendant_for_byte_range(position, position + 1)
        if found is None or found.type != self.rules.comment:
            return False
        text = self.src[position + len(self.rules.comment_sign) : end].strip()
        return text.startswith(self.rules.hot_marker)

    # -- docstrings -----------------------------------------------------------------------

    def _docstring(self, statement: Node) -> Node | None:
        """The string node when `statement` is a bare string that can be a docstring."""
        rules = self.rules
        if statement.type != rules.expression_statement or statement.named_child_count != 1:
            return None
        string = statement.named_child(0)
        if string is None or string.type != rules.string or string.has_error:
            return None
        opener = string.child(0)
        if opener is None:
            return None
        prefix = self._text(opener).rstrip(b"'\"").lower()
        for letter in rules.non_docstring_prefixes:
            if letter in prefix:
                return None
        return string

    def _docstring_line(self, statement: Node) -> bytes | None:
        """The docstring's first non-blank line, re-quoted with its own quotes and prefix."""
        string = self._docstring(statement)
        if string is None:
            return None
        opener = string.child(0)
        closer = string.child(string.child_count - 1)
        if opener is None or closer is None or opener == closer:
            return None
        opening = self._text(opener)
        quote = opening.lstrip(b"rRuU")
        src = self.src
        position, end = opener.end_byte, closer.start_byte
        line = b""
        while position < end:
            newline = src.find(b"\n", position, end)
            stop = end if newline < 0 else newline
            line = src[position:stop].strip()
            if line:
                break
            position = stop + 1
        # A trailing backslash would escape the new closing quote (or join lines).
        while line.endswith(b"\\"):
            line = line[:-1].rstrip()
        if not line:
            return None
        if line.endswith(quote[:1]):
            line += b" "
        return opening + line + quote

    # -- layout helpers -------------------------------------------------------------------

    def _first_statement(self, block: Node) -> Node | None:
        comment = self.rules.comment
        for index in range(block.named_child_count):
            child = block.named_child(index)
            if child is not None and child.type != comment:
                return child
        return None

    def _colon_and_block(self, node: Node) -> tuple[Node | None, Node | None]:
        """The `:` that ends a header and the block it opens (the first block child)."""
        colon = None
        block_type = self.rules.block
        for child in node.children:
            kind = child.type
            if kind == ":":
                colon = child
            elif kind == block_type:
                return colon, child
        return colon, None

    def _indent_of(self, node: Node, fallback: bytes) -> bytes:
        """The node's own indentation when it starts its line, else `fallback` (`x = 1; y = 2`
        or `if a: b = 1` put a statement after other text)."""
        start = node.start_byte
        prefix = self.src[self._line_start(start) : start]
        return prefix if not prefix.strip() else fallback

    def _block_indent(self, first: Node, parent_indent: bytes) -> bytes:
        """The indentation of a block whose first statement is `first`, exactly as written when
        that statement starts a line; one unit deeper than the parent when it follows the
        header on the same line."""
        start = first.start_byte
        prefix = self.src[self._line_start(start) : start]
        if not prefix.strip():
            return prefix
        return parent_indent + self._unit(parent_indent)

    def _unit(self, parent_indent: bytes) -> bytes:
        # Mixing a tab-indented parent with space-indented children can be a TabError.
        return b"\t" if b"\t" in parent_indent else self.rules.indent_unit

    def _line_start(self, position: int) -> int:
        return self.src.rfind(b"\n", 0, position) + 1

    def _line_end(self, position: int) -> int:
        end = self.src.find(b"\n", position)
        return len(self.src) if end < 0 else end

    def _text(self, node: Node) -> bytes:
        return self.src[node.start_byte : node.end_byte]
