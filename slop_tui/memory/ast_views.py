"""Skeleton and curated views of a source file, built from its tree-sitter tree.

One pass over the tree: the walker visits module-level and class-level statements (and the
blocks of `if`/`try`/`with` statements there), never a function body, and builds the view from
byte slices of the original source. Slicing (instead of re-printing nodes) is what keeps
decorators, multi-line signatures, comments inside signatures and non-ASCII text exactly as
written, and it is cheap: the walk costs a few per cent of the parse.

tree-sitter, not `ast`, so that a file with syntax errors still gives a view of its good parts
(and so that a clean file costs one parse). Where tree-sitter reports an error, or lets an
indentation error pass, the running Python's `ast` decides (`py_fallback`): valid Python gets
its view from `ast`, invalid Python its warning at Python's line. The language-specific node
names come from `languages.LanguageRules`; literal elision lives in `literals`.
"""

from __future__ import annotations

import re
from typing import Literal

from tree_sitter import Node, Tree

from slop_tui.memory.languages import LanguageRules
from slop_tui.memory.literals import (
    CURATED_LITERAL_LIMIT,
    SKELETON_LITERAL_LIMIT,
    elide_statement,
)
from slop_tui.memory.py_kinds import (
    COMPOUND,
    DEFINITION,
    ERROR,
    EXPRESSION,
    VERBATIM,
    kinds_of,
)
from slop_tui.memory.parsers import parse
from slop_tui.memory.py_marks import TextMarks
from slop_tui.memory.view_types import BuiltView, SyntaxProblem

BuiltViewKind = Literal["skeleton", "curated"]

_QUOTE_BYTES = frozenset(b"\"'")
_LINE_BREAKS = (10, 13)  # "\n", "\r"
# Every byte a string literal can start with (a quote, or a prefix letter).
_STRING_STARTS = frozenset(b"\"'rRuUbBfFtT")
_BLANK_LINE = re.compile(rb"\n[ \t\f]*\r?\n")
# A line that starts a top-level statement: column 0, a name, a keyword or a decorator (a
# non-ASCII byte starts a Unicode name), but not a clause that continues the statement above.
_TOP_LEVEL_START = re.compile(
    rb"^(?!(?:else|elif|except|finally)\b)[A-Za-z_@\x80-\xff]", re.MULTILINE
)


def build_view(source: bytes, kind: BuiltViewKind, rules: LanguageRules) -> BuiltView:
    """Parse UTF-8 `source` and build its skeleton or curated view."""
    return view_of_tree(parse(source, rules), source, kind, rules)


def view_of_tree(tree: Tree, source: bytes, kind: BuiltViewKind, rules: LanguageRules) -> BuiltView:
    """The skeleton or curated view of an already parsed `source`.

    A tree with an error, or a walk that met a statement indented off its block (tree-sitter
    tolerates indentation errors), is checked with the running Python's `ast` (for Python):
    when `ast` accepts the file the view is built from it (`py_fallback`), else the warning
    points where Python stops. A clean tree never pays for `ast`."""
    root = tree.root_node
    walk = _Walk(source, rules, curated=(kind == "curated"), root=root)
    walk.module()
    if not walk.clean or walk.suspect_indent:
        if rules.name == PYTHON_NAME:
            checked = _python_check(source, kind, rules)
            if isinstance(checked, BuiltView):
                return checked
            problem = checked
        else:
            problem = None
        if problem is None and not walk.clean:
            problem = first_syntax_problem(root)
    else:
        problem = None
    lines = walk.lines
    if not lines:
        return BuiltView(text="", syntax_problem=problem)
    lines.append(b"")  # the final newline, in the one join
    return BuiltView(text=b"\n".join(lines).decode("utf-8", "replace"), syntax_problem=problem)


# The language whose files the running Python's `ast` can check.
PYTHON_NAME = "python"


def _python_check(
    source: bytes, kind: BuiltViewKind, rules: LanguageRules
) -> BuiltView | SyntaxProblem | None:
    """The `ast` view of a file `ast` accepts, else where `ast` stops (None: it cannot tell)."""
    from slop_tui.memory import py_fallback  # only files tree-sitter misreads get here

    normalized = py_fallback.normalize_newlines(source)
    checked = py_fallback.check(normalized)
    if checked is None or isinstance(checked, SyntaxProblem):
        return checked
    text = py_fallback.ast_view_text(normalized, checked, rules, curated=(kind == "curated"))
    return BuiltView(text=text)


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


class _Walk(TextMarks):
    """The single pass that appends a view's lines (as byte slices of the source) to `lines`.

    It visits module-level and class-level statements and the blocks of `if`/`try`/`with`
    statements among them, never a function body. The hot paths (the loops of `module` and
    `_class`, and `definition`) are written for speed: every `Node` attribute is a call into
    tree-sitter that may allocate, so each is read once, kinds are dispatched by one dict
    lookup, and a line is sliced from the source with its indentation in one piece.
    """

    __slots__ = (
        "src", "rules", "kinds", "curated", "root", "lines", "placeholder", "suffix",
        "hot_comments", "deeper", "clean", "literal_limit", "suspect_indent",
    )  # fmt: skip

    def __init__(self, src: bytes, rules: LanguageRules, *, curated: bool, root: Node) -> None:
        self.src = src
        self.rules = rules
        self.kinds = kinds_of(rules)
        self.curated = curated
        self.root = root
        self.lines: list[bytes] = []
        self.placeholder = rules.hidden_placeholder if curated else rules.body_placeholder
        self.suffix = b" " + self.placeholder  # after a header whose body is hidden
        # A hot-marker comment needs the marker somewhere in the file: one search here spares
        # the per-definition look around each header in the files (nearly all) without one.
        self.hot_comments = curated and rules.hot_marker in src
        self.deeper: dict[bytes, bytes] = {}  # parent indentation -> one unit deeper
        # A tree without errors has none in any node: one test here spares one per statement.
        self.clean = not root.has_error
        self.literal_limit = CURATED_LITERAL_LIMIT if curated else SKELETON_LITERAL_LIMIT
        # Set when a kept statement starts a line indented otherwise than its block: an
        # indentation error tree-sitter tolerated (`ast` then says where it is).
        self.suspect_indent = False

    # -- module ---------------------------------------------------------------------------

    def module(self, *, docstring: bool = True, recover: bool = True) -> None:
        children = self.root.children
        kinds = self.kinds
        comment = kinds.comment
        start = 0
        for index, child in enumerate(children):
            if not docstring:
                break
            if child.kind_id in comment:
                continue
            if self._docstring(child) is not None:
                start = index + 1
                if self.curated:
                    self.lines.append(self._indent_of(child, b"") + self._text(child))
            break
        broken = recover and not self.clean
        lines = self.lines
        actions = kinds.actions
        definition = self.definition
        prev_kind: str | None = "docstring" if lines else None
        prev_multi = False
        prev_end = 0
        for child in children[start:] if start else children:
            mark = len(lines)
            segments = self._segments(child) if broken and child.has_error else None
            if segments:
                kind = self._recover(segments)
            else:
                node_kind = child.kind_id
                action = actions.get(node_kind)
                if action is None:
                    kind = None
                elif action == DEFINITION:
                    kind = "def" if definition(child, node_kind, b"") else None
                else:
                    kind = self.statement(child, node_kind, action, b"")
                if kind is None:
                    # Comments, expressions, loops: nothing a view keeps, but one indented at
                    # module level is an indentation error tree-sitter let pass.
                    if node_kind not in comment and not self.suspect_indent:
                        start = child.start_byte
                        if start and self.src[start - 1] != 10:
                            self._indent_of(child, b"")
                    continue
            if kind is None:
                continue
            # Blank lines only at module level: around definitions and multi-line items, and
            # where the source had one between two kept imports or constants (import groups).
            multi = len(lines) - mark > 1 or b"\n" in lines[mark]
            if prev_kind is not None and (
                kind != prev_kind
                or multi
                or prev_multi
                or (kind != "def" and self._blank_line_between(prev_end, child.start_byte))
            ):
                lines.insert(mark, b"")
            prev_kind, prev_multi, prev_end = kind, multi, child.end_byte


    def _blank_line_between(self, start: int, end: int) -> bool:
        # A blank line needs two line breaks; most gaps between statements have one.
        src = self.src
        return src.count(b"\n", start, end) > 1 and _BLANK_LINE.search(src, start, end) is not None

    # -- recovering from syntax errors ----------------------------------------------------

    def _segments(self, node: Node) -> list[tuple[int, int]] | None:
        """Where a broken top-level node can be cut into top-level statements, or None.

        tree-sitter's recovery can swallow the rest of a file into one ERROR node (an unclosed
        bracket does it); every line that starts at column 0 with a statement (not inside a
        string) begins a piece that can be parsed on its own.
        """
        cuts = [node.start_byte]
        string_parts = self.kinds.string_parts
        for match in _TOP_LEVEL_START.finditer(self.src, node.start_byte + 1, node.end_byte):
            position = match.start()
            found = self.root.descendant_for_byte_range(position, position + 1)
            if found is not None and found.kind_id in string_parts:
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
            root = parse(piece, self.rules).root_node
            walk = _Walk(piece, self.rules, curated=self.curated, root=root)
            walk.module(docstring=False, recover=False)
            if walk.lines:
                if len(lines) > mark:
                    lines.append(b"")
                lines += walk.lines
        return "def" if len(lines) > mark else None

    # -- statements -----------------------------------------------------------------------

    def block(self, children: list[Node], indent: bytes, skip: Node | None = None) -> None:
        """Append what a view keeps of each statement of a class body or a branch."""
        actions = self.kinds.actions
        definition = self.definition
        for child in children:
            if child is skip:
                continue
            kind = child.kind_id
            action = actions.get(kind)
            if action is None:
                continue
            if action == DEFINITION:
                definition(child, kind, indent)
            else:
                self.statement(child, kind, action, indent)

    def statement(self, node: Node, kind: int, action: int | None, indent: bytes) -> str | None:
        """Append what a view keeps of one statement of kind id `kind` (whose entry in
        `Kinds.actions` is `action`); its kind ("import", "assignment", "def"), or None when
        the view drops it."""
        if action is None:
            return None
        if action == DEFINITION:
            return "def" if self.definition(node, kind, indent) else None
        if action == VERBATIM or (action == EXPRESSION and self._is_assignment(node)):
            if not self.clean and node.has_error:
                return None
            src = self.src
            start = node.start_byte
            end = node.end_byte
            # The usual case, one slice: the node starts a line at `indent`.
            line_start = start - len(indent)
            if line_start > 0 and src[line_start - 1] == 10 and src.startswith(indent, line_start):
                own, text_start = b"", line_start
            else:
                own, text_start = self._indent_of(node, indent), start
            if end - start > self.literal_limit and action == EXPRESSION:
                self.lines.append(own + self._elided(node, text_start))
            else:
                self.lines.append(own + src[text_start:end])
            return "import" if kind in self.kinds.imports else "assignment"
        if action == COMPOUND:
            return "def" if self.compound(node, indent) else None
        if action == ERROR:
            # tree-sitter wraps what it could not fit in ERROR nodes; whole statements often
            # survive inside, so salvage them.
            mark = len(self.lines)
            self.block(node.children, indent)
            return "def" if len(self.lines) > mark else None
        return None

    def _elided(self, statement: Node, text_start: int) -> bytes:
        kinds = self.kinds
        return elide_statement(
            self.src, statement, text_start, self.literal_limit, kinds.literals,
            kinds.parentheses, kinds.comment, self.rules.comment_sign,
        )  # fmt: skip

    def _is_assignment(self, node: Node) -> bool:
        expression = node.named_child(0)
        return expression is not None and expression.kind_id in self.kinds.assignments

    # -- definitions ----------------------------------------------------------------------

    def definition(self, node: Node, kind: int, indent: bytes) -> bool:
        """Append a function's or class's header (and what the view keeps of its body); False
        when it has no usable header. `kind` is `node.kind_id`."""
        kinds = self.kinds
        if kind in kinds.decorated:
            found = node.child_by_field_id(kinds.definition_field)
            if found is None:
                return False
            definition = found
            definition_kind = definition.kind_id
        else:
            definition = node
            definition_kind = kind
        src = self.src
        start = node.start_byte
        clean = self.clean or not node.has_error
        body = definition.child_by_field_id(kinds.body_field) if clean else None
        if body is not None:
            body_start = body.start_byte
            # The fast way to the header's end: with no comment sign anywhere before the body,
            # only blanks and line continuations follow the header's colon, so it is the last
            # colon before the body.
            if src.find(kinds.comment_sign, start, body_start) < 0:
                header_end = src.rfind(kinds.header_end_bytes, start, body_start)
            elif definition_kind in kinds.functions:
                header_end = self._colon_after_signature(definition, body_start)
            else:
                header_end = -1
            if header_end >= 0:
                header_end += len(kinds.header_end_bytes)
        else:
            header_end = -1
        if header_end < 0:
            colon_node, body = self._colon_and_block(definition)
            if colon_node is None or body is None:
                return False
            if node.has_error and self._header_broken(node, definition, colon_node):
                return False
            header_end = colon_node.end_byte
            body_start = body.start_byte
        assert body is not None
        opener = src[body_start] if body_start < len(src) else -1
        if opener in _LINE_BREAKS:
            # An empty block (it starts at the header's line break, where a block's first
            # statement would be): `def f():` and nothing indented under it; Python refuses it.
            self.suspect_indent = True
        # The usual case, checked without a search: the node starts a line at `indent`; then
        # the header line with its indentation is one slice.
        line_start = start - len(indent)
        if line_start > 0 and src[line_start - 1] == 10 and src.startswith(indent, line_start):
            own = indent
            head = src[line_start:header_end]
        else:
            own = self._indent_of(node, indent)
            head = own + src[start:header_end]
        if definition_kind in kinds.classes:
            self._class(own, head, body)
            return True
        if (
            self.curated
            and (self.hot_comments or kind in kinds.decorated)
            and (self.clean or not body.has_error)
            and self._is_hot(node, kind, definition, header_end)
        ):
            self.lines.append(own + src[start : node.end_byte])
            return True
        doc = None
        # A docstring needs a string first; one byte rules most bodies out without a node. In a
        # clean tree the string starts the body, so its opening (read from the bytes) rules
        # out the rest of the bodies that start with a letter (`return`, `raise`, `for`).
        if opener in _STRING_STARTS and (
            not clean or opener in _QUOTE_BYTES or self._opening(body_start) is not None
        ):
            # The block starts where its first child does, and that child is no comment (it
            # starts with a string's byte); only an unnamed token needs the careful search.
            first = body.child(0)
            if first is not None and first.kind_id in kinds.anonymous:
                first = self._first_statement(body)
            if first is not None and first.kind_id in kinds.expression_statement:
                doc = self._docstring_line(first)
        if doc is None:
            # A body that is already just the placeholder (an overload, a protocol method) hides
            # nothing, so it is not marked as hidden.
            placeholder = self.rules.body_placeholder
            if (
                self.curated
                and src.startswith(placeholder, body_start)
                and body.end_byte - body_start == len(placeholder)
            ):
                self.lines.append(head + b" " + placeholder)
            else:
                self.lines.append(head + self.suffix)
        else:
            body_indent = self._indent_at(body_start, own)
            self.lines += (head, body_indent + doc, body_indent + self.placeholder)
        return True

    def _colon_after_signature(self, definition: Node, body_start: int) -> int:
        """Where the header's colon is: the first one after the return annotation (or the
        parameters); only blanks, a line continuation or a comment sit between. -1 if none."""
        kinds = self.kinds
        for field in kinds.function_header_fields:
            last = definition.child_by_field_id(field)
            if last is not None:
                return self.src.find(kinds.header_end_bytes, last.end_byte, body_start)
        return -1

    def _class(self, own: bytes, head: bytes, body: Node) -> None:
        lines = self.lines
        lines.append(head)
        mark = len(lines)
        children = body.children
        kinds = self.kinds
        comment, anonymous = kinds.comment, kinds.anonymous
        first = None
        for child in children:
            kind = child.kind_id
            if kind not in comment and kind not in anonymous:
                first = child
                break
        if first is None:
            lines[-1] = head + b" " + self.rules.body_placeholder
            return
        body_indent = self._block_indent(first, own)
        skip = None
        if self._docstring(first) is not None:
            skip = first
            if self.curated:
                lines.append(body_indent + self._text(first))
            else:
                doc = self._docstring_line(first)
                if doc is not None:
                    lines.append(body_indent + doc)
        self.block(children, body_indent, skip)
        if len(lines) == mark:
            lines[-1] = head + b" " + self.rules.body_placeholder


    def _header_broken(self, node: Node, definition: Node, colon: Node) -> bool:
        """Whether an error sits in the decorators or the signature (not the body)."""
        if node.kind_id in self.kinds.decorated:
            for child in node.children:
                if child.kind_id in self.kinds.decorator and child.has_error:
                    return True
        for child in definition.children:
            if child == colon:
                return False
            if child.has_error or child.is_missing:
                return True
        return False

    # -- if / try / with ------------------------------------------------------------------

    def compound(self, node: Node, indent: bytes) -> bool:
        """Keep a block-structured statement when any branch keeps something.

        Every header line (`if`, `elif`, `else`, `try`, `except`, `finally`, `with`) stays so the
        view still parses; a branch left empty gets the placeholder.
        """
        kinds = self.kinds
        if node.kind_id in kinds.if_statement and self._is_entry_point(node):
            return False
        colon, block = self._colon_and_block(node)
        if colon is None or block is None:
            return False
        branches = [(node, colon, block)]
        for clause in node.children:
            if clause.kind_id in kinds.clauses:
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
            if first is not None:
                body_indent = self._block_indent(first, own)
            else:
                body_indent = own + self._unit(own)
            branch_mark = len(lines)
            self.block(owner_block.children, body_indent)
            if len(lines) == branch_mark:
                lines.append(body_indent + self.rules.body_placeholder)
            else:
                kept = True
        if not kept:
            del lines[mark:]
        return kept

    def _is_entry_point(self, node: Node) -> bool:
        kinds = self.kinds
        if node.child_by_field_id(kinds.if_alternative_field) is not None:
            return False
        condition = node.child_by_field_id(kinds.if_condition_field)
        if condition is None:
            return False
        text = b"".join(self._text(condition).split()).replace(b"'", b'"')
        return text in self.rules.entry_point_conditions

    # -- layout helpers -------------------------------------------------------------------

    def _first_statement(self, block: Node) -> Node | None:
        comment = self.kinds.comment
        for index in range(block.named_child_count):
            child = block.named_child(index)
            if child is not None and child.kind_id not in comment:
                return child
        return None

    def _colon_and_block(self, node: Node) -> tuple[Node | None, Node | None]:
        """The `:` that ends a header and the block it opens (the first block child)."""
        colon = None
        header_end, block = self.kinds.header_end, self.kinds.block
        for child in node.children:
            kind = child.kind_id
            if kind in header_end:
                colon = child
            elif kind in block:
                return colon, child
        return colon, None

    def _indent_of(self, node: Node, fallback: bytes) -> bytes:
        """The node's own indentation when it starts its line, else `fallback` (`x = 1; y = 2`
        or `if a: b = 1` put a statement after other text)."""
        start = node.start_byte
        prefix = self.src[self._line_start(start) : start]
        if prefix.strip():
            return fallback
        if prefix != fallback:
            self.suspect_indent = True
        return prefix

    def _block_indent(self, first: Node, parent_indent: bytes) -> bytes:
        """The indentation of a block whose first statement is `first`, exactly as written when
        that statement starts a line; one unit deeper than the parent when it follows the
        header on the same line."""
        return self._indent_at(first.start_byte, parent_indent)

    def _indent_at(self, start: int, parent_indent: bytes) -> bytes:
        src = self.src
        deeper = self.deeper.get(parent_indent)
        if deeper is None:
            deeper = self.deeper[parent_indent] = parent_indent + self._unit(parent_indent)
        # The usual case, checked without a search: one unit deeper than the parent.
        line_start = start - len(deeper)
        if line_start > 0 and src[line_start - 1] == 10 and src.startswith(deeper, line_start):
            return deeper
        prefix = src[self._line_start(start) : start]
        if not prefix.strip():
            return prefix
        return deeper

    def _unit(self, parent_indent: bytes) -> bytes:
        # Mixing a tab-indented parent with space-indented children can be a TabError.
        return b"\t" if b"\t" in parent_indent else self.rules.indent_unit
