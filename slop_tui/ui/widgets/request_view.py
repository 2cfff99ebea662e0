"""The ticket detail's "request" tab: the exact parts of the latest request a ticket sent.

Each part (the system text, the tool list, each message with its tool calls or result) comes
with its estimated tokens (`tokens.estimate_tokens`, the count the context budget uses), so a
person sees where a request's size goes. Long texts are folded to their first and last lines.
Everything shown is model, file or command text: masked first (`RequestLog.mask`, before any
cut, so no fold leaves half a key), then sanitised, never parsed as markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

import msgspec
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from slop_tui.display import sanitize
from slop_tui.models import ChatMessage, Tier
from slop_tui.providers.base import ToolSpec
from slop_tui.providers.request_log import RequestLog, SentRequest
from slop_tui.tokens import estimate_tokens
from slop_tui.words import counted, plural

EMPTY = "No request sent yet for this ticket."
FORGOTTEN = "This ticket's requests are no longer kept: only those of the last {tickets} that sent one are."
HEAD_LINES = 6  # a folded text keeps its first lines (what it is) ...
TAIL_LINES = 3  # ... and its last (where it ends: the question, the exit code)
LINE_CHARS = 300  # one line past this is cut: a minified file must not fill the tab
INLINE_CHARS = 60  # a shorter one-line argument stays on its name's line
REFRESH_S = 0.1  # requests of one ticket arriving faster than this are drawn once
TIER_NAMES = {Tier.WORKER: "worker", Tier.DEFAULT_CHEAP: "QA", Tier.LEAD: "tech lead", Tier.PLANNER: "planner"}
INDENT = "  "


@lru_cache(maxsize=2048)
def _tokens(text: str) -> int:
    # A worker's requests repeat their earlier messages: each text is estimated once.
    return estimate_tokens(text)


def tool_tokens(tool: ToolSpec) -> int:
    """A tool definition's cost, counted the way the context report counts an MCP tool's."""
    return _tokens(msgspec.json.encode(tool).decode("utf-8"))


def message_tokens(message: ChatMessage) -> int:
    """A message's content and its tool calls' arguments (as the history counts them)."""
    return _tokens(message.content) + sum(_tokens(call.arguments) for call in message.tool_calls)


def request_tokens(sent: SentRequest) -> int:
    """The whole request: system, tools, answer schema and messages."""
    request = sent.request
    schema = _tokens(json.dumps(request.response_schema)) if request.response_schema is not None else 0
    return (_tokens(request.system) + sum(tool_tokens(t) for t in request.tools) + schema
            + sum(message_tokens(m) for m in request.messages))


def step_label(sent: SentRequest) -> str:
    """A worker's step is its assistant turns plus one (a history compacts messages, never
    drops them); another tier's requests are counted calls."""
    if sent.tier is Tier.WORKER:
        return f"step {1 + sum(m.role == 'assistant' for m in sent.request.messages)}"
    return f"call {sent.call}"


def tokens_word(n: int) -> str:
    return f"{n:,} {plural(n, 'token')}"


def fold(text: str) -> str:
    """`text` cut to its first and last lines, each line cut to `LINE_CHARS`."""
    lines = text.splitlines()
    if len(lines) > HEAD_LINES + TAIL_LINES + 1:
        hidden = len(lines) - HEAD_LINES - TAIL_LINES
        lines = [*lines[:HEAD_LINES], f"… {counted(hidden, 'more line')} …", *lines[-TAIL_LINES:]]
    return "\n".join(
        line if len(line) <= LINE_CHARS else f"{line[:LINE_CHARS]} … {counted(len(line) - LINE_CHARS, 'more character')}"
        for line in lines
    )


def _arguments(arguments: str) -> list[tuple[str, str]]:
    """A call's arguments as (name, value) pairs to read; raw text when they are not a JSON
    object (a model's broken JSON is shown as it was sent)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return [("", arguments)]
    if not isinstance(value, dict):
        return [("", arguments)]
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in value.items()]


class _Writer:
    """Appends masked, sanitised, folded text to one `Text`."""

    def __init__(self, mask: Callable[[str], str]) -> None:
        self.out = Text()
        self.mask = mask

    def heading(self, label: str, tokens: int | None = None, style: str = "bold") -> None:
        self.out.append(sanitize(self.mask(label), one_line=True), style=style)
        if tokens is not None:
            self.out.append(f" · {tokens_word(tokens)}", style="dim")
        self.out.append("\n")

    def body(self, text: str, indent: str = INDENT, style: str = "") -> None:
        if not text.strip():
            self.out.append(f"{indent}(empty)\n", style="dim")
            return
        for line in fold(self.mask(text)).splitlines():
            if line:
                self.out.append(indent)
            self.out.append(sanitize(line), style="dim italic" if line.startswith("… ") and line.endswith(" …") else style)
            self.out.append("\n")


def render_request(sent: SentRequest, mask: Callable[[str], str]) -> Text:
    """One request, part by part, each with its tokens."""
    request = sent.request
    w = _Writer(mask)
    tier = TIER_NAMES.get(sent.tier, sent.tier.value)
    w.heading(f"{tier} · {sent.model} · {step_label(sent)}", request_tokens(sent), style="bold reverse")
    w.out.append("\n")
    w.heading("system", _tokens(request.system))
    w.body(request.system)
    if request.tools:
        total = sum(tool_tokens(t) for t in request.tools)
        w.heading(f"tools · {counted(len(request.tools), 'tool')}", total)
        names = Text(INDENT)
        for n, tool in enumerate(request.tools):
            if n:
                names.append(" · ", style="dim")
            names.append(sanitize(mask(tool.name), one_line=True))
            names.append(f" {tool_tokens(tool)}", style="dim")
        w.out.append(names)
        w.out.append("\n")
    if request.response_schema is not None:
        schema = json.dumps(request.response_schema)
        w.heading(f"answer schema · {request.schema_name}", _tokens(schema))
    called: dict[str, str] = {}  # tool call id -> tool name, to say what a result answers
    for n, message in enumerate(request.messages, start=1):
        label = f"message {n} · {message.role}"
        if message.role == "tool" and message.tool_call_id is not None:
            label += f" · result of {called.get(message.tool_call_id, message.tool_call_id)}"
        w.heading(label, message_tokens(message))
        if message.content or not message.tool_calls:
            w.body(message.content)
        for call in message.tool_calls:
            called[call.id] = call.name
            w.heading(f"{INDENT}→ {call.name}", _tokens(call.arguments), style="bold cyan")
            for name, value in _arguments(call.arguments):
                if not name:
                    w.body(value, indent=INDENT * 2)
                    continue
                w.out.append(f"{INDENT * 2}{sanitize(mask(name), one_line=True)}:", style="bold")
                if "\n" in value or len(value) > INLINE_CHARS:
                    w.out.append("\n")
                    w.body(value, indent=INDENT * 3)
                else:  # a path, a number, a short command: on the name's line
                    w.out.append(f" {sanitize(mask(value), one_line=True)}\n")
    w.out.rstrip()
    return w.out


def render_requests(sent: list[SentRequest], mask: Callable[[str], str]) -> Text:
    """A ticket's latest requests (the worker's, then QA's), or the empty state."""
    if not sent:
        return Text(EMPTY, style="dim")
    out = Text()
    for n, one in enumerate(sent):
        if n:
            out.append("\n\n")
        out.append(render_request(one, mask))
    return out


class RequestView(VerticalScroll):
    """The request tab's body: redrawn when its ticket sends its next request, while shown."""

    DEFAULT_CSS = """
    RequestView { height: 1fr; }
    RequestView > #request-body { width: 1fr; }
    """

    def __init__(self, ticket_id: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.ticket_id = ticket_id
        self.showing = False  # the tab is open: a hidden tab is drawn when it opens
        self._log: RequestLog | None = None
        self._stop_listening: Callable[[], None] | None = None
        self._drawn: tuple[int, int] | None = None  # (log id, version) last drawn
        self._due = False

    def compose(self) -> ComposeResult:
        yield Static(Text(EMPTY, style="dim"), id="request-body", markup=False)

    def on_unmount(self) -> None:
        self._detach()

    def _detach(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
        self._stop_listening = None
        self._log = None

    def use(self, log: RequestLog | None) -> None:
        """Follow `log` (the running session's; a new run brings a new one) and draw if due."""
        if log is not self._log:
            self._detach()
            self._log = log
            if log is not None:
                self._stop_listening = log.listen(self._sent)
        self.redraw()

    def _sent(self, ticket_id: str) -> None:
        # Inside the model call: only note it; the drawing waits for the timer.
        if ticket_id == self.ticket_id and not self._due and self.is_mounted:
            self._due = True
            self.set_timer(REFRESH_S, self._timer)

    def _timer(self) -> None:
        self._due = False
        self.redraw()

    def redraw(self, *, force: bool = False) -> None:
        """Draw the latest requests if they changed since the last drawing and the tab is open."""
        log = self._log
        state = (id(log), log.version(self.ticket_id) if log is not None else 0)
        if not self.showing or (state == self._drawn and not force):
            return
        self._drawn = state
        body = self.query_one("#request-body", Static)
        if log is not None and log.forgotten(self.ticket_id):
            body.update(Text(FORGOTTEN.format(tickets=counted(log.keep_tickets, "ticket")), style="dim"))
            return
        sent = log.latest(self.ticket_id) if log is not None else []
        mask = log.mask if log is not None else _no_mask
        body.update(render_requests(sent, mask))


def _no_mask(text: str) -> str:
    return text
