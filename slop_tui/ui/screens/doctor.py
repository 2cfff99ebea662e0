"""`slop doctor` inside the TUI: what is configured, what is missing, and the fix."""

from __future__ import annotations

import contextlib
import io
from argparse import Namespace
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from slop_tui.display import display_text


def doctor_report(repo: Path) -> str:
    """The text `slop doctor --repo REPO` prints (it only reads the config, so it is quick)."""
    from slop_tui.commands import doctor

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        doctor.run(Namespace(repo=repo))
    return out.getvalue().rstrip("\n")


class DoctorScreen(ModalScreen[None]):
    CSS_PATH = "doctor.tcss"
    BINDINGS = [Binding("escape", "close", "close"), Binding("q", "close", "close", show=False)]

    def __init__(self, repo: Path, *, problem: str | None = None) -> None:
        super().__init__()
        self.repo = repo
        self.problem = problem

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
            with VerticalScroll():
                # Names from the repository's `.slop.toml` appear in the report: sanitised.
                yield Static(display_text(doctor_report(self.repo)), id="doctor-report")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
