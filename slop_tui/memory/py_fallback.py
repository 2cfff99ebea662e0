"""Python views built from the running Python's `ast`, for files tree-sitter misreads.

tree-sitter's Python grammar rejects some valid Python (a continuation line dedented below its
block after a `.`, `f[*[0]]`, CR-only line endings, new syntax) and tolerates some invalid
Python (indentation errors). The view walk asks here only when its tree has an error or its
walk saw a suspicious indentation, so a clean file never pays for `ast`:

- `ast` accepts the file: the view is rebuilt from `ast`'s positions, with text sliced from the
  source (headers exactly as written), following the same rules as the tree-sitter walk;
- `ast` rejects it: the tree-sitter view stays, and its warning points where Python does.
"""

from __future__ import annotations

import ast
import re
import tokenize
import warnings
from collections.abc import Sequence
from io import StringIO
from typing import Literal

from slop_tui.memory.languages import LanguageRules
from slop_tui.memory.literals import (
    CURATED_LITERAL_LIMIT,
    SKELETON_LITERAL_LIMIT,
    STRING_PLACEHOLDER,
    entries_note,
    string_placeholder,
)
from slop_tui.memory.py_marks import requoted_first_line
from slop_tui.memory.view_types import SyntaxProblem


class FallbackCounters:
    """How often `ast` ran (tests check that a clean file never makes it run)."""

    checks = 0


_NEWLINES = re.compile(rb"\r\n?")
_QUOTES = (b'"', b"'")
_BLANK_LINE = re.compile(rb"\n[ \t\f]*\n")


def normalize_newlines(source: bytes) -> bytes:
    """`\\r\\n` and a lone `\\r` as `\\n`, as Python's own tokenizer reads them."""
    return _NEWLINES.sub(b"\n", source) if b"\r" in source else source


def check(source: bytes) -> ast.Module | SyntaxProblem | None:
    """The module `ast` makes of UTF-8 `source` (newlines normalized), or where it stops, or
    None when `ast` cannot tell (too deep a nesting, not UTF-8)."""
    FallbackCounters.checks += 1
    try:
        # The text, not the bytes: the cache decoded it by its own declaration already, and
        # `ast` then ignores the cookie, so its byte offsets are offsets into `source`.
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        # The file's own warnings (an invalid escape sequence) are not the view's to print.
        # `catch_warnings` swaps a process-wide filter list: another thread warning in this
        # instant may be filtered too, which is harmless.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except SyntaxError as exc:
        line = exc.lineno or 1
        column = exc.offset or 1
        return SyntaxProblem(line=line, column=max(column, 1), message=exc.msg or "invalid syntax")
    except (ValueError, RecursionError, MemoryError):
        return None


_Kind = Literal["import", "assignment", "def"]


class AstWalk:
    """The view of a module from its `ast`: the same choices as the tree-sitter walk (module
    and class level, `if`/`try`/`with` blocks there, never a function body), text sliced
    from the newline-normalized UTF-8 `src`."""

    def __init__(self, src: bytes, rules: LanguageRules, *, curated: bool) -> None:
        self.src = src
        self.rules = rules
        self.curated = curated
        self.lines: list[bytes] = []
        self.previous_end = 0  # where the statement before the current one ends
        self.placeholder = rules.hidden_placeholder if curated else rules.body_placeholder
        self.hot_comments = curated and rules.hot_marker in src
        self.literal_limit = CURATED_LITERAL_LIMIT if curated else SKELETON_LITERAL_LIMIT
        self.line_starts = [0]
        position = src.find(b"\n")
        while position >= 0:
            self.line_starts.append(position + 1)
            position = src.find(b"\n", position + 1)

    # -- positions ------------------------------------------------------------------------

    def start(self, node: ast.AST) -> int:
        return self.line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        line: int = node.end_lineno  # type: ignore[attr-defined]
        return self.line_starts[line - 1] + node.end_col_offset  # type: ignore[attr-defined]

    def _line_start(self, position: int) -> int:
        return self.src.rfind(b"\n", 0, position) + 1

    def _line_end(self, position: int) -> int:
        end = self.src.find(b"\n", position)
        return len(self.src) if end < 0 else end

    def _indent_of(self, start: int, fallback: bytes) -> bytes:
        prefix = self.src[self._line_start(start) : start]
        return prefix if not prefix.strip() else fallback

    def _indent_at(self, start: int, parent: bytes) -> bytes:
        prefix = self.src[self._line_start(start) : start]
        if not prefix.strip():
            return prefix
        return parent + (b"\t" if b"\t" in parent else self.rules.indent_unit)

    def _colon_after(self, position: int) -> int:
        """Just past the first `:` from `position` outside comments (only brackets, commas,
        blanks and comments sit between a header's last part and its colon)."""
        src = self.src
        while True:
            colon = src.find(b":", position)
            comment = src.find(b"#", position, colon if colon >= 0 else len(src))
            if comment < 0:
                return colon + 1 if colon >= 0 else -1
            position = self._line_end(comment)

    # -- module ---------------------------------------------------------------------------

    def module(self, tree: ast.Module) -> list[bytes]:
        body = tree.body
        lines = self.lines
        if body and self._docstring(body[0]):
            if self.curated:
                first = body[0]
                start = self.start(first)
                lines.append(self._indent_of(start, b"") + self.src[start : self.end(first)])
            body = body[1:]
        prev_kind: str | None = "docstring" if lines else None
        prev_multi = False
        prev_end = 0
        for node in body:
            mark = len(lines)
            kind = self.statement(node, b"")
            self.previous_end = self.end(node)
            if kind is None:
                continue
            multi = len(lines) - mark > 1 or b"\n" in lines[mark]
            start = self._outer_start(node)
            if prev_kind is not None and (
                kind != prev_kind
                or multi
                or prev_multi
                or (kind != "def" and _BLANK_LINE.search(self.src, prev_end, start) is not None)
            ):
                lines.insert(mark, b"")
            prev_kind, prev_multi, prev_end = kind, multi, self.end(node)
        return lines

    def _outer_start(self, node: ast.stmt) -> int:
        """Where a statement starts, its decorators' `@` included."""
        decorators: list[ast.expr] = getattr(node, "decorator_list", [])
        if decorators:
            return self.src.rfind(b"@", 0, self.start(decorators[0]))
        return self.start(node)

    def block(self, body: Sequence[ast.stmt], indent: bytes) -> None:
        for node in body:
            self.statement(node, indent)
            self.previous_end = self.end(node)

    def statement(self, node: ast.stmt, indent: bytes) -> _Kind | None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.definition(node, indent)
            return "def"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._verbatim(node, indent, elide=False)
            return "import"
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            self._verbatim(node, indent, elide=True)
            return "assignment"
        if type(node).__name__ == "TypeAlias":  # Python 3.12+
            self._verbatim(node, indent, elide=False)
            return "assignment"
        if isinstance(node, (ast.If, ast.Try, ast.With, ast.AsyncWith)) or (
            type(node).__name__ == "TryStar"
        ):
            return "def" if self.compound(node, indent) else None
        return None

    def _verbatim(self, node: ast.stmt, indent: bytes, *, elide: bool) -> None:
        start, end = self.start(node), self.end(node)
        own = self._indent_of(start, indent)
        if elide and end - start > self.literal_limit:
            self.lines.append(own + self._elided(node, start, end))
        else:
            self.lines.append(own + self.src[start:end])

    def _elided(self, statement: ast.stmt, start: int, end: int) -> bytes:
        """The statement with each literal longer than the limit (the outermost) replaced by
        its placeholder, and a trailing comment saying what went."""
        src = self.src
        limit = self.literal_limit
        cuts: list[tuple[int, int, bytes, str]] = []
        pending: list[ast.AST] = [statement]
        while pending:
            node = pending.pop()
            for child in ast.iter_child_nodes(node):
                if not hasattr(child, "end_col_offset"):
                    continue
                child_start, child_end = self.start(child), self.end(child)
                if child_end - child_start <= limit:
                    continue
                placeholder: bytes | None = None
                what = ""
                if isinstance(child, ast.Dict):
                    placeholder, what = b"{...}", entries_note(len(child.keys))
                elif isinstance(child, ast.Set):
                    placeholder, what = b"{...}", entries_note(len(child.elts))
                elif isinstance(child, ast.List):
                    placeholder, what = b"[...]", entries_note(len(child.elts))
                elif isinstance(child, ast.Tuple):
                    placeholder, what = b"(...)", entries_note(len(child.elts))
                elif isinstance(child, ast.JoinedStr) or (
                    isinstance(child, ast.Constant) and isinstance(child.value, (str, bytes))
                ):
                    placeholder, what = string_placeholder(src, child_start, child_end)
                if placeholder is None:
                    pending.append(child)
                    continue
                if not isinstance(node, ast.Call):
                    child_start, child_end = self._parentheses(child_start, child_end)
                cuts.append((child_start, child_end, placeholder, what))
        if not cuts:
            return src[start:end]
        cuts.sort()
        pieces: list[bytes] = []
        position = start
        for cut_start, cut_end, placeholder, _ in cuts:
            pieces += (src[position:cut_start], placeholder)
            position = cut_end
        pieces.append(src[position:end])
        pieces.append(b"  " + self.rules.comment_sign + b" ")
        pieces.append(", ".join(what for *_, what in cuts).encode())
        return b"".join(pieces)

    def _parentheses(self, start: int, end: int) -> tuple[int, int]:
        """The span of `(` a literal `)` when brackets (and blanks, and comments after the
        literal) are all that surround it: they go with it, so no stray comment stays."""
        src = self.src
        before = -1
        position = start
        while position > 0:
            line_start = self._line_start(position)
            code = src[line_start:position]
            stripped = code.lstrip()
            if not stripped.strip() or stripped.startswith(b"#"):
                position = line_start - 1  # a blank or comment line: the line above
                continue
            code = code.split(b"#", 1)[0].rstrip(b" \t\f\\")
            if code.endswith(b"("):
                before = line_start + len(code) - 1
            break
        if before < 0:
            return start, end
        after = end
        while after < len(src):
            byte = src[after]
            if byte in b" \t\f\n\\":
                after += 1
            elif byte == 35:  # "#"
                after = self._line_end(after)
            else:
                break
        if after < len(src) and src[after] == 41:  # ")"
            return before, after + 1
        return start, end

    # -- definitions ----------------------------------------------------------------------

    def definition(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, indent: bytes
    ) -> None:
        src = self.src
        start = self._outer_start(node)
        anchor = self.start(node)
        parts: list[ast.AST]
        if isinstance(node, ast.ClassDef):
            parts = [*node.bases, *node.keywords]
        else:
            args = node.args
            parts = [
                *args.posonlyargs, *args.args, *args.kwonlyargs, *args.defaults,
                *(d for d in args.kw_defaults if d is not None),
            ]  # fmt: skip
            parts += [a for a in (args.vararg, args.kwarg, node.returns) if a is not None]
        for part in parts:
            anchor = max(anchor, self.end(part))
        header_end = self._colon_after(anchor)
        own = self._indent_of(start, indent)
        head = own + src[start:header_end]
        body = node.body
        if isinstance(node, ast.ClassDef):
            self._class(own, head, body)
            return
        if self.curated and self._is_hot(node, start, header_end):
            self.lines.append(own + src[start : self.end(node)])
            return
        first = body[0]
        doc = self._docstring_line(first) if self._docstring(first) else None
        if doc is not None:
            body_indent = self._indent_at(self.start(first), own)
            self.lines += (head, body_indent + doc, body_indent + self.placeholder)
            return
        placeholder = self.rules.body_placeholder
        if (
            self.curated
            and len(body) == 1
            and src[self.start(first) : self.end(first)] == placeholder
        ):
            self.lines.append(head + b" " + placeholder)
        else:
            self.lines.append(head + b" " + self.placeholder)

    def _class(self, own: bytes, head: bytes, body: list[ast.stmt]) -> None:
        lines = self.lines
        lines.append(head)
        mark = len(lines)
        first = body[0]
        body_indent = self._indent_at(self.start(first), own)
        rest = body
        if self._docstring(first):
            rest = body[1:]
            if self.curated:
                lines.append(body_indent + self.src[self.start(first) : self.end(first)])
            else:
                doc = self._docstring_line(first)
                if doc is not None:
                    lines.append(body_indent + doc)
        self.block(rest, body_indent)
        if len(lines) == mark:
            lines[-1] = head + b" " + self.rules.body_placeholder

    def _is_hot(self, node: ast.FunctionDef | ast.AsyncFunctionDef, start: int, end: int) -> bool:
        rules = self.rules
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            text = b"".join(self.src[self.start(target) : self.end(target)].split())
            if text.rsplit(b".", 1)[-1] == rules.hot_decorator:
                return True
        if not self.hot_comments:
            return False
        src = self.src
        def_start = self.start(node)
        first_line = self._line_start(start)
        region_start = self._line_start(first_line - 1) if first_line > 0 else 0
        colon_line_end = self._line_end(end)
        if src.find(rules.hot_marker, region_start, colon_line_end) < 0:
            return False
        for line_start in {first_line, self._line_start(def_start)}:
            # A line inside the statement before (a string's) is no comment.
            if line_start > 0 and self._line_start(line_start - 1) >= self.previous_end:
                above = src[self._line_start(line_start - 1) : line_start - 1].strip()
                if above.startswith(rules.comment_sign) and above[
                    len(rules.comment_sign) :
                ].strip().startswith(rules.hot_marker):
                    return True
        # Trailing comments on the `def` line or the colon line, found by the tokenizer so
        # that a marker inside a string default does not count.
        def_line = self._line_start(def_start)
        header = src[def_line:colon_line_end].decode("utf-8", "replace")
        last_row = header.count("\n") + 1
        try:
            for token in tokenize.generate_tokens(StringIO(header + "\n").readline):
                if token.type == tokenize.COMMENT and token.start[0] in (1, last_row):
                    comment = token.string[1:].strip()
                    if comment.startswith(rules.hot_marker.decode()):
                        return True
        except (tokenize.TokenError, SyntaxError):
            return False
        return False

    # -- docstrings -----------------------------------------------------------------------

    def _docstring(self, node: ast.stmt) -> bool:
        if not isinstance(node, ast.Expr):
            return False
        value = node.value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return False
        return self._opening(self.start(value)) is not None

    def _opening(self, start: int) -> int | None:
        src = self.src
        prefixes = self.rules.docstring_prefixes
        position = start
        while position < len(src) and src[position] in prefixes:
            position += 1
        quote = src[position : position + 1]
        if quote not in _QUOTES:
            return None
        if src.startswith(quote * 3, position):
            return position + 3
        return position + 1

    def _docstring_line(self, node: ast.stmt) -> bytes | None:
        """The docstring's first non-blank line, re-quoted with its own quotes and prefix;
        None for a docstring of several concatenated strings."""
        assert isinstance(node, ast.Expr)
        value = node.value
        string_start, string_end = self.start(value), self.end(value)
        position = self._opening(string_start)
        if position is None:
            return None
        src = self.src
        opening = src[string_start:position]
        quote = opening.lstrip(self.rules.docstring_prefixes)
        end = string_end - len(quote)
        if not src.startswith(quote, end) or _unescaped(src[position:end], quote):
            return None  # several pieces
        return requoted_first_line(src, position, end, opening, quote)

    # -- if / try / with ------------------------------------------------------------------

    def compound(self, node: ast.stmt, indent: bytes) -> bool:
        src = self.src
        branches: list[tuple[int, int, list[ast.stmt]]] = []  # header start, end, body
        start = self.start(node)
        if isinstance(node, ast.If):
            if not node.orelse and self._is_entry_point(node):
                return False
            current: ast.If = node
            branches.append((start, self._colon_after(self.end(current.test)), current.body))
            while current.orelse:
                orelse = current.orelse
                first = orelse[0]
                if (
                    len(orelse) == 1
                    and isinstance(first, ast.If)
                    and src.startswith(b"elif", self.start(first))
                ):
                    current = first
                    branches.append(
                        (self.start(first), self._colon_after(self.end(first.test)), first.body)
                    )
                    continue
                branches.append(self._keyword_branch(b"else", current.body, orelse))
                break
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            anchor = start
            for item in node.items:
                anchor = max(anchor, self.end(item.context_expr))
                if item.optional_vars is not None:
                    anchor = max(anchor, self.end(item.optional_vars))
            branches.append((start, self._colon_after(anchor), node.body))
        else:
            try_node: ast.Try = node  # type: ignore[assignment]  # Try or TryStar
            branches.append((start, self._colon_after(start), try_node.body))
            previous = try_node.body
            for handler in try_node.handlers:
                handler_start = self.start(handler)
                anchor = self.end(handler.type) if handler.type is not None else handler_start
                branches.append((handler_start, self._colon_after(anchor), handler.body))
                previous = handler.body
            if try_node.orelse:
                branches.append(self._keyword_branch(b"else", previous, try_node.orelse))
                previous = try_node.orelse
            if try_node.finalbody:
                branches.append(self._keyword_branch(b"finally", previous, try_node.finalbody))
        own = self._indent_of(start, indent)
        lines = self.lines
        mark = len(lines)
        kept = False
        for header_start, header_end, body in branches:
            if header_start < 0 or header_end < 0:
                del lines[mark:]
                return False
            lines.append(own + src[header_start:header_end])
            body_indent = self._indent_at(self.start(body[0]), own)
            branch_mark = len(lines)
            self.block(body, body_indent)
            if len(lines) == branch_mark:
                lines.append(body_indent + self.rules.body_placeholder)
            else:
                kept = True
        if not kept:
            del lines[mark:]
        return kept

    def _keyword_branch(
        self, keyword: bytes, before: list[ast.stmt], body: list[ast.stmt]
    ) -> tuple[int, int, list[ast.stmt]]:
        """An `else:`/`finally:` branch, whose keyword `ast` gives no position: the first line
        after the previous block that starts with it."""
        region_start = self.end(before[-1])
        region_end = self.start(body[0])
        pattern = re.compile(rb"^[ \t\f]*(" + keyword + rb")[ \t\f]*:", re.MULTILINE)
        found = pattern.search(self.src, self._line_end(region_start), region_end)
        if found is None:
            return (-1, -1, body)
        return (found.start(1), found.end(), body)

    def _is_entry_point(self, node: ast.If) -> bool:
        test = node.test
        text = b"".join(self.src[self.start(test) : self.end(test)].split()).replace(b"'", b'"')
        return text in self.rules.entry_point_conditions


def _unescaped(content: bytes, quote: bytes) -> bool:
    """Whether `quote` closes a string inside `content` (so the string has several pieces)."""
    position = content.find(quote)
    while position >= 0:
        backslashes = 0
        while position - backslashes > 0 and content[position - backslashes - 1] == 92:
            backslashes += 1
        if backslashes % 2 == 0:
            return True
        position = content.find(quote, position + 1)
    return False


def ast_view_text(src: bytes, tree: ast.Module, rules: LanguageRules, *, curated: bool) -> str:
    """The view text of a module `ast` accepted; `src` is its newline-normalized UTF-8."""
    lines = AstWalk(src, rules, curated=curated).module(tree)
    if not lines:
        return ""
    lines.append(b"")
    return b"\n".join(lines).decode("utf-8", "replace")


__all__ = ["STRING_PLACEHOLDER", "FallbackCounters", "ast_view_text", "check", "normalize_newlines"]
