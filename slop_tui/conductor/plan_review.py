"""Plan review in a plain terminal (`slop run` without `--yes`): print the plan, ask once.

`y` accepts, `n COMMENT` sends the plan back to Tier 1 and Tier 2 with the comment, `q` stops
the run before any ticket runs. The end of input (stdin from `/dev/null`, a closed pipe) stops
the run too, with a message pointing at `--yes`: a run nobody can review never starts.
Lines are read in a daemon thread, so Ctrl+C is never held up by a read nobody will finish.
Every title, description, id and file name is a model's: shown through the display sanitiser.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Callable, TextIO

from rich.console import Console
from rich.text import Text

from slop_tui.conductor.printer import clean_text
from slop_tui.conductor.planning import PlanReview
from slop_tui.display import sanitize
from slop_tui.models import Track

PROMPT = "accept this plan? [y]es  [n]o COMMENT (plan again)  [q]uit > "


async def read_line(stream: TextIO) -> str:
    """One line from a blocking stream without blocking the event loop ('' at end of input)."""
    future: concurrent.futures.Future[str] = concurrent.futures.Future()

    def read() -> None:
        try:
            line = stream.readline()
        except BaseException as exc:  # a closed stream ends the review like end of input
            if not future.cancelled():
                future.set_exception(exc)
            return
        if not future.cancelled():
            future.set_result(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        return await asyncio.wrap_future(future)
    except (OSError, ValueError):
        return ""


def _flat(text: str) -> str:
    """One line, its unsafe characters (U+2028 included) escaped rather than split on."""
    return " ".join(sanitize(text).split())


def render_plan(tracks: list[Track]) -> Text:
    """The plan as text: tracks in order, each ticket with archetype, dependencies and files."""
    text = Text()
    for number, track in enumerate(tracks, start=1):
        text.append(f"Track {number}: {_flat(track.id)} — {_flat(track.title)}\n", style="bold")
        if track.description.strip():
            text.append(f"  {_flat(track.description)}\n", style="dim")
        for ticket in track.tickets:
            text.append(f"  {_flat(ticket.id)}", style="bold cyan")
            text.append(f" [{ticket.archetype.value}] {_flat(ticket.title)}\n")
            if ticket.depends_on:
                text.append(f"      after: {_flat(', '.join(ticket.depends_on))}\n")
            if ticket.target_files:
                text.append(f"      files: {_flat(', '.join(ticket.target_files))}\n")
            if ticket.description.strip():
                text.append(f"      {_flat(ticket.description)}\n", style="dim")
    return clean_text(text)


class TerminalPlanReviewer:
    """A `PlanReviewer` that asks on the terminal (or whatever writes to its stdin)."""

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        console: Console | None = None,
        hold: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self._stdin = stdin if stdin is not None else sys.stdin
        self.console = console if console is not None else Console(highlight=False)
        self._hold = hold

    async def review(self, tracks: list[Track]) -> PlanReview:
        with self._hold() if self._hold is not None else nullcontext():
            self.console.print(render_plan(tracks), end="")
            while True:
                self.console.print(Text(PROMPT, style="bold"), end="")
                self.console.file.flush()
                line = await read_line(self._stdin)
                if line == "":
                    self.console.print()
                    return PlanReview.abort(
                        "plan review: input ended before an answer; use --yes to accept the "
                        "plan without asking"
                    )
                word, _, rest = line.strip().partition(" ")
                choice = word.lower()
                if choice in ("y", "yes", "a", "accept"):
                    return PlanReview.accept()
                if choice in ("q", "quit", "abort"):
                    return PlanReview.abort()
                if choice in ("n", "no", "r", "reject"):
                    comment = rest.strip()
                    while not comment:
                        self.console.print(Text("what should change? > ", style="bold"), end="")
                        self.console.file.flush()
                        more = await read_line(self._stdin)
                        if more == "":
                            return PlanReview.abort("plan review: input ended before a comment")
                        comment = more.strip()
                    return PlanReview.revise(comment)
                self.console.print(
                    Text("answer y (accept), n with a comment (plan again) or q (quit)", style="yellow")
                )
