"""The parts of the Python view walk that read text around a node: hot-body markers
(`# [HOT]` comments, `@core_logic` decorators), docstrings, and line positions.

A mixin of `ast_views._Walk`, which holds the state these methods read.
"""

from __future__ import annotations

from tree_sitter import Node

from slop_tui.memory.languages import LanguageRules
from slop_tui.memory.py_kinds import Kinds

_QUOTES = (b'"', b"'")


class TextMarks:
    """Hot markers, docstrings and line positions, read from `src` and the tree at `root`."""

    __slots__ = ()
    src: bytes
    rules: LanguageRules
    kinds: Kinds
    root: Node
    hot_comments: bool

    # -- hot bodies -----------------------------------------------------------------------

    def _is_hot(self, node: Node, kind: int, definition: Node, header_end: int) -> bool:
        """A `@...core_logic` decorator, or a hot-marker comment directly above the definition
        (its decorators or its `def` line) or trailing on the `def` line or the colon line."""
        rules = self.rules
        src = self.src
        if kind in self.kinds.decorated:
            for child in node.children:
                if child.kind_id in self.kinds.decorator and self._is_hot_decorator(child):
                    return True
        if not self.hot_comments:
            return False  # no marker anywhere in the file
        start = self._line_start(node.start_byte)
        region_start = self._line_start(start - 1) if start > 0 else 0
        colon_line_end = self._line_end(header_end)
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
        colon_start = self._line_start(header_end - 1)
        return colon_start > def_start and self._trailing_comment_is_hot(
            header_end, colon_line_end
        )

    def _is_hot_decorator(self, decorator: Node) -> bool:
        expression = decorator.named_child(0)
        if expression is None:
            return False
        if expression.kind_id in self.kinds.call:
            function = expression.child_by_field_id(self.kinds.call_function_field)
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
            if self._is_comment_at(position):
                return self._comment_is_hot(position, end)
            position = self.src.find(sign, position + 1, end)
        return False

    def _is_comment_at(self, position: int) -> bool:
        found = self.root.descendant_for_byte_range(position, position + 1)
        return found is not None and found.kind_id in self.kinds.comment

    def _comment_is_hot(self, position: int, end: int) -> bool:
        # Confirm with the tree that the sign opens a comment (not, say, a line of a string).
        if not self._is_comment_at(position):
            return False
        text = self.src[position + len(self.rules.comment_sign) : end].strip()
        return text.startswith(self.rules.hot_marker)

    # -- docstrings -----------------------------------------------------------------------

    def _docstring(self, statement: Node) -> Node | None:
        """The string node when `statement` is a bare string that can be a docstring."""
        kinds = self.kinds
        if statement.kind_id not in kinds.expression_statement:
            return None
        if statement.named_child_count != 1:
            return None
        string = statement.named_child(0)
        if string is None or string.has_error:
            return None
        if string.kind_id in kinds.concatenated:
            # `"a" "b"` is one docstring to Python, when every piece could be one.
            pieces = string.named_children
            if all(
                piece.kind_id in kinds.comment
                or (piece.kind_id in kinds.string and self._opening(piece.start_byte) is not None)
                for piece in pieces
            ):
                return string
            return None
        if string.kind_id not in kinds.string:
            return None
        return string if self._opening(string.start_byte) is not None else None

    def _opening(self, start: int) -> int | None:
        """For a clean string node starting at `start`: where its opening quotes end, or None
        when its prefix rules out a docstring (bytes, f-string).

        Read from the bytes instead of the string's first child: tree-sitter's string start
        token is the prefix letters and then one quote, or three of the same."""
        src = self.src
        prefixes = self.rules.docstring_prefixes
        position, end = start, len(src)
        while position < end and src[position] in prefixes:
            position += 1
        quote = src[position : position + 1]
        if quote not in _QUOTES:
            return None  # another prefix letter (or no quote at all)
        if src.startswith(quote * 3, position):
            return position + 3
        return position + 1

    def _docstring_line(self, statement: Node) -> bytes | None:
        """The docstring's first non-blank line, re-quoted with its own quotes and prefix.

        Written for speed (most functions start with a docstring); `_docstring` is the same
        test, spelled plainly."""
        if statement.named_child_count != 1:
            return None
        string = statement.named_child(0)
        if string is None or string.kind_id not in self.kinds.string or string.has_error:
            return None
        string_start = string.start_byte
        position = self._opening(string_start)
        if position is None:
            return None
        src = self.src
        opening = src[string_start:position]
        quote = opening.lstrip(self.rules.docstring_prefixes)
        # A clean string ends with the same quotes it opened with.
        end = string.end_byte - len(quote)
        return requoted_first_line(src, position, end, opening, quote)

    def _line_start(self, position: int) -> int:
        return self.src.rfind(b"\n", 0, position) + 1

    def _line_end(self, position: int) -> int:
        end = self.src.find(b"\n", position)
        return len(self.src) if end < 0 else end

    def _text(self, node: Node) -> bytes:
        return self.src[node.start_byte : node.end_byte]


def requoted_first_line(src: bytes, position: int, end: int, opening: bytes, quote: bytes) -> bytes | None:
    """A docstring's first non-blank line between `position` and `end` (its body), closed
    with its own quotes: `opening` (prefix and quotes) + the line + `quote`; None when blank.
    Shared by the tree-sitter walk and the `ast` fallback."""
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
