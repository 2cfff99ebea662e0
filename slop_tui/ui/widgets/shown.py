"""Whether a board widget can be seen, for the widgets that hold their repaints while covered.

Textual repaints a covered screen's regions through the screen on top of it: a row of the board
refreshed under the ticket detail made the app write 24-29 KB/s at 200 events/s (measured with
`benchmarks/bench_tui.py --bytes`) for a screen that showed nothing new, and over SSH all
of it crosses the network. So the run header and the ticket board skip a repaint while another
screen covers theirs, keep what changed, and repaint once when their screen is back on top
(`app.screen_change_signal`).
"""

from __future__ import annotations

from textual.widget import Widget


def can_be_seen(widget: Widget) -> bool:
    """Its screen on top, or under a modal screen (which shows the one beneath)."""
    try:
        top = widget.app.screen
        return widget.screen is top or top.is_modal
    except Exception:  # not mounted (yet): nothing to repaint
        return False
