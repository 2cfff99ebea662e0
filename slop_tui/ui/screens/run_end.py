"""The end of a git-native run: each ticket as its commit, the whole run's diff, land or drop.

Every git call (`slop_tui.vcs`) runs in a worker and posts its result back as a message, so the
screen keeps drawing while git works. Titles, paths and the diff come from models and the
repository: each is drawn through the display sanitiser as `Text` or a highlighted diff
(`diff_render`), wrapped, never parsed as markup and never cropped. Outcomes and errors are
toasts (`app.notify` sanitises).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from slop_tui.display import display_text, sanitize
from slop_tui.errors import SlopError
from slop_tui.tools.proposals import diff_stats
from slop_tui.ui.diff_render import render_diff
from slop_tui.ui.widgets.key_footer import KeyFooter
from slop_tui.vcs import RunBranch, TicketCommit, drop, land, run_commits, run_diff
from slop_tui.words import counted, verb

if TYPE_CHECKING:
    from slop_tui.ui.app import SlopApp

SHORT_SHA = 7


def one_line_error(exc: BaseException) -> str:
    """A git failure as one line; anything but a `SlopError` is a bug, named as one."""
    text = str(exc) if isinstance(exc, SlopError) else f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def split_files(diff: str) -> list[tuple[str, str]]:
    """A `git diff` as (path, that file's part), in order; a diff without headers is one part."""
    parts: list[list[str]] = []
    for line in diff.splitlines():
        if line.startswith("diff --git ") or not parts:
            parts.append([])
        parts[-1].append(line)
    out: list[tuple[str, str]] = []
    for lines in parts:
        path = ""
        for line in lines:
            if line.startswith("+++ ") and line[4:] != "/dev/null":
                path = line[4:].removeprefix("b/")
                break
            if line.startswith("--- ") and line[4:] != "/dev/null":
                path = line[4:].removeprefix("a/")  # a deleted file: no "+++ b/" name
            if line.startswith("@@"):
                break
        if not path and lines and lines[0].startswith("diff --git "):
            path = lines[0][len("diff --git ") :].split(" b/", 1)[0].removeprefix("a/")  # mode-only or binary
        out.append((path, "\n".join(lines)))
    return out


def run_stats(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) over every file (`diff_stats` reads one file's headers)."""
    counts = [diff_stats(part) for _path, part in split_files(diff)]
    return sum(a for a, _ in counts), sum(r for _, r in counts)


def tickets_renderable(commits: list[TicketCommit]) -> RenderableType:
    if not commits:
        return Text("No ticket was committed on this run branch.", style="dim")
    out = Text()
    for n, commit in enumerate(commits):
        if n:
            out.append("\n")
        out.append(commit.sha[:SHORT_SHA], style="bold yellow")
        out.append("  ")
        out.append(sanitize(commit.title), style="bold")
        if commit.ticket_id:  # a revert of an undone ticket names none
            out.append(sanitize(f"  ({commit.ticket_id})"), style="dim")
        out.append("\n" + " " * (SHORT_SHA + 2))
        out.append(sanitize(", ".join(commit.files) or "no file"), style="dim")
    return out


def diff_renderable(diff: str, *, dark: bool) -> RenderableType:
    """The whole run's diff, a heading per file naming it with its +/- counts (wrapped: a
    `Rule` would crop a long path), highlighted like a proposal at the clutch (`diff_render`)."""
    if not diff.strip():
        return Text("The run branch changes no file.", style="dim")
    parts: list[RenderableType] = []
    for n, (path, part) in enumerate(split_files(diff.rstrip("\n"))):
        added, removed = diff_stats(part)
        heading = display_text(f"{path}  +{added} -{removed}", "bold reverse", one_line=True)
        parts.append(Text("\n") + heading if n else heading)
        parts.append(render_diff(part, path=path, dark=dark))
    return Group(*parts)


@dataclass(frozen=True)
class Loaded:
    commits: list[TicketCommit]
    diff: str


class RunEndScreen(Screen[None]):
    """`l` lands the run onto the branch it started from, `d` drops it (after asking)."""

    CSS_PATH = "run_end.tcss"
    BINDINGS = [
        Binding("escape", "back", "board"),
        Binding("l", "land", "land"),
        Binding("d,D", "drop", "drop"),
    ]

    class GitLoaded(Message):
        def __init__(self, result: Loaded | None, error: str | None) -> None:
            super().__init__()
            self.result = result
            self.error = error

    class GitDone(Message):
        def __init__(self, action: str, outcome: str | None, error: str | None) -> None:
            super().__init__()
            self.action = action
            self.outcome = outcome
            self.error = error

    def __init__(self, repo: Path, run: RunBranch) -> None:
        super().__init__()
        self.repo = repo
        self.run = run
        self.loaded: Loaded | None = None
        self.busy: str | None = "reading the run branch…"
        self.acting = False  # a land or a drop is under way: leaving would kill git half-way

    @property
    def slop(self) -> SlopApp:
        return cast("SlopApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="run-end-head"):
            yield Static("", id="run-end-title", markup=False)
            yield Static("", id="run-end-help", markup=False)
        with VerticalScroll(id="run-end-tickets"):
            yield Static(Text("reading the run branch…", style="dim"), id="run-end-commits", markup=False)
        with VerticalScroll(id="run-end-diff", can_focus=True):
            yield Static("", id="run-end-diff-body", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw_diff())
        self._draw_head()
        self.query_one("#run-end-diff").focus()
        self._load()

    # -- git, in workers -------------------------------------------------------------------------

    @work(group="git", exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        try:
            commits = await run_commits(self.repo, self.run)
            diff = await run_diff(self.repo, self.run)
        except Exception as exc:  # shown on the screen, never a traceback
            self.post_message(self.GitLoaded(None, one_line_error(exc)))
        else:
            self.post_message(self.GitLoaded(Loaded(commits, diff), None))

    @work(group="git", exclusive=True, exit_on_error=False)
    async def _finish(self, action: str) -> None:
        try:
            outcome = await (land if action == "land" else drop)(self.repo, self.run)
        except Exception as exc:  # a refusal or git's own message: one line, nothing lost
            self.post_message(self.GitDone(action, None, one_line_error(exc)))
        else:
            self.post_message(self.GitDone(action, outcome, None))

    @on(GitLoaded)
    def _loaded(self, message: GitLoaded) -> None:
        self.busy = None
        self.loaded = message.result
        commits = self.query_one("#run-end-commits", Static)
        if message.error is not None:
            commits.update(display_text(f"cannot read the run branch: {message.error}", "bold red"))
        else:
            assert message.result is not None
            commits.update(tickets_renderable(message.result.commits))
        self._draw_head()
        self._draw_diff()
        self.refresh_bindings()

    @on(GitDone)
    def _done(self, message: GitDone) -> None:
        self.busy = None
        self.acting = False
        self.refresh_bindings()
        if message.error is not None:
            self._draw_head()
            self.notify(message.error, severity="error", timeout=10)
            return
        self.notify(message.outcome or f"{message.action} done", timeout=8)
        self.dismiss(None)

    # -- drawing -----------------------------------------------------------------------------------

    def _draw_head(self) -> None:
        run = self.run
        title = f"run {run.run_id} · {run.branch} from {run.base_branch} @ {run.base_sha[:SHORT_SHA]}"
        if self.loaded is not None:
            added, removed = run_stats(self.loaded.diff)
            n = len(self.loaded.commits)
            title += f" · {n} ticket{'s' if n != 1 else ''} · +{added} -{removed}"
        self.query_one("#run-end-title", Static).update(display_text(title, one_line=True))
        help_text = self.busy or (
            f"l lands it on {run.base_branch} (a fast-forward, or a merge if {run.base_branch} moved); "
            f"d drops it: back to {run.base_branch}, the run branch deleted (asks first)."
        )
        self.query_one("#run-end-help", Static).update(display_text(help_text, "dim"))

    def _draw_diff(self) -> None:
        body = self.query_one("#run-end-diff-body", Static)
        if self.loaded is None:
            body.update(Text("", style="dim"))
        else:
            body.update(diff_renderable(self.loaded.diff, dark=self.app.current_theme.dark))

    # -- actions -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("land", "drop"):
            return None if self.busy is not None else True  # dimmed while git works
        if action == "back":
            return None if self.acting else True
        return True

    def _refused(self) -> bool:
        if self.busy is not None:
            self.notify(f"Wait: {self.busy}", severity="warning")
            return True
        if self.slop.running:
            self.notify("A run is under way on this branch; land or drop it once it has finished.", severity="warning")
            return True
        return False

    def action_land(self) -> None:
        if self._refused():
            return
        self.busy = f"landing {self.run.branch} on {self.run.base_branch}…"
        self.acting = True
        self._draw_head()
        self.refresh_bindings()
        self._finish("land")

    def action_drop(self) -> None:
        if self._refused():
            return
        n = len(self.loaded.commits) if self.loaded is not None else 0
        self.app.push_screen(ConfirmDropScreen(self.run, n), callback=self._drop_confirmed)

    def _drop_confirmed(self, yes: bool | None) -> None:
        if not yes or self._refused():
            return
        self.busy = f"dropping {self.run.branch}…"
        self.acting = True
        self._draw_head()
        self.refresh_bindings()
        self._finish("drop")

    def action_back(self) -> None:
        if self.acting:
            self.notify(f"Wait: {self.busy}", severity="warning")
            return
        self.dismiss(None)


class ConfirmDropScreen(ModalScreen[bool]):
    """Dropping discards the run's commits: asked once, `y` only (Enter or Esc keeps it)."""

    CSS_PATH = "run_end.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "drop it"),
        Binding("escape,n", "answer(False)", "keep it"),
    ]

    def __init__(self, run: RunBranch, commits: int) -> None:
        super().__init__()
        self.run = run
        self.commits = commits

    def compose(self) -> ComposeResult:
        run = self.run
        with Vertical(id="confirm-box"):
            yield Static(display_text(f"Drop {run.branch}?", one_line=True), id="confirm-title")
            yield Static(
                display_text(
                    f"Its {counted(self.commits, 'commit')} {verb(self.commits, 'is', 'are')} discarded: slop switches back to {run.base_branch}, "
                    f"which stays as it was, and deletes {run.branch}. Untracked files are left alone."
                ),
                id="confirm-body",
            )
            yield Static("y drops it · n or Esc keeps it", id="confirm-help", markup=False)
        yield KeyFooter()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
