"""The clutch: one proposal, and the person's decision on it.

View mode shows the diff or the command (with `network: off`, or `unsandboxed`, above it);
`a` approves, `w` approves a command with the network allowed for it alone, `r` asks for a
reason (required) and rejects, `e` opens the JSON payload in an editor. An edited payload is validated against the
tool's Struct on save (`parse_edited_arguments`) with any error shown inline; a valid one goes
back as an `Edit`, and the conductor re-proposes it, so the next clutch screen shows the diff
redrawn from exactly the edited payload before anything is applied. `escape` leaves the
proposal waiting (the header counts it; `c` on the board brings it back): none is lost.

The JSON editor holds every control or format character as a `\\uXXXX` escape: the payload is
the same, and what the person edits is what they see.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static, TextArea

from slop_tui.conductor.terminal_clutch import access_line, escaped_json
from slop_tui.display import display_text
from slop_tui.errors import SlopError
from slop_tui.models import Approve, Decision, Proposal, Reject, RunCommandArgs
from slop_tui.tools.clutch import editable_json, make_edit, parse_edited_arguments
from slop_tui.ui.widgets.diff_view import DiffView

MODES = ("view", "reject", "edit")


class ClutchScreen(ModalScreen[Decision]):
    CSS_PATH = "clutch.tcss"
    BINDINGS = [
        Binding("a", "approve", "approve"),
        Binding("w", "approve_network", "approve, allow network"),
        Binding("r", "reject", "reject"),
        Binding("e", "edit", "edit JSON"),
        Binding("ctrl+s", "save", "save edit", priority=True),
        Binding("escape", "back", "back / later"),
    ]

    def __init__(self, proposal: Proposal, *, waiting: int = 1, note: str | None = None) -> None:
        super().__init__()
        self.proposal = proposal
        self.waiting = waiting  # proposals waiting at the clutch, this one included
        self.note = note
        self.mode = "view"

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        p = self.proposal
        with Vertical(id="clutch-box"):
            more = f" · {self.waiting - 1} more waiting" if self.waiting > 1 else ""
            yield Static(display_text(f"Clutch · ticket {p.ticket_id} · {p.tool}{more}", one_line=True), id="clutch-title")
            if self.note:
                yield Static(self.note, id="clutch-note", markup=False)
            access = access_line(p)
            if access is not None:
                warn = not p.sandboxed or p.network or getattr(p.arguments, "network", False)
                yield Static(access, id="clutch-access", classes="-warn" if warn else "", markup=False)
            yield DiffView(p, id="clutch-diff")
            with Vertical(id="reject-box"):
                yield Label("Why reject it? The worker reads this. Enter sends, Esc goes back.")
                yield Input(placeholder="reason (required)", id="reject-reason")
                yield Static("", id="reject-error", classes="error", markup=False)
            with Vertical(id="edit-box"):
                yield Label(f"Edit the {p.tool} arguments (JSON). Ctrl+S saves, Esc goes back.")
                yield Static("", id="edit-error", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._set_mode("view")

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        box = self.query_one("#clutch-box")
        for name in MODES:
            box.set_class(mode == name, f"-{name}")
        if mode == "reject":
            self.query_one("#reject-reason", Input).focus()
        elif mode == "edit":
            self._editor().focus()
        else:
            self.query_one("#clutch-diff", DiffView).focus()
        self.refresh_bindings()

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "approve_network":
            # Only a command has a network to allow; elsewhere the key is not shown at all.
            return self.mode == "view" and isinstance(self.proposal.arguments, RunCommandArgs)
        if action in ("approve", "reject", "edit"):
            return self.mode == "view"
        if action == "save":
            return self.mode == "edit"
        return True

    # -- actions ------------------------------------------------------------------------------

    def action_approve(self) -> None:
        if self.proposal.error:
            # An error means it cannot apply as is: approving would only fail; say so instead.
            self.notify(
                "This proposal cannot apply as is; reject it with a reason or edit it.",
                severity="warning",
            )
            return
        self.dismiss(Approve())

    def action_approve_network(self) -> None:
        """Approve this one command with the network allowed (`network: on` for it alone)."""
        if self.proposal.error:
            self.action_approve()  # says why it cannot be approved
            return
        self.dismiss(Approve(network=True))

    def action_reject(self) -> None:
        self._set_mode("reject")

    def action_edit(self) -> None:
        self._set_mode("edit")

    def action_back(self) -> None:
        if self.mode != "view":
            self._set_mode("view")
        else:
            self.dismiss(None)  # no decision: the proposal stays queued, the app remembers it

    def action_save(self) -> None:
        text = self._editor().text
        error = self.query_one("#edit-error", Static)
        try:
            args = parse_edited_arguments(self.proposal, text)
        except SlopError as exc:
            error.update(display_text(str(exc)))
            error.add_class("-shown")
            return
        error.update("")
        error.remove_class("-shown")
        self.dismiss(make_edit(args))

    @on(Input.Submitted, "#reject-reason")
    def _reject_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            error = self.query_one("#reject-error", Static)
            error.update("A reason is required: the worker uses it to try something else.")
            error.add_class("-shown")
            return
        self.dismiss(Reject(reason=reason))
