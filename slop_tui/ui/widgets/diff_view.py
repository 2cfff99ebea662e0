"""A proposal as a person judges it: a syntax-highlighted unified diff, or the command to run.

Highlighting is Rich's `Syntax` with Pygments' `diff` lexer (MIT/BSD, not an AGPL widget), in
an ANSI theme so the colours follow the terminal's own palette at 16 and 256 colours alike.

Every character of a command, a diff, a path or an error goes through the display sanitiser
(an escape sequence shows as `\\x1b`, U+202E as `<U+202E>`), and every line wraps: nothing a
person approves can hide off-screen or be redrawn by the text itself.
"""

from __future__ import annotations

import msgspec
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from slop_tui.display import display_text, sanitize
from slop_tui.models import Proposal, RunCommandArgs
from slop_tui.tools.proposals import diff_stats


def syntax_theme(dark: bool) -> str:
    return "ansi_dark" if dark else "ansi_light"


def proposal_renderable(proposal: Proposal, *, dark: bool = True) -> RenderableType:
    """What the clutch and the ticket detail show for one proposal."""
    theme = syntax_theme(dark)
    parts: list[RenderableType] = []
    args = proposal.arguments
    if isinstance(args, RunCommandArgs):
        where = f" in {proposal.cwd}" if proposal.cwd else ""
        parts.append(display_text(f"run_command{where} (timeout {args.timeout_s:g} s):", "bold", one_line=True))
        parts.append(Syntax(sanitize(args.command), "bash", theme=theme, background_color="default", word_wrap=True))
    elif proposal.diff:
        added, removed = diff_stats(proposal.diff)
        title = f"{proposal.tool} {getattr(args, 'path', '')}  +{added} -{removed}"
        parts.append(display_text(title, "bold", one_line=True))
        parts.append(
            Syntax(sanitize(proposal.diff.rstrip("\n")), "diff", theme=theme, background_color="default", word_wrap=True)
        )
    else:
        shown = msgspec.to_builtins(args)
        shown.pop("tool", None)
        body = msgspec.json.format(msgspec.json.encode(shown), indent=2).decode()
        parts.append(Text(f"{proposal.tool}" + ("  (no change to the file)" if args.WRITES else ""), style="bold"))
        parts.append(Syntax(sanitize(body), "json", theme=theme, background_color="default", word_wrap=True))
    if proposal.error:
        parts.insert(0, display_text(f"cannot apply as is: {proposal.error}", "bold red"))
    return Group(*parts)


class DiffView(VerticalScroll, can_focus=True):
    """A scrollable view of one proposal; `show(proposal)` redraws it."""

    DEFAULT_CSS = """
    DiffView { height: 1fr; overflow-x: hidden; }
    DiffView > Static { width: 100%; }
    """

    def __init__(self, proposal: Proposal | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.proposal = proposal
        self._body = Static("", markup=False)

    def compose(self) -> ComposeResult:
        yield self._body

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self._draw()

    def show(self, proposal: Proposal | None) -> None:
        self.proposal = proposal
        self._draw()
        self.scroll_home(animate=False)

    def _draw(self) -> None:
        if self.proposal is None:
            self._body.update(Text("no proposal", style="dim"))
        else:
            self._body.update(proposal_renderable(self.proposal, dark=self.app.current_theme.dark))
