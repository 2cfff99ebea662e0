"""The log pane: events, QA hints and errors, filterable by ticket and level, following the tail.

Entries live in the `RunView`; the pane shows those that pass its filters, so changing a filter
redraws from the kept entries and nothing is lost. A QA hint is highlighted; the raw output of
the failed command behind it is one key away (`s` shows or hides it under every hint).

Entry texts and raw output are models' and commands' words: `_write`, the one sink, shows them
sanitised (an OSC 52 in a command's stderr is shown as `\\x1b]52;…`, never obeyed), an entry on
one line so it cannot fake the next one.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.screen import ModalScreen
from textual.widgets import Input, RichLog

from slop_tui.display import sanitize
from slop_tui.ui.run_view import Level, LogEntry

LEVEL_LABEL = {Level.DEBUG: "debug", Level.INFO: "info", Level.HINT: "hint", Level.WARN: "warn", Level.ERROR: "error"}
MAX_LINES = 5000
RAW_LINES = 40  # raw output beyond this is summarised; the whole of it stays in .slop/events


class LogSearch(ModalScreen[str | None]):
    """One line at the bottom: what the log should show (Enter), or Esc to leave it as it was.
    An empty search shows everything again."""

    DEFAULT_CSS = """
    LogSearch { align: left bottom; background: $background 30%; }
    LogSearch Input { width: 100%; border: none; height: 1; background: $boost; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        yield Input(self.current, placeholder="search the log (Enter; empty: show all; Esc: cancel)")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LogPane(RichLog):
    ALLOW_MAXIMIZE = True
    BINDINGS = [Binding("slash", "search", "search log", tooltip="show only the log lines with a word in them")]
    DEFAULT_CSS = """
    LogPane { height: 1fr; min-height: 3; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LINES, wrap=True, auto_scroll=True, markup=False)
        self.min_level = Level.INFO
        self.ticket_filter: str | None = None
        self.show_raw = False
        self.search: str | None = None  # shown: entries whose text (or ticket) holds it
        self._entries: list[LogEntry] = []
        self._styles: dict[Level, Style] = {}

    def on_mount(self) -> None:
        self.refresh_styles()
        self.watch(self.screen, "maximized", self._maximized, init=False)

    def _maximized(self, widget: object) -> None:
        """Maximised, the pane fills the screen: an inline height outranks the screen's own
        rule for it (a share of the board), which would keep it that small."""
        if widget is self:
            self.styles.height = "100%"
        else:
            self.styles.clear_rule("height")

    def refresh_styles(self) -> None:
        variables = self.app.theme_variables

        def colour(name: str, fallback: str) -> Style:
            return Style(color=Color.parse(variables.get(name) or fallback).rich_color)

        self._styles = {
            Level.DEBUG: Style(dim=True),
            Level.INFO: Style(),
            Level.HINT: colour("hint", "ansi_magenta") + Style(bold=True),
            Level.WARN: colour("warning", "ansi_yellow"),
            Level.ERROR: colour("error", "ansi_red") + Style(bold=True),
        }

    @property
    def description(self) -> str:
        """The active filters in words, for the pane's border title."""
        parts = [f"level ≥ {LEVEL_LABEL[self.min_level]}" if self.min_level > Level.DEBUG else "all levels"]
        parts.append(f"ticket {self.ticket_filter}" if self.ticket_filter else "all tickets")
        if self.show_raw:
            parts.append("raw output shown")
        if self.search:
            parts.append(f"search: {sanitize(self.search, one_line=True)}")
        return " · ".join(parts)

    def passes(self, entry: LogEntry) -> bool:
        if entry.level < self.min_level:
            return False
        if self.search:
            wanted = self.search.casefold()
            if wanted not in entry.text.casefold() and wanted not in (entry.ticket_id or "").casefold():
                return False
        return self.ticket_filter is None or entry.ticket_id == self.ticket_filter

    def action_search(self) -> None:
        """`/`: ask what to look for; the log then shows only the entries that hold it."""
        self.app.push_screen(LogSearch(self.search or ""), callback=self._searched)

    def _searched(self, text: str | None) -> None:
        if text is None:
            return
        self.search = text.strip() or None
        self.redraw()

    def add(self, entries: Iterable[LogEntry]) -> None:
        for entry in entries:
            self._entries.append(entry)
            if self.passes(entry):
                self._write(entry)

    def reset(self, entries: Iterable[LogEntry]) -> None:
        self._entries = list(entries)
        self.redraw()

    def redraw(self) -> None:
        self.clear()
        shown = [e for e in self._entries if self.passes(e)][-MAX_LINES:]
        for entry in shown:
            self._write(entry)
        self.border_title = f"log — {self.description}"

    def set_filters(
        self, *, min_level: Level | None = None, ticket: str | None | bool = False, show_raw: bool | None = None
    ) -> None:
        """Change any filter (`ticket=None` clears the ticket filter; `False` leaves it)."""
        if min_level is not None:
            self.min_level = min_level
        if ticket is not False:
            self.ticket_filter = ticket if isinstance(ticket, str) else None
        if show_raw is not None:
            self.show_raw = show_raw
        self.redraw()

    def _write(self, entry: LogEntry) -> None:
        style = self._styles.get(entry.level, Style())
        # No event number: the pane shows a filtered subset, so the numbers it would show jump.
        line = Text(no_wrap=False)
        line.append(f"{LEVEL_LABEL[entry.level]:<5} ", style=style)
        if entry.ticket_id:
            line.append(f"[{sanitize(entry.ticket_id, one_line=True)}] ", style="bold")
        text = " ".join(sanitize(entry.text).split())
        line.append(text, style=style if entry.level is not Level.INFO else Style())
        if entry.raw is not None and not self.show_raw:
            line.append("  (s: raw stderr)", style="dim")
        self.write(line)
        if entry.raw is not None and self.show_raw:
            # Split on newlines only: `splitlines` would also break at U+2028 and hide it.
            raw_lines = sanitize(entry.raw.rstrip("\n")).split("\n") or ["(no output)"]
            if len(raw_lines) > RAW_LINES:
                hidden = len(raw_lines) - RAW_LINES
                raw_lines = raw_lines[: RAW_LINES // 2] + [f"… {hidden} more lines …"] + raw_lines[-RAW_LINES // 2 :]
            self.write(Text("\n".join("      │ " + r for r in raw_lines), style="dim"))
