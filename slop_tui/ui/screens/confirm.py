"""A yes/no question before a key with lasting effects (cancel, undo, delete, abort, quit).

Only `y` says yes; `n`, Enter and Esc say no, so a key pressed twice by habit, or an Enter
meant for something else, changes nothing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from slop_tui.display import display_text


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,enter,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str, detail: str = "", *, yes: str = "yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(display_text(self.question, one_line=True), id="confirm-question")
            if self.detail:
                yield Static(display_text(self.detail), id="confirm-detail")
            yield Static(f"y {self.yes} · n, Enter or Esc: no", id="confirm-keys", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
