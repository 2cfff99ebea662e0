"""The clutch: one proposal, why it was made, and the person's decision on it.

View mode shows why the call was made (the worker's latest text, sanitised and wrapped, with the
ticket, `proposal N`, the model and the tokens spent so far), then the diff or the command (with
`network: off`, or `unsandboxed`, above it). `a` approves, `w` approves a command with the
network allowed for it alone, `A` always allows a command (exactly, or a prefix the person
confirms) for the rest of the run, `r` asks for a reason (required) and rejects, `e` opens the
JSON payload in an editor, `E` opens the proposed text in `$VISUAL`/`$EDITOR`, `y` copies the
command or the diff (OSC 52, so it works over SSH).

A write or edit of several hunks is approved hunk by hunk: the cursor moves between hunks
(↑↓ or j k), `space` toggles the one under it, and `a` applies the chosen ones, asking why the
others are left out (the worker reads it). All chosen is a plain approval.

An edited payload is validated against the tool's Struct on save (`parse_edited_arguments`) with
any error shown inline; a changed, valid one goes back as an `Edit`, and the conductor
re-proposes it, so the next clutch screen shows the diff redrawn from exactly the edited payload
before anything is applied. Saving an unchanged payload is no edit (the worker is told of an
edit only when something changed). `escape` leaves the editor and discards it (Textual's code
editor takes Escape for itself in indent mode, so the screen's binding has priority); in view
mode it leaves the proposal waiting (the header counts it; `c` on the board brings it back).

The JSON editor holds every control or format character as a `\\uXXXX` escape: the payload is
the same, and what the person edits is what they see.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import msgspec
from rich.console import Group, RenderableType
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.scalar import Unit
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, TextArea

from slop_tui.conductor.terminal_clutch import access_line, escaped_json
from slop_tui.display import display_text, sanitize
from slop_tui.errors import SlopError
from slop_tui.models import (
    Approve,
    ApproveHunks,
    Decision,
    EditFileArgs,
    Proposal,
    Reject,
    RunCommandArgs,
    ToolArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import check_arguments, editable_json, make_edit, parse_edited_arguments, rule_problem
from slop_tui.tools.hunks import args_for_text, split_hunks
from slop_tui.tools.sandbox import check_lexical
from slop_tui.ui.run_view import format_tokens
from slop_tui.ui.widgets.diff_view import DiffView
from slop_tui.ui.widgets.key_footer import KeyFooter

MODES = ("view", "reject", "edit", "hunks", "always")
PROMPT_MODES = ("reject", "hunks", "always")


def why_renderable(proposal: Proposal) -> RenderableType | None:
    """Why this call: the worker's reason and where it stands (None: nothing known)."""
    context = proposal.context
    if context is None:
        return None
    facts = []
    if context.number:
        facts.append(f"proposal {context.number}")
    if context.model:
        facts.append(context.model)
    if context.tokens:
        facts.append(f"{format_tokens(context.tokens)} tokens")
    if context.ticket_title:
        facts.append(f"“{context.ticket_title}”")
    head = display_text(" · ".join(facts), "dim", one_line=True)
    reason = context.reason.strip()
    body = display_text(reason) if reason else Text("(the worker said nothing before this call)", style="dim italic")
    return Group(head, body) if facts else body


def editor_command() -> list[str] | None:
    """The person's editor as argv (`$VISUAL`, else `$EDITOR`); None when neither is set."""
    for name in ("VISUAL", "EDITOR"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                argv = shlex.split(value)
            except ValueError:
                argv = [value]
            if argv:
                return argv
    return None


def file_text(root: Path | None, rel: str) -> str | None:
    """The file `rel` as it is in the repository at `root` (None: unknown, outside, unreadable)."""
    if root is None:
        return None
    try:
        check_lexical(rel)
        base = root.resolve()
        path = (base / rel).resolve()
        if not path.is_relative_to(base):
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, SlopError):
        return None


Rebuild = Callable[[str], ToolArgs]


def editable_text(args: ToolArgs, root: Path | None) -> tuple[str, Rebuild] | None:
    """The proposed text `E` opens, and how a saved text becomes arguments of the same tool.

    A write: its whole content. An edit: the whole file as the edit would leave it, when the
    file can be read and `old` occurs in it once (the saved file becomes the smallest edit,
    `hunks.args_for_text`); otherwise its `new` alone. None: no text to edit (a command)."""
    if isinstance(args, WriteFileArgs):
        return args.content, lambda text: msgspec.structs.replace(args, content=text)
    if isinstance(args, EditFileArgs):
        before = file_text(root, args.path)
        if before is not None and before.count(args.old) == 1:
            return before.replace(args.old, args.new, 1), lambda text: args_for_text(args, before, text)
        return args.new, lambda text: msgspec.structs.replace(args, new=text)
    return None


class ClutchScreen(ModalScreen[Decision]):
    CSS_PATH = "clutch.tcss"
    # Labels short enough for the footer to hold every key at 80 columns.
    BINDINGS = [
        Binding("a", "approve", "approve"),
        Binding("a", "apply_hunks", "apply chosen"),
        Binding("space", "toggle_hunk", "hunks", key_display="space ↓↑", priority=True),
        Binding("down", "move_hunk(1)", "next hunk", show=False, priority=True),
        Binding("up", "move_hunk(-1)", "previous hunk", show=False, priority=True),
        Binding("j", "move_hunk(1)", "next hunk", show=False),
        Binding("k", "move_hunk(-1)", "previous hunk", show=False),
        Binding("w", "approve_network", "allow network"),
        Binding("A", "always", "always"),
        Binding("r", "reject", "reject"),
        Binding("e", "edit", "JSON"),
        Binding("E", "external_edit", "editor"),
        Binding("y", "copy", "copy"),
        Binding("ctrl+s", "save", "save edit", priority=True),
        # Priority, or the code editor (indent mode) takes Escape and keeps the person in it.
        Binding("escape", "discard", "discard", priority=True),
        Binding("escape", "prompt_back", "back"),
        Binding("escape", "later", "later"),
    ]

    def __init__(
        self, proposal: Proposal, *, waiting: int = 1, note: str | None = None, repo_root: Path | None = None
    ) -> None:
        super().__init__()
        self.proposal = proposal
        self.repo_root = repo_root  # where `E` reads the file an edit_file changes
        self.waiting = waiting  # proposals waiting at the clutch, this one included
        self.note = note
        self.mode = "view"
        args = proposal.arguments
        many = isinstance(args, (WriteFileArgs, EditFileArgs)) and bool(proposal.diff)
        self.hunk_count = len(split_hunks(proposal.diff)) if many else 0
        self.chosen: set[int] = set(range(self.hunk_count))
        self.cursor = 0

    @property
    def by_hunk(self) -> bool:
        """Whether this proposal is approved hunk by hunk (a write or edit of two or more)."""
        return self.hunk_count >= 2 and not self.proposal.error

    @property
    def always_allowed(self) -> bool:
        """Whether "always allow" may be offered: a sandboxed command asking no network, all
        of it visible (a control character, a newline or a tab is never made a standing rule,
        nor put raw in the input that asks for one)."""
        p = self.proposal
        args = p.arguments
        return (
            isinstance(args, RunCommandArgs)
            and p.sandboxed
            and not p.network
            and not args.network
            and not p.error
            and sanitize(args.command, one_line=True) == args.command
        )

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        p = self.proposal
        with Vertical(id="clutch-box", classes="-view"):  # the mode it opens in (see _set_mode)
            more = f" · {self.waiting - 1} more waiting" if self.waiting > 1 else ""
            yield Static(display_text(f"Clutch · ticket {p.ticket_id} · {p.tool}{more}", one_line=True), id="clutch-title")
            if self.note:
                yield Static(self.note, id="clutch-note", markup=False)
            why = why_renderable(p)
            if why is not None:
                with VerticalScroll(id="clutch-why"):
                    yield Static(why, id="clutch-reason")
            access = access_line(p)
            if access is not None:
                warn = not p.sandboxed or p.network or getattr(p.arguments, "network", False)
                yield Static(access, id="clutch-access", classes="-warn" if warn else "", markup=False)
            yield DiffView(p, id="clutch-diff")
            with Vertical(id="reject-box"):
                yield Label("Why reject it? The worker reads this. Enter sends, Esc goes back.")
                yield Input(placeholder="reason (required)", id="reject-reason")
                yield Static("", id="reject-error", classes="error", markup=False)
            with Vertical(id="ask-box"):
                yield Label("", id="ask-label")
                yield Input(id="ask-input")
                yield Static("", id="ask-error", classes="error", markup=False)
            with Vertical(id="edit-box"):
                yield Label(f"Edit the {p.tool} arguments (JSON). Ctrl+S saves, Esc discards.")
                yield Static("", id="edit-error", classes="error", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._show_board_beside(self.app.size.width)  # before the first frame
        self._set_mode("view")
        self._show_hunks()

    def on_resize(self, event: events.Resize) -> None:
        self._show_board_beside(event.size.width)

    def _show_board_beside(self, width: int) -> None:
        """Dim the board in (`-wide`) only where the box leaves room for it (clutch.tcss)."""
        box = self.query_one("#clutch-box").styles.max_width
        covered = box is not None and box.unit is Unit.CELLS and width <= box.value
        self.set_class(not covered, "-wide")

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        box = self.query_one("#clutch-box")
        before = set(box.classes)
        for name in MODES:
            box.set_class(mode == name, f"-{name}", update=False)
        box.set_class(mode in ("hunks", "always"), "-ask", update=False)
        if set(box.classes) != before:
            box.update_node_styles()  # once for all the classes: each restyles the whole box
        if mode == "reject":
            self.query_one("#reject-reason", Input).focus()
        elif mode in ("hunks", "always"):
            self.query_one("#ask-input", Input).focus()
        elif mode == "edit":
            self._editor().focus()
        else:
            self.query_one("#clutch-diff", DiffView).focus()
        self.refresh_bindings()

    def _show_hunks(self) -> None:
        if self.by_hunk:
            self.query_one("#clutch-diff", DiffView).set_hunk_selection(sorted(self.chosen), self.cursor)

    def _editor(self) -> TextArea:
        """The JSON editor, mounted the first time it is needed (tree-sitter JSON on mount)."""
        found = self.query("#edit-json")
        if found:
            return found.first(TextArea)
        editor = TextArea.code_editor(
            escaped_json(editable_json(self.proposal.arguments)),
            language="json",
            theme="vscode_dark" if self.app.current_theme.dark else "github_light",
            id="edit-json",
            soft_wrap=True,
        )
        self.query_one("#edit-box").mount(editor, before="#edit-error")
        return editor

    def _ask(self, mode: str, label: str, value: str = "", placeholder: str = "") -> None:
        self.query_one("#ask-label", Label).update(label)
        field = self.query_one("#ask-input", Input)
        field.value = value
        field.placeholder = placeholder
        field.cursor_position = len(value)
        self._error("#ask-error", "")
        self._set_mode(mode)

    def _error(self, selector: str, message: str) -> None:
        error = self.query_one(selector, Static)
        error.update(display_text(message))
        error.set_class(bool(message), "-shown")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        view = self.mode == "view"
        args = self.proposal.arguments
        if action == "approve_network":
            # Only a command has a network to allow; elsewhere the key is not shown at all.
            return view and isinstance(args, RunCommandArgs)
        if action == "always":
            return view and self.always_allowed
        if action == "approve":
            return view and not (self.by_hunk and len(self.chosen) < self.hunk_count)
        if action == "apply_hunks":
            return view and self.by_hunk and len(self.chosen) < self.hunk_count
        if action in ("toggle_hunk", "move_hunk"):
            return view and self.by_hunk
        if action == "external_edit":
            return view and isinstance(args, (WriteFileArgs, EditFileArgs))
        if action in ("reject", "edit", "copy", "later"):
            return view
        if action in ("save", "discard"):
            return self.mode == "edit"
        if action == "prompt_back":
            return self.mode in PROMPT_MODES
        return True

    # -- actions ------------------------------------------------------------------------------

    def _refused(self) -> bool:
        """An error means it cannot apply as is: approving would only fail; say so instead."""
        if self.proposal.error:
            self.notify("This proposal cannot apply as is; reject it with a reason or edit it.", severity="warning")
            return True
        return False

    def action_approve(self) -> None:
        if not self._refused():
            self.dismiss(Approve())

    def action_approve_network(self) -> None:
        """Approve this one command with the network allowed (`network: on` for it alone)."""
        if not self._refused():
            self.dismiss(Approve(network=True))

    def action_apply_hunks(self) -> None:
        if not self.chosen:
            self.notify("No hunk is chosen: space chooses one, or r rejects the whole change.", severity="warning")
            return
        left = sorted(set(range(self.hunk_count)) - self.chosen)
        named = ", ".join(str(i + 1) for i in left)
        self._ask(
            "hunks",
            f"Why leave out hunk{'s' if len(left) > 1 else ''} {named}? The worker reads this. Enter applies the rest, Esc goes back.",
            placeholder="reason (required)",
        )

    def action_toggle_hunk(self) -> None:
        self.chosen ^= {self.cursor}
        self._show_hunks()
        self.refresh_bindings()

    def action_move_hunk(self, step: int) -> None:
        self.cursor = max(0, min(self.hunk_count - 1, self.cursor + step))
        self._show_hunks()

    def action_always(self) -> None:
        args = self.proposal.arguments
        assert isinstance(args, RunCommandArgs)
        self._ask(
            "always",
            "Always allow, for this run: this exact command, or cut it to a prefix (it then matches only "
            "when the rest has no ; | & $ ` ( ) < > or newline). Enter allows, Esc goes back.",
            value=args.command,
        )

    def action_reject(self) -> None:
        self._set_mode("reject")

    def action_edit(self) -> None:
        self._set_mode("edit")

    def action_copy(self) -> None:
        args = self.proposal.arguments
        if isinstance(args, RunCommandArgs):
            text, what = args.command, "the command"
        elif self.proposal.diff:
            text, what = self.proposal.diff, "the diff"
        else:
            text, what = editable_json(args), "the arguments"
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {what} to the clipboard ({len(text)} characters).")

    def action_external_edit(self) -> None:
        """The proposed text in the person's editor; what is saved, if changed, is an `Edit`."""
        args = self.proposal.arguments
        editable = editable_text(args, self.repo_root)
        if editable is None:
            return
        text, rebuild = editable
        argv = editor_command()
        if argv is None:
            self.notify("No editor: set $VISUAL or $EDITOR to edit the text there; e edits the JSON here.", severity="warning", timeout=8)
            return
        suffix = Path(getattr(args, "path", "")).suffix
        handle, name = tempfile.mkstemp(prefix="slop-clutch-", suffix=suffix if suffix.isascii() else "")
        path = Path(name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            try:
                with self.app.suspend():
                    done = subprocess.run([*argv, str(path)], check=False)
            except Exception as exc:  # no terminal to give away, or no such editor
                self.notify(f"Could not run the editor {sanitize(argv[0], one_line=True)}: {exc}", severity="error", timeout=8)
                return
            if done.returncode != 0:
                self.notify(f"The editor exited with code {done.returncode}: nothing changed.", severity="warning")
                return
            edited = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"Could not edit the text: {exc}", severity="error", timeout=8)
            return
        finally:
            path.unlink(missing_ok=True)
        if edited == text:
            self.notify("Unchanged: nothing to re-propose.")
            return
        try:
            new_args = rebuild(edited)
            check_arguments(new_args)
        except SlopError as exc:
            self.notify(f"The edit cannot be proposed: {exc}", severity="error", timeout=10)
            return
        self.dismiss(make_edit(new_args))

    def action_later(self) -> None:
        self.dismiss(None)  # no decision: the proposal stays queued, the app remembers it

    def action_discard(self) -> None:
        """Leave the JSON editor; what was typed there is dropped (the next `e` starts afresh)."""
        for editor in self.query("#edit-json"):
            editor.remove()
        self._error("#edit-error", "")
        self._set_mode("view")

    def action_prompt_back(self) -> None:
        self._set_mode("view")

    def action_save(self) -> None:
        text = self._editor().text
        try:
            args = parse_edited_arguments(self.proposal, text)
        except SlopError as exc:
            self._error("#edit-error", str(exc))
            return
        self._error("#edit-error", "")
        if args == self.proposal.arguments:
            self.notify("Unchanged: nothing to re-propose.")
            self.action_discard()
            return
        self.dismiss(make_edit(args))

    @on(Input.Submitted, "#reject-reason")
    def _reject_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self._error("#reject-error", "A reason is required: the worker uses it to try something else.")
            return
        self.dismiss(Reject(reason=reason))

    @on(Input.Submitted, "#ask-input")
    def _ask_submitted(self, event: Input.Submitted) -> None:
        answer = event.value.strip()
        if self.mode == "hunks":
            if not answer:
                self._error("#ask-error", "A reason is required: the worker is told why these hunks were left out.")
                return
            self.dismiss(ApproveHunks(hunks=sorted(self.chosen), reason=answer))
        elif self.mode == "always":
            problem = rule_problem(self.proposal, answer)
            if problem is not None:
                self._error("#ask-error", f"Not allowed: {problem}.")
                return
            self.dismiss(Approve(always=answer))
