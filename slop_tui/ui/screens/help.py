"""`?` / F1: every key of the screen below and what it does, read from the bindings in force.

The rows come from the screen's `active_bindings` (its focused widget's, its own and the
app's, filtered by each `check_action`), so the help lists exactly the keys that work now and
cannot drift from them. A binding's `tooltip`, when it has one, is its longer explanation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from slop_tui.ui.widgets.run_header import USAGE_LEGEND

HEADER_LEGEND = (
    "The header's first line: the run's progress and, while a model works, a spinner, the "
    "tier, how long the call has taken, the tool call it is writing (`write_file app/x.py 8.1 KB`) "
    "and any retry it waits for. " + USAGE_LEGEND
)


class HelpRow(msgspec.Struct, kw_only=True, frozen=True):
    keys: str  # `r`, or `n/enter/esc` when several keys do the same
    action: str  # what the footer calls it
    explanation: str = ""
    section: str = ""


def section_name(node: DOMNode, app: App[Any]) -> str:
    """What a screen or widget is called in the help: its `HELP_TITLE`, or its class name."""
    if node is app:
        return "everywhere"
    title = getattr(node, "HELP_TITLE", None)
    if isinstance(title, str):
        return title
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in type(node).__name__).strip()
    return words.removesuffix(" screen")


def _own_actions(node: DOMNode) -> set[str]:
    """The actions slop's own classes bind on `node` (Textual's stock keys are "everywhere")."""
    actions: set[str] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("slop_tui"):
            for binding in cls.__dict__.get("BINDINGS", []):
                if isinstance(binding, Binding):
                    actions.add(binding.action)
    return actions


def help_rows(screen: Screen[Any]) -> list[HelpRow]:
    """The keys in force on `screen` now, one row per action (its keys joined)."""
    app = screen.app
    entries: dict[str, tuple[DOMNode, Binding]] = {}
    for key, active in screen.active_bindings.items():
        if active.enabled and not active.binding.system:
            entries[key] = (active.node, active.binding)
    # The app's priority keys (F1, `?`, Ctrl+C, Ctrl+Q) win over any other binding of the
    # same key, and work over modal screens (the clutch), whose chain leaves the app out.
    for cls in reversed(type(app).__mro__):
        for binding in cls.__dict__.get("BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.priority or binding.system:
                continue
            for key in (k.strip() for k in binding.key.split(",")):
                held = entries.get(key)
                if held is None or not held[1].priority or held[0] is app:
                    entries[key] = (app, binding)
    merged: dict[tuple[int, str, str], list[str]] = {}
    first: dict[tuple[int, str, str], tuple[DOMNode, Binding]] = {}
    for key, (node, binding) in entries.items():
        ident = (id(node), binding.action, binding.description)
        merged.setdefault(ident, []).append(app.get_key_display(binding) if "," not in binding.key else key)
        first.setdefault(ident, (node, binding))
    rows: list[HelpRow] = []
    own: dict[int, set[str]] = {}
    for ident, keys in merged.items():
        node, binding = first[ident]
        if id(node) not in own:
            own[id(node)] = _own_actions(node)
        section = section_name(node, app) if binding.action in own[id(node)] else "everywhere"
        rows.append(
            HelpRow(
                keys="/".join(dict.fromkeys(keys)),
                action=binding.description or binding.action.replace("_", " "),
                explanation=binding.tooltip,
                section=section,
            )
        )
    # The screen's own keys first, then its widgets', then the app's.
    order = {"everywhere": 2}
    first_section = section_name(screen, app)
    rows.sort(key=lambda r: 0 if r.section == first_section else order.get(r.section, 1))
    return rows


def help_table(rows: Iterable[HelpRow]) -> Group:
    """A heading and a three-column table (key, action, what it does) per section."""
    parts: list[Text | Table] = []
    table: Table | None = None
    section = None
    for row in rows:
        if row.section != section or table is None:
            section = row.section
            parts.append(Text(section, style="bold underline"))
            table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
            table.add_column("key", style="bold", no_wrap=True)
            table.add_column("action", no_wrap=True)
            table.add_column("what it does", ratio=1, style="dim")
            parts.append(table)
        table.add_row(Text(row.keys), Text(row.action), Text(row.explanation))
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "close"),
    ]

    def __init__(self, title: str, rows: list[HelpRow]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text(f"Keys · {self.title_text}", style="bold"), id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(help_table(self.rows), id="help-keys")
                yield Static(Text(HEADER_LEGEND), id="help-legend")
            yield Static("Esc, q, ? or F1 closes · ctrl+p: every command by name", id="help-close", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
