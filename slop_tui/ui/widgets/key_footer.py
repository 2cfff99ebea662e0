"""The footer every screen shows: Textual's, redrawn only when the keys it shows change.

Textual's `Footer` throws its keys away and builds them again on every bindings signal, which
a screen sends on each focus move, each screen pushed or popped above it and each
`refresh_bindings()` (the board sends one when a run pauses or resumes). Most of those change
nothing on screen; the rebuild restyles a dozen widgets and repaints the line, which is CPU on
a busy board and bytes on an SSH link. This footer remembers what it last built (each shown
key, its label, whether it is enabled, its tooltip) and lets a signal through only when that
differs.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not exported by textual.widgets (pinned <9)


def shown_keys(screen: Screen[object]) -> tuple[Hashable, ...]:
    """What a footer on `screen` shows, as a comparable value (the palette's key shows though
    its binding is hidden)."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding.action, binding.description, binding.key_display, binding.group, enabled,
         tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class KeyFooter(Footer):
    """`Footer`, rebuilt only when the keys it shows change (see the module docstring)."""

    _built: tuple[Hashable, ...] | None = None

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._built = shown_keys(self.screen)
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # A key starts compact and, once mounted, follows the footer's `compact` (the
                # palette's key stays compact): each change on a mounted key restyles it, twice
                # per key of a wide footer (on, then off). The key starts as it will end instead.
                compact = self.compact or widget.has_class("-command-palette")
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._built is not None and screen is self.screen and shown_keys(screen) == self._built:
            return
        super().bindings_changed(screen)
