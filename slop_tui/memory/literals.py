"""Long literal values in views: a data table becomes `NAME = {...}  # 3,412 entries`.

Shared by the tree-sitter walk (`ast_views`) and the `ast` fallback (`py_fallback`): the size
limits, the placeholders (each still parses), and the elision of a tree-sitter statement.
"""

from __future__ import annotations

from tree_sitter import Node

# A constant's value longer than this many bytes of source (about 100 tokens) is elided from a
# skeleton view when it is a container or string literal: past that size a constant is a data
# table (rich's emoji codes, a codec's decoding table, an entity map), and its placeholder costs
# a tenth of it or less. Smaller constants (most settings, `__all__`, a format string, a short
# regex) say something about the module and stay. Curated views keep every literal up to ten
# times that: a worker may edit a target's constants; only true data tables are elided there
# (the worker can still `read_file` them raw).
SKELETON_LITERAL_LIMIT = 400
CURATED_LITERAL_LIMIT = 4000

STRING_PLACEHOLDER = b"'...'"
_QUOTE_BYTES = frozenset(b"\"'")

# Literal node kinds a view may elide, with what replaces them; per language, by name. Strings
# keep their prefix letters.
ELIDED_LITERALS: dict[str, dict[str, bytes]] = {
    "python": {
        "dictionary": b"{...}",
        "set": b"{...}",
        "list": b"[...]",
        "tuple": b"(...)",
        "expression_list": b"(...)",  # `X = 1, 2, 3`
        "string": STRING_PLACEHOLDER,
        "concatenated_string": STRING_PLACEHOLDER,
    },
}
# Brackets around one expression: `(` a long literal `)` is elided whole.
PARENTHESES: dict[str, tuple[str, ...]] = {"python": ("parenthesized_expression",)}


def entries_note(count: int) -> str:
    return f"{count:,} {'entry' if count == 1 else 'entries'}"


def string_placeholder(src: bytes, start: int, end: int) -> tuple[bytes, str]:
    """The placeholder of the string literal at `src[start:end]` (its first piece's prefix
    stays: `b'...'` is still bytes, `f'...'` still parses) and its size note."""
    position = start
    while position < end and src[position] not in _QUOTE_BYTES:
        position += 1
    prefix = src[start:position] if position - start <= 3 else b""
    characters = len(src[start:end].decode("utf-8", "replace"))
    return prefix + STRING_PLACEHOLDER, f"{characters:,} characters"


def elide_statement(
    src: bytes,
    statement: Node,
    text_start: int,
    limit: int,
    literals: dict[int, bytes],
    parentheses: frozenset[int],
    comment: frozenset[int],
    comment_sign: bytes,
) -> bytes:
    """The statement's text from `text_start`, each literal longer than `limit` (the outermost
    one) replaced by its placeholder, and what was elided said in a trailing comment. Literal
    and bracket kinds and comments come as tree-sitter kind ids."""
    cuts: list[tuple[int, int, bytes, str]] = []
    # Only a node longer than the limit can hold a literal longer than it.
    pending = [statement]
    while pending:
        node = pending.pop()
        for child in node.children:
            if child.end_byte - child.start_byte <= limit:
                continue
            inner = child
            if child.kind_id in parentheses:
                # `(` a literal `)`, comments and all, goes whole: no stray comment stays.
                inner = _only_expression(child, comment) or child
            placeholder = literals.get(inner.kind_id)
            if placeholder is None:
                pending.append(child)
                continue
            if placeholder == STRING_PLACEHOLDER:
                placeholder, what = string_placeholder(src, inner.start_byte, inner.end_byte)
            else:
                what = _entries(src, inner, comment, comment_sign)
            cuts.append((child.start_byte, child.end_byte, placeholder, what))
    if not cuts:
        return src[text_start : statement.end_byte]
    cuts.sort()
    pieces: list[bytes] = []
    position = text_start
    for start, end, placeholder, _ in cuts:
        pieces += (src[position:start], placeholder)
        position = end
    pieces.append(src[position : statement.end_byte])
    pieces.append(b"  " + comment_sign + b" ")
    pieces.append(", ".join(what for *_, what in cuts).encode())
    return b"".join(pieces)


def _only_expression(node: Node, comment: frozenset[int]) -> Node | None:
    inner = [child for child in node.named_children if child.kind_id not in comment]
    return inner[0] if len(inner) == 1 else None


def _entries(src: bytes, node: Node, comment: frozenset[int], comment_sign: bytes) -> str:
    count = node.named_child_count
    # Comments are named children too; only a literal with a comment sign in it can hold one.
    if src.find(comment_sign, node.start_byte, node.end_byte) >= 0:
        count -= sum(1 for child in node.named_children if child.kind_id in comment)
    return entries_note(count)
