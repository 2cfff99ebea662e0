"""`slop doctor` inside the TUI: what is configured, what is missing, and the fix."""

from __future__ import annotations

import contextlib
import io
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from slop_tui.display import display_text
from slop_tui.ui.widgets.key_footer import KeyFooter


def doctor_report(repo: Path, env: Mapping[str, str] | None = None) -> str:
    """The text `slop doctor --repo REPO` prints (it only reads the config, so it is quick),
    with `env`'s config folder when given: the demo's, not the person's."""
    from slop_tui.commands import doctor

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        doctor.run(Namespace(repo=repo), env=env)
    return out.getvalue().rstrip("\n")


class DoctorScreen(ModalScreen[None]):
    CSS_PATH = "doctor.tcss"
    BINDINGS = [Binding("escape", "close", "close"), Binding("q", "close", "close", show=False)]

    def __init__(self, repo: Path, *, problem: str | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.repo = repo
        self.problem = problem
        self.env = env

    def compose(self) -> ComposeResult:
        with Vertical(id="doctor-box"):
            yield Static("Doctor", id="doctor-title")
            if self.problem:
                yield Static(
                    display_text(
                        f"The team cannot run yet: {self.problem}\n"
                        "Fix it and start slop again, or try `slop demo`, which needs no key."
                    ),
                    id="doctor-problem",
                )
            with ScrollableContainer(id="doctor-scroll"):
                # Names from the repository's `.slop.toml` appear in the report: sanitised.
                # Not wrapped: a long model name scrolls sideways instead of breaking the columns.
                report = display_text(doctor_report(self.repo, self.env))
                report.no_wrap = True
                yield Static(report, id="doctor-report")
        yield KeyFooter()

    def action_close(self) -> None:
        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        self.dismiss(None)
        if self.problem and below is not None and isinstance(below.focused, Input):
            # Opened because the team cannot run: back on the board, the keys work the board
            # (a `q` after Esc quits rather than being typed into a prompt that cannot start
            # anything); `n` or a click still reaches the prompt.
            self.app.call_after_refresh(_focus_off_inputs, below)


def _focus_off_inputs(screen: Screen[object]) -> None:
    target = next((w for w in screen.focus_chain if not isinstance(w, Input)), None)
    screen.set_focus(target)
