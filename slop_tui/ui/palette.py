"""The command palette's own commands: new run, linear, pause, undo a ticket, revoke an
"always allow" rule, theme, doctor, the run branch (land or drop).

The palette parses a hit's name and help as markup: a ticket's title in them is sanitised and
escaped, so it is shown as it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from slop_tui.display import sanitize
from slop_tui.models import TicketState

if TYPE_CHECKING:
    from slop_tui.ui.app import SlopApp


class SlopCommands(Provider):
    """Everything the board's keys do, plus what has no key, searchable by name."""

    @property
    def slop(self) -> SlopApp:
        return cast("SlopApp", self.app)

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        app = self.slop
        yield "New run", "focus the prompt to start a run", app.focus_prompt
        yield (
            "Linear mode: " + ("turn off" if app.linear else "turn on"),
            "one ticket at a time, stopping at every tool call",
            partial(app.set_linear, not app.linear),
        )
        yield (
            "Dispatch: " + ("resume" if app.paused else "pause"),
            "start no new ticket until resumed; running ones go on",
            partial(app.set_paused, not app.paused),
        )
        for view in app.view.tickets.values():
            if view.ticket.state is TicketState.DONE:
                yield (
                    escape(sanitize(f"Undo ticket {view.ticket.id}", one_line=True)),
                    escape(sanitize(f"restore the files {view.ticket.title!r} changed", one_line=True)),
                    partial(app.ticket_action, "undo", view),
                )
        for rule in app.allow_list.rules():
            yield (
                escape(sanitize(f"Revoke always-allow: {rule}", one_line=True)),
                "ask about this command at the clutch again, from now on",
                partial(app.revoke_always, rule),
            )
        for name in app.bundled_theme_names:
            yield f"Theme: {name}", "switch the theme (remembered)", partial(app.switch_theme, name)
        yield "Doctor", "config files, each tier's model and key, what is missing", app.open_doctor
        yield "Run branch: land or drop", "the run's commits and whole diff, then land it or drop it", app.open_run_end

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
