"""A proposal as a person judges it: a syntax-highlighted unified diff, or the command to run.

A diff is drawn by `slop_tui.ui.diff_render` (the code in its file's language on `+`/`-` tints,
changed words emphasised, line numbers, wrapped lines marked `↪`). `DiffView` draws it line by
line (Textual's Line API): only the rows on screen are highlighted, so a 2,000-line diff opens
about as fast as a 20-line one. A command or another tool's arguments are small and drawn whole,
through Rich's `Syntax` in an ANSI theme (the terminal's own palette), word-wrapped.

Every character of a command, a diff, a path or an error goes through the display sanitiser
(an escape sequence shows as `\\x1b`, U+202E as `<U+202E>`), and every line wraps: nothing a
person approves can hide off-screen or be redrawn by the text itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

import msgspec
from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.syntax import Syntax
from rich.text import Text
from textual.events import Resize
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from slop_tui.display import display_text, sanitize
from slop_tui.models import McpCallArgs, Proposal, RunCommandArgs
from slop_tui.tools.proposals import diff_stats
from slop_tui.ui.diff_render import DiffDocument, DiffRenderable, syntax_theme

__all__ = ["DiffView", "proposal_parts", "proposal_renderable", "syntax_theme"]


def proposal_parts(
    proposal: Proposal,
    *,
    dark: bool = True,
    selected: Collection[int] | None = None,
    cursor: int | None = None,
    build_diff: bool = True,
) -> tuple[list[RenderableType], DiffDocument | None]:
    """What is shown for one proposal: the lines above its diff, and the diff (None: no diff,
    or `build_diff=False`: the caller builds it)."""
    theme = syntax_theme(dark)
    parts: list[RenderableType] = []
    document: DiffDocument | None = None
    args = proposal.arguments
    if isinstance(args, RunCommandArgs):
        where = f" in {proposal.cwd}" if proposal.cwd else ""
        parts.append(display_text(f"run_command{where} (timeout {args.timeout_s:g} s):", "bold", one_line=True))
        parts.append(Syntax(sanitize(args.command), "bash", theme=theme, background_color="default", word_wrap=True))
    elif isinstance(args, McpCallArgs):
        parts.append(display_text(f"MCP server {args.server} · tool {args.name}", "bold", one_line=True))
        parts.append(
            Text(
                "The server acts with its own powers: what it does is outside slop's per-ticket "
                "commits and undo.",
                style="bold yellow",
            )
        )
        body = msgspec.json.format(msgspec.json.encode(args.arguments), indent=2).decode()
        parts.append(Syntax(sanitize(body), "json", theme=theme, background_color="default", word_wrap=True))
    elif proposal.diff:
        added, removed = diff_stats(proposal.diff)
        path = getattr(args, "path", "")
        parts.append(display_text(f"{proposal.tool} {path}  +{added} -{removed}", "bold"))
        if build_diff:
            document = DiffDocument(proposal.diff, path=path, dark=dark, selected=selected, cursor=cursor)
    elif args.WRITES and not proposal.error:
        # A write of what the file already holds: the payload is the file, and says nothing.
        path = getattr(args, "path", "")
        parts.append(display_text(f"{proposal.tool} {path}: no change (the file already holds this)", "bold", one_line=True))
    else:
        shown = msgspec.to_builtins(args)
        shown.pop("tool", None)
        body = msgspec.json.format(msgspec.json.encode(shown), indent=2).decode()
        parts.append(Text(f"{proposal.tool}" + ("  (no change to the file)" if args.WRITES else ""), style="bold"))
        parts.append(Syntax(sanitize(body), "json", theme=theme, background_color="default", word_wrap=True))
    if proposal.error:
        parts.insert(0, display_text(f"cannot apply as is: {proposal.error}", "bold red"))
    return parts, document


# The ticket detail redraws its proposals on every event of the ticket: a document keeps the
# rows it has highlighted and drawn, so a long diff costs its highlighting once, not per event.
_DOCUMENTS: OrderedDict[tuple[str, str, bool], DiffDocument] = OrderedDict()
_DOCUMENTS_KEPT = 16


def _shared_document(diff: str, path: str, dark: bool) -> DiffDocument:
    key = (diff, path, dark)
    found = _DOCUMENTS.get(key)
    if found is None:
        found = _DOCUMENTS[key] = DiffDocument(diff, path=path, dark=dark)
        while len(_DOCUMENTS) > _DOCUMENTS_KEPT:
            _DOCUMENTS.popitem(last=False)
    _DOCUMENTS.move_to_end(key)
    return found


def proposal_renderable(proposal: Proposal, *, dark: bool = True) -> RenderableType:
    """What the ticket detail shows for one proposal (drawn whole)."""
    parts, document = proposal_parts(proposal, dark=dark, build_diff=False)
    if proposal.diff and document is None:
        document = _shared_document(proposal.diff, getattr(proposal.arguments, "path", ""), dark)
    if document is not None:
        parts.append(DiffRenderable(document))
    return Group(*parts)


class DiffView(ScrollView, can_focus=True):
    """A scrollable view of one proposal; `show(proposal)` redraws it, and
    `set_hunk_selection(selected, cursor)` marks which hunks of its diff are chosen."""

    # `-inline`: as tall as its diff, inside a scrolling parent (the ticket detail lists several).
    DEFAULT_CSS = """
    DiffView { height: 1fr; overflow-x: hidden; overflow-y: auto; scrollbar-gutter: stable; }
    DiffView.-inline { height: auto; overflow-y: hidden; scrollbar-gutter: auto; }
    """

    def __init__(self, proposal: Proposal | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.proposal = proposal
        self._selected: frozenset[int] | None = None
        self._cursor: int | None = None
        self._head: list[RenderableType] = []
        self._document: DiffDocument | None = None
        self._head_lines: list[Strip] = []
        self._width = 0
        self._ready = False  # the app (its theme, its console) is known from mount on

    def on_mount(self) -> None:
        self._ready = True
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self._draw()

    def on_resize(self, _event: Resize) -> None:
        self._layout()

    def show(self, proposal: Proposal | None) -> None:
        self.proposal = proposal
        self._selected, self._cursor = None, None
        self._draw()
        self.scroll_home(animate=False)

    def set_hunk_selection(self, selected: Collection[int] | None, cursor: int | None) -> None:
        """Show which hunks are chosen (`None`: no hunk selection) and put the cursor on hunk
        `cursor` (indexes as `split_hunks(proposal.diff)`), scrolling its header into view."""
        self._selected = None if selected is None else frozenset(selected)
        self._cursor = cursor
        if self._document is None:
            return
        self._document.set_selection(self._selected, cursor)
        self._layout()
        if cursor is not None and 0 <= cursor < self._document.hunk_count and self._width > 0:
            # The whole hunk if it fits, else its header at the top: what is chosen is read first.
            first, end = self._document.hunk_lines(cursor, self._width)
            top = len(self._head_lines) + first
            height = min(end - first, self.scrollable_content_region.height)
            self.scroll_to_region(Region(0, top, 1, max(1, height)), animate=False)

    @property
    def hunk_count(self) -> int:
        """Hunks in the diff shown (0 for a command or no diff)."""
        return 0 if self._document is None else self._document.hunk_count

    def _draw(self) -> None:
        if not self._ready:
            return
        dark = self.app.current_theme.dark
        if self.proposal is None:
            self._head, self._document = [Text("no proposal", style="dim")], None
        else:
            self._head, self._document = proposal_parts(
                self.proposal, dark=dark, selected=self._selected, cursor=self._cursor
            )
        self._width = 0
        self._layout()

    def _layout(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or not self._ready:
            return
        console = self.app.console
        options = console.options.update_width(width)
        self._head_lines = [
            Strip(line, width) for line in console.render_lines(Group(*self._head), options, pad=True)
        ]
        self._width = width
        body = 0 if self._document is None else self._document.height(width)
        height = len(self._head_lines) + body
        grew = height != self.virtual_size.height
        self.virtual_size = Size(width, height)
        self.refresh(layout=grew and self.has_class("-inline"))

    def render_line(self, y: int) -> Strip:
        width = self._width
        style = self.rich_style
        if width <= 0:
            return Strip.blank(self.size.width, style)
        y += self.scroll_offset.y
        head = len(self._head_lines)
        if y < head:
            strip = self._head_lines[y]
        elif self._document is not None and y - head < self._document.height(width):
            segments: list[Segment] = self._document.line(y - head, width, self.app.console)
            strip = Strip(segments, width)
        else:
            return Strip.blank(width, style)
        return strip.apply_style(style)
