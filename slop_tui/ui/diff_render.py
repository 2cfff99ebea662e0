"""A unified diff as a person reads it: the code highlighted in its own language on `+`/`-` tints.

Each changed line keeps the highlighting of its file's language (a Pygments lexer picked from
the path, plain text when none fits); the words that changed between a removed line and the
added line paired with it get a stronger tint (difflib over word tokens, as delta and lazygit
do); a gutter holds the old and new line numbers. Lines wrap at any width and are never cropped:
a continuation row carries `↪` in the gutter, so every character a person approves is on screen.

Hunk `i` is the `i`-th `@@` header of the diff, as `tools/hunks.split_hunks` counts them; with a
selection each header shows `[x]`/`[ ]`, the hunks left out are dimmed, `▶` marks the cursor.

The work is lazy: parsing and line counts are cheap and done up front, while highlighting is
done per block of a hunk the first time one of its rows is drawn. `DiffDocument` serves both
the eager Rich renderable (`render_diff`) and the line-by-line `DiffView` widget.
Every text shown goes through `slop_tui.display.sanitize` first.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax, SyntaxTheme
from rich.text import Span, Text

from slop_tui.display import sanitize

if TYPE_CHECKING:
    from pygments.lexer import Lexer

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
TAB_SIZE = 4
BLOCK = 160  # rows of a hunk lexed together: enough context for the lexer, little wasted work
LOOKAHEAD = 4  # added lines tried for each removed one: a rewrite costs O(lines), not O(lines²)
MIN_SIMILARITY = 0.4  # a -/+ pair less alike than this is a rewrite: emphasising every word says nothing
WRAP_MARK = "↪"
_WORD = re.compile(r"\w+|\s+|[^\w\s]")


class Kind(Enum):
    META = "meta"  # file headers and anything outside a hunk
    HUNK = "hunk"  # an `@@` header
    CONTEXT = "context"
    ADD = "add"
    DEL = "del"
    NOTE = "note"  # "\ No newline at end of file"


@dataclass(frozen=True)
class Palette:
    add: str
    add_emph: str
    delete: str
    delete_emph: str
    add_sign: str
    delete_sign: str
    hunk: str


# delta's default tints: dark enough to keep the lexer's colours readable on top of them.
DARK = Palette("#002800", "#006000", "#3f0001", "#901011", "#5fd75f", "#ff5f5f", "#5fafd7")
LIGHT = Palette("#d0ffd0", "#a0efa0", "#ffe0e0", "#ffc0c0", "#107010", "#b01010", "#005f87")


@dataclass
class Row:
    kind: Kind
    text: str  # sanitised, tabs expanded, without the diff's one-character prefix
    old: int | None = None
    new: int | None = None
    hunk: int | None = None  # index of the hunk it belongs to (its header included)


def syntax_theme(dark: bool) -> str:
    """ANSI themes: the colours follow the terminal's own palette at 16 and 256 colours alike."""
    return "ansi_dark" if dark else "ansi_light"


def _shown(text: str) -> str:
    return sanitize(text).expandtabs(TAB_SIZE)


@lru_cache(maxsize=64)
def lexer_for(path: str) -> Lexer:
    """The Pygments lexer for `path`'s language; plain text when nothing fits (shared: a lexer
    keeps no state between `get_tokens` calls, and finding one costs milliseconds)."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

    name = path.rsplit("/", 1)[-1]
    try:
        return get_lexer_for_filename(name, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=True)


def parse_rows(diff: str) -> tuple[list[Row], list[int]]:
    """The diff's rows and, per hunk, the index of its header row."""
    rows: list[Row] = []
    headers: list[int] = []
    lines = diff.split("\n")  # not splitlines(): a form feed or U+2028 inside a line is content
    if lines and lines[-1] == "":
        lines.pop()
    old = new = old_left = new_left = 0
    for line in lines:
        match = HUNK_HEADER.match(line)
        if match is not None:
            a, b, c, d = match.groups()
            old, new = int(a), int(c)
            old_left = 1 if b is None else int(b)
            new_left = 1 if d is None else int(d)
            headers.append(len(rows))
            rows.append(Row(Kind.HUNK, _shown(line), hunk=len(headers) - 1))
            continue
        hunk = len(headers) - 1 if headers else None
        if hunk is not None and (old_left > 0 or new_left > 0):
            sign, body = line[:1], _shown(line[1:])
            if sign == "+":
                rows.append(Row(Kind.ADD, body, new=new, hunk=hunk))
                new, new_left = new + 1, new_left - 1
            elif sign == "-":
                rows.append(Row(Kind.DEL, body, old=old, hunk=hunk))
                old, old_left = old + 1, old_left - 1
            elif sign == "\\":
                rows.append(Row(Kind.NOTE, _shown(line), hunk=hunk))
            else:  # " x", or "" where a tool stripped the space of an empty context line
                rows.append(Row(Kind.CONTEXT, body, old=old, new=new, hunk=hunk))
                old, new, old_left, new_left = old + 1, new + 1, old_left - 1, new_left - 1
        elif hunk is not None and line.startswith("\\"):
            rows.append(Row(Kind.NOTE, _shown(line), hunk=hunk))
        else:
            old_left = new_left = 0
            rows.append(Row(Kind.META, _shown(line)))
    return rows, headers


def change_blocks(rows: list[Row]) -> list[tuple[list[int], list[int]]]:
    """Each run of removed lines with the added lines right after it: (removed, added) rows."""
    blocks: list[tuple[list[int], list[int]]] = []
    i = 0
    while i < len(rows):
        if rows[i].kind is not Kind.DEL:
            i += 1
            continue
        dels: list[int] = []
        while i < len(rows) and rows[i].kind in (Kind.DEL, Kind.NOTE):
            if rows[i].kind is Kind.DEL:
                dels.append(i)
            i += 1
        adds: list[int] = []
        while i < len(rows) and rows[i].kind in (Kind.ADD, Kind.NOTE):
            if rows[i].kind is Kind.ADD:
                adds.append(i)
            i += 1
        if adds:
            blocks.append((dels, adds))
    return blocks


class _Pairing:
    """Pairs the removed and added lines of one change block, in order, each removed line with
    the first of the next few added lines alike enough to it; done only as far as asked."""

    def __init__(self, rows: list[Row], dels: list[int], adds: list[int]) -> None:
        self.rows, self.dels, self.adds = rows, dels, adds
        self.next_del = 0
        self.next_add = 0
        self.spans: dict[int, list[tuple[int, int]]] = {}

    def spans_for(self, index: int) -> list[tuple[int, int]]:
        rows = self.rows
        while self.next_del < len(self.dels) and self.next_add < len(self.adds):
            if index in self.spans or self._passed(index):
                break
            d = self.dels[self.next_del]
            self.next_del += 1
            for k in range(self.next_add, min(len(self.adds), self.next_add + LOOKAHEAD)):
                found = changed_spans(rows[d].text, rows[self.adds[k]].text)
                if found is not None:
                    self.spans[d], self.spans[self.adds[k]] = found
                    self.next_add = k + 1
                    break
        return self.spans.get(index, [])

    def _passed(self, index: int) -> bool:
        if self.rows[index].kind is Kind.DEL:
            return self.next_del > 0 and self.dels[self.next_del - 1] >= index
        return self.next_add > 0 and self.adds[self.next_add - 1] >= index


def changed_spans(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
    """Character ranges that differ between two paired lines, word by word; None when the lines
    have too little in common for word emphasis to mean anything."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < MIN_SIMILARITY:
        return None

    def offsets(tokens: list[str]) -> list[int]:
        out = [0]
        for token in tokens:
            out.append(out[-1] + len(token))
        return out

    at, bt = offsets(a), offsets(b)
    old_spans: list[tuple[int, int]] = []
    new_spans: list[tuple[int, int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            old_spans.append((at[i1], at[i2]))
        if j2 > j1:
            new_spans.append((bt[j1], bt[j2]))
    return old_spans, new_spans


def wrap_breaks(text: str, first: int, rest: int) -> list[int]:
    """Offsets where `text` is cut so its first piece fits `first` cells and the others `rest`:
    cut at any character, so nothing is lost and a wide character is never split."""
    first, rest = max(1, first), max(1, rest)
    if text.isascii():
        if len(text) <= first:
            return []
        return list(range(first, len(text), rest))
    breaks: list[int] = []
    room, used = first, 0
    for i, ch in enumerate(text):
        width = cell_len(ch)
        if used + width > room and used > 0:
            breaks.append(i)
            room, used = rest, 0
        used += width
    return breaks


class DiffDocument:
    """A parsed diff that renders any of its rows at any width, highlighting on demand."""

    def __init__(
        self,
        diff: str,
        *,
        path: str,
        dark: bool = True,
        selected: Collection[int] | None = None,
        cursor: int | None = None,
    ) -> None:
        self.rows, self.hunk_rows = parse_rows(diff)
        self.path = path
        self.dark = dark
        self.palette = DARK if dark else LIGHT
        self.theme: SyntaxTheme = Syntax.get_theme(syntax_theme(dark))
        self._lexer: Lexer | None = None
        self._token_styles: dict[object, Style] = {}
        self._pairings: dict[int, _Pairing] = {}
        for dels, adds in change_blocks(self.rows):
            pairing = _Pairing(self.rows, dels, adds)
            for i in dels + adds:
                self._pairings[i] = pairing
        self._styled: dict[int, Text] = {}
        self._lines: dict[tuple[int, int], list[list[Segment]]] = {}
        self._starts: dict[int, list[int]] = {}
        self.selected: frozenset[int] | None = None
        self.cursor: int | None = None
        self.set_selection(selected, cursor)
        top = max((max(r.old or 0, r.new or 0) for r in self.rows), default=0)
        self.number_width = len(str(top))

    @property
    def hunk_count(self) -> int:
        return len(self.hunk_rows)

    def set_selection(self, selected: Collection[int] | None, cursor: int | None) -> None:
        self.selected = None if selected is None else frozenset(selected)
        self.cursor = cursor
        self._lines.clear()
        self._starts.clear()  # a header's marker changes its width

    # -- geometry -----------------------------------------------------------------------------

    def _prefix_width(self, row: Row) -> int:
        if row.kind in (Kind.CONTEXT, Kind.ADD, Kind.DEL):
            return 2 * self.number_width + 3  # "old new " and the sign
        if row.kind is Kind.HUNK and self.selected is not None:
            return 6  # "▶ [x] "
        return 0

    def _breaks(self, index: int, width: int) -> list[int]:
        row = self.rows[index]
        prefix = self._prefix_width(row)
        return wrap_breaks(row.text, width - prefix, width - max(prefix, 2))

    def starts(self, width: int) -> list[int]:
        """The first screen line of each row at `width`, and the total as the last item."""
        found = self._starts.get(width)
        if found is None:
            found = [0]
            for i in range(len(self.rows)):
                found.append(found[-1] + 1 + len(self._breaks(i, width)))
            self._starts[width] = found
        return found

    def height(self, width: int) -> int:
        return self.starts(width)[-1]

    def hunk_lines(self, hunk: int, width: int) -> tuple[int, int]:
        """The screen lines hunk `hunk` takes at `width`: its header's, and the one after it."""
        starts = self.starts(width)
        end = self.hunk_rows[hunk + 1] if hunk + 1 < len(self.hunk_rows) else len(self.rows)
        return starts[self.hunk_rows[hunk]], starts[end]

    def line(self, y: int, width: int, console: Console) -> list[Segment]:
        """Screen line `y` at `width` (0-based over the whole document)."""
        starts = self.starts(width)
        index = bisect.bisect_right(starts, y) - 1
        lines = self.row_lines(index, width, console)
        return lines[y - starts[index]]

    # -- styling ------------------------------------------------------------------------------

    def _token_style(self, token: object) -> Style:
        style = self._token_styles.get(token)
        if style is None:
            style = self._token_styles[token] = self.theme.get_style_for_token(token)  # type: ignore[arg-type]
        return style

    def _lex(self, texts: list[str]) -> list[list[Span]]:
        """Spans of the lexer's styles, per line of `texts` lexed as one piece of code."""
        if self._lexer is None:
            self._lexer = lexer_for(self.path)
        spans: list[list[Span]] = [[] for _ in texts]
        line = col = 0
        for token, value in self._lexer.get_tokens("\n".join(texts) + "\n"):
            style = self._token_style(token)
            for j, part in enumerate(value.split("\n")):
                if j:
                    line, col = line + 1, 0
                if part and style and line < len(spans):
                    spans[line].append(Span(col, col + len(part), style))
                col += len(part)
        return spans

    def _highlight_block(self, index: int) -> None:
        """Style the block of rows around `index`: old and new sides of it lexed separately."""
        row = self.rows[index]
        assert row.hunk is not None
        first = self.hunk_rows[row.hunk] + 1
        end = self.hunk_rows[row.hunk + 1] if row.hunk + 1 < len(self.hunk_rows) else len(self.rows)
        start = first + (index - first) // BLOCK * BLOCK
        block = range(start, min(end, start + BLOCK))
        old_side = [i for i in block if self.rows[i].kind in (Kind.CONTEXT, Kind.DEL)]
        new_side = [i for i in block if self.rows[i].kind in (Kind.CONTEXT, Kind.ADD)]
        spans: dict[int, list[Span]] = {}
        for side in (old_side, new_side):  # context lines keep the new side's highlighting
            for i, found in zip(side, self._lex([self.rows[i].text for i in side])):
                spans[i] = found
        for i in block:
            self._styled[i] = self._style_code_row(i, spans.get(i, []))

    def _style_code_row(self, index: int, spans: list[Span]) -> Text:
        row, palette = self.rows[index], self.palette
        if row.kind is Kind.NOTE:
            return Text(row.text, style="dim italic")
        if row.kind is Kind.CONTEXT:
            return Text(row.text, spans=spans)
        adding = row.kind is Kind.ADD
        text = Text(row.text, style=Style(bgcolor=palette.add if adding else palette.delete), spans=list(spans))
        pairing = self._pairings.get(index)
        if pairing is not None:
            emph = Style(bgcolor=palette.add_emph if adding else palette.delete_emph)
            for start, end in pairing.spans_for(index):
                text.stylize(emph, start, end)
        return text

    def styled(self, index: int) -> Text:
        """Row `index`'s text with its styles (no gutter)."""
        found = self._styled.get(index)
        if found is not None:
            return found
        row = self.rows[index]
        if row.kind is Kind.META:
            found = Text(row.text, style="bold" if row.text.startswith(("---", "+++")) else "dim")
        elif row.kind is Kind.HUNK:
            style = Style(color=self.palette.hunk, bold=True)
            if self.cursor is not None and row.hunk == self.cursor:
                style += Style(reverse=True)
            found = Text(row.text, style=style)
            return found  # not cached: the cursor moves
        else:
            self._highlight_block(index)
            return self._styled[index]
        self._styled[index] = found
        return found

    def _prefix(self, row: Row) -> Text:
        palette = self.palette
        w = self.number_width
        if row.kind in (Kind.CONTEXT, Kind.ADD, Kind.DEL):
            old = "" if row.old is None else str(row.old)
            new = "" if row.new is None else str(row.new)
            out = Text()
            out.append(f"{old:>{w}} {new:>{w}} ", "dim")  # a span: a base style would cover the code too
            if row.kind is Kind.ADD:
                out.append("+", Style(color=palette.add_sign, bgcolor=palette.add, bold=True))
            elif row.kind is Kind.DEL:
                out.append("-", Style(color=palette.delete_sign, bgcolor=palette.delete, bold=True))
            else:
                out.append(" ")
            return out
        if row.kind is Kind.HUNK and self.selected is not None:
            here = "▶" if row.hunk == self.cursor else " "
            mark = "[x]" if row.hunk in self.selected else "[ ]"
            return Text.assemble((f"{here} {mark} ", "bold"))
        return Text()

    def _continuation(self, row: Row) -> Text:
        width = max(self._prefix_width(row), 2)
        out = Text(" " * (width - 1))
        if row.kind is Kind.ADD:
            style = Style(color=self.palette.add_sign, bgcolor=self.palette.add, bold=True)
        elif row.kind is Kind.DEL:
            style = Style(color=self.palette.delete_sign, bgcolor=self.palette.delete, bold=True)
        else:
            style = Style(bold=True)
        out.append(WRAP_MARK, style)
        return out

    def row_lines(self, index: int, width: int, console: Console) -> list[list[Segment]]:
        """Row `index` as the screen lines it takes at `width`, gutter included."""
        key = (index, width)
        found = self._lines.get(key)
        if found is not None:
            return found
        row = self.rows[index]
        text = self.styled(index)
        pieces = text.divide(self._breaks(index, width)) if row.text else [text]
        tinted = row.kind in (Kind.ADD, Kind.DEL)
        pad_style = text.style if tinted else ""
        dimmed = self.selected is not None and row.hunk is not None and row.hunk not in self.selected
        out: list[list[Segment]] = []
        for n, piece in enumerate(pieces):
            line = self._prefix(row) if n == 0 else self._continuation(row)
            line.append_text(piece)
            if line.cell_len < width:
                line.append(" " * (width - line.cell_len), pad_style)
            if dimmed:
                line.stylize(Style(dim=True))
            out.append(list(line.render(console)))
        if len(self._lines) > 10_000:  # a bound on memory for huge diffs; visible rows come back fast
            self._lines.clear()
        self._lines[key] = out
        return out

    def render_all(self, width: int, console: Console) -> Iterable[list[Segment]]:
        for index in range(len(self.rows)):
            yield from self.row_lines(index, width, console)


class DiffRenderable:
    """The eager Rich renderable over a `DiffDocument`: for the ticket detail and the run's end."""

    def __init__(self, document: DiffDocument) -> None:
        self.document = document

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        new_line = Segment.line()
        for line in self.document.render_all(options.max_width, console):
            yield from line
            yield new_line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(options.max_width, 20), options.max_width)


def render_diff(
    diff: str,
    *,
    path: str,
    dark: bool = True,
    selected: Collection[int] | None = None,
    cursor: int | None = None,
) -> RenderableType:
    """`diff` highlighted as `path`'s language, wrapped to any width; see the module docstring."""
    return DiffRenderable(DiffDocument(diff, path=path, dark=dark, selected=selected, cursor=cursor))
