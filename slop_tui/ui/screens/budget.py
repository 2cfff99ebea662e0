"""The question asked when a spend limit is reached: raise it for this run, or stop.

The run waits behind it: no new ticket starts and every running worker waits before its next
model call. Enter raises the limit to the value typed (prefilled with the spend plus the old
limit) and the run goes on; `S` stops it the way `slop run` stops at a limit (running tickets
interrupted, their files put back, the run resumable). The raise holds for this session only:
`agents.toml` is never written.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from slop_tui.conductor.budget import BudgetReached, parse_amount, show_amount
from slop_tui.conductor.spend import BudgetAnswer
from slop_tui.display import display_text
from slop_tui.errors import SlopError
from slop_tui.ui.widgets.key_footer import KeyFooter

WAITING = (
    "The run is paused: no new ticket starts, and running tickets wait before their next model call."
)
# Only what a number is typed with: letters stay free for the screen's keys.
NUMBER_CHARS = r"[0-9.,_$ ]*"


class AmountInput(Input):
    """An input that takes only what a number is typed with, so `S` stays the screen's key
    (Textual gives every printable key to an input that says it consumes it)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and re.fullmatch(NUMBER_CHARS, character) is not None


def entry_text(limit: str, value: float) -> str:
    """A value as the input shows it: whole tokens, dollars with cents."""
    return f"{value:.2f}" if limit.endswith("_usd") else str(int(value))


class BudgetScreen(ModalScreen[BudgetAnswer]):
    CSS_PATH = "budget.tcss"
    HELP_TITLE = "budget reached"
    BINDINGS = [
        # Priority: the input has the focus, and Enter is this screen's answer, not the input's.
        Binding("enter", "raise_limit", "raise and continue", priority=True,
                tooltip="raise the limit to the value typed, for this run only, and go on"),
        Binding("S", "stop", "stop the run", priority=True,
                tooltip="stop as `slop run` stops at a limit: running tickets put back, R resumes"),
    ]

    def __init__(self, reached: BudgetReached) -> None:
        super().__init__()
        self.reached = reached

    def compose(self) -> ComposeResult:
        reached = self.reached
        with Vertical(id="budget-box"):
            yield Static(display_text(reached.question()), id="budget-question")
            yield Static(WAITING, id="budget-waiting", markup=False)
            yield Static(
                f"New {reached.limit}, for this run; agents.toml is unchanged:",
                id="budget-label", markup=False,
            )
            yield AmountInput(
                value=entry_text(reached.limit, reached.suggested()),
                restrict=NUMBER_CHARS,
                id="budget-value",
            )
            yield Static("", id="budget-error", markup=False)
            yield Static(
                "Enter raises it and the run goes on · S stops the run: running tickets are "
                "interrupted and their files put back; R (or `slop resume`) continues later.",
                id="budget-keys", markup=False,
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#budget-value", Input).focus()

    def _error(self, text: str) -> None:
        error = self.query_one("#budget-error", Static)
        error.update(display_text(text, one_line=True))
        error.add_class("shown")

    def action_raise_limit(self) -> None:
        reached = self.reached
        typed = self.query_one("#budget-value", Input).value
        try:
            value = parse_amount(reached.limit, typed)
        except SlopError as exc:
            self._error(str(exc))
            return
        if value <= reached.spent:
            self._error(
                f"{show_amount(reached.limit, value)} is not above the spend "
                f"{show_amount(reached.limit, reached.spent)}: type more, or S to stop"
            )
            return
        self.dismiss(BudgetAnswer.raise_to(value))

    def action_stop(self) -> None:
        self.dismiss(BudgetAnswer.stop())
