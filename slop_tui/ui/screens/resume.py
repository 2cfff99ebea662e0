"""The offer made at start when `.slop/` holds a run that did not finish."""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from slop_tui.display import display_text
from slop_tui.ui.widgets.key_footer import KeyFooter

ResumeChoice = Literal["resume", "later"]


class ResumeScreen(ModalScreen[ResumeChoice]):
    CSS_PATH = "resume.tcss"
    BINDINGS = [
        Binding("r", "choose('resume')", "resume it"),
        Binding("escape", "choose('later')", "not now"),
    ]

    def __init__(self, summary: str) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical(id="resume-box"):
            yield Static("An unfinished run is waiting", id="resume-title")
            yield Static(display_text(self.summary), id="resume-summary")
            yield Static(
                "r resumes it: interrupted tickets start again from their files as they were. "
                "Esc leaves it for later (a new run replaces it).",
                id="resume-help",
            )
        yield KeyFooter()

    def action_choose(self, choice: ResumeChoice) -> None:
        self.dismiss(choice)
