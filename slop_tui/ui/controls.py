"""The keys that stop, leave or explain: `S` stop (and planning cancel), `q` / Ctrl+Q quit,
Ctrl+C, `?` / F1 help, and the yes/no question asked before anything with lasting effects.

A stop is the cancellation Ctrl+C makes in `slop run`: the session's worker is cancelled, the
dispatcher interrupts the running tickets (back to `todo`), the state is saved, and the run
stays resumable (`R` on the board, `slop resume`). The app (`SlopApp`) mixes this in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.widgets import Input, TextArea

from slop_tui.conductor.interrupt import EXIT_INTERRUPTED
from slop_tui.ui.run_view import RunView
from slop_tui.ui.screens.confirm import ConfirmScreen
from slop_tui.ui.screens.help import HelpScreen, help_rows, section_name


class RunControls(App[None]):
    BINDINGS = [
        # Ctrl+C mid-run is `slop run`'s: the run stops cleanly, the way to resume is said, 130.
        Binding("ctrl+c", "interrupt", "quit", show=False, priority=True,
                tooltip="stop the run (saved, resumable) and leave with status 130"),
        # Priority, so they work over modal screens (the clutch) too; `?` stays a character
        # where text is typed (`check_action`).
        Binding("f1", "help", "help", show=False, priority=True, tooltip="the keys of this screen"),
        Binding("question_mark", "help_key", "help", show=False, priority=True, tooltip="the keys of this screen"),
    ]

    # Set by the app.
    running: bool
    stopping: bool
    busy: str | None
    view: RunView
    session: Any
    header_changed: Callable[[], None]  # the app's: redraw the board's header

    @property
    def can_resume(self) -> bool:
        """A run of this session stopped with tickets left to do (`R` continues it)."""
        return (
            not self.running
            and self.session is not None
            and self.view.finished is None
            and any(not v.ticket.is_final for v in self.view.tickets.values())
        )

    def stopped_message(self, *, exiting: bool = False) -> str:
        """What a stop left, in `slop run`'s words (`exiting`: said after the TUI is gone)."""
        views = self.view.tickets.values()
        if not views:
            return "planning cancelled; nothing ran"
        if all(v.ticket.is_final for v in views):
            return "run stopped; every ticket had ended"
        if exiting:
            return "running commands were stopped and the run saved: `slop resume` continues it"
        return "run stopped: running commands were killed and the run saved; R (or `slop resume`) continues it"

    def ask_stop_run(self) -> None:
        """`S` on the board: stop the planning or the run, once the person says yes."""
        if not self.running:
            self.notify("No run is under way.")
            return
        if self.view.tracks:
            question, detail = "Stop the run?", (
                "Running commands are killed and their tickets go back to todo; the run is saved. "
                "R continues it, or `slop resume` later."
            )
        else:
            question, detail = "Cancel the planning?", "Nothing has run yet; the tokens spent so far are spent."
        self.confirm(question, detail, self.stop_run, yes="stop")

    def stop_run(self) -> None:
        """Stop the session as Ctrl+C stops `slop run` (the same cancellation): the dispatcher
        interrupts the running tickets, the state is saved, the run stays resumable."""
        if not self.running or self.stopping:
            return
        self.stopping = True
        self.busy = "stopping…"
        self.workers.cancel_group(self, "session")
        self.header_changed()

    async def _stopped(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for the session's workers to end after `stop_run`."""
        for worker in [w for w in self.workers if w.group == "session"]:
            try:
                await asyncio.wait_for(worker.wait(), timeout)
            except (Exception, asyncio.CancelledError):  # cancelled is how it ends; a hang is bounded
                pass

    def confirm(self, question: str, detail: str, then: Callable[[], object], *, yes: str = "yes") -> None:
        """Ask before a key with lasting effects; `then()` only on `y`."""
        if isinstance(self.screen, ConfirmScreen):
            return  # one question at a time: the key was pressed twice

        def answered(ok: bool | None) -> None:
            if ok:
                then()

        self.push_screen(ConfirmScreen(question, detail, yes=yes), callback=answered)

    async def action_quit(self) -> None:
        """`q`, Ctrl+Q: at once when nothing runs; while a run goes on, asked first."""
        if not self.running:
            self.exit()
            return
        self.confirm(
            "A run is under way. Stop it and quit?",
            "Running commands are killed and the run is saved: `slop resume` (or `slop`, which "
            "offers it) continues it.",
            lambda: self.run_worker(self._stop_and_exit(0), group="exit", exit_on_error=False),
            yes="stop it and quit",
        )

    async def action_interrupt(self) -> None:
        """Ctrl+C: mid-run, `slop run`'s way (stop, say how to resume, status 130); a second
        Ctrl+C leaves at once; otherwise, quit."""
        if not self.running:
            if self.stopping:
                self.exit(return_code=EXIT_INTERRUPTED, message="slop: interrupted again: quitting at once")
                return
            self.exit()
            return
        if self.stopping:
            self.exit(return_code=EXIT_INTERRUPTED, message="slop: interrupted again: quitting at once")
            return
        self.run_worker(self._stop_and_exit(EXIT_INTERRUPTED), group="exit", exit_on_error=False)

    async def _stop_and_exit(self, code: int) -> None:
        self.stop_run()
        await self._stopped()
        word = "interrupted" if code == EXIT_INTERRUPTED else "quit"
        self.exit(return_code=code, message=f"slop: {word}; {self.stopped_message(exiting=True)}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "help_key" and isinstance(self.focused, (Input, TextArea)):
            return None  # greyed, not run: the key goes on to the text being typed
        return True

    def action_help_key(self) -> None:
        self.action_help()

    def action_help(self) -> None:
        """`?` / F1: the keys of the screen in front, from its bindings; again closes it."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            screen.dismiss(None)
            return
        self.push_screen(HelpScreen(section_name(screen, self), help_rows(screen)))

