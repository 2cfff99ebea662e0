"""The context window guard: whether a request fits its model's window, before it is sent.

A request over the window is an API error after a round trip (and, on some endpoints, a silent
cut of the oldest messages). Estimated here instead (`tokens.estimate_tokens`, a few percent
high on code), with the reply's reserve (`max_tokens`) counted in: a prompt that fills the
window leaves the model no room to answer. A model whose window is unknown is never checked.
"""

from __future__ import annotations

import json

from slop_tui.config import ModelSpec
from slop_tui.models import ChatMessage
from slop_tui.providers.base import ModelRequest, ProviderError, ToolSpec
from slop_tui.tokens import estimate_tokens

__all__ = [
    "ContextWindowExceeded",
    "TokenTally",
    "check_window",
    "window_problem",
]


class ContextWindowExceeded(ProviderError):
    """A request that would not fit its model's context window; it was not sent."""


class TokenTally:
    """Token estimates of a request's parts, each text estimated once.

    A worker re-sends the same messages every step: keyed by the text itself (whose hash
    Python keeps on the string), a later step estimates only what is new.
    """

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    def text(self, text: str) -> int:
        found = self._known.get(text)
        if found is None:
            found = self._known[text] = estimate_tokens(text)
        return found

    def messages(self, messages: list[ChatMessage]) -> int:
        return sum(
            self.text(m.content) + sum(self.text(c.name) + self.text(c.arguments) for c in m.tool_calls)
            for m in messages
        )

    def tools(self, tools: list[ToolSpec]) -> int:
        return sum(self.text(t.name + t.description + json.dumps(t.parameters)) for t in tools)

    def needed(self, request: ModelRequest) -> int:
        """The request's estimated prompt tokens plus the reply it reserves."""
        schema = json.dumps(request.response_schema) if request.response_schema is not None else ""
        return (
            self.text(request.system)
            + self.messages(request.messages)
            + self.tools(request.tools)
            + self.text(schema)
            + request.max_tokens
        )


def window_problem(spec: ModelSpec, needed: int, label: str | None = None) -> str | None:
    """Why a request of `needed` tokens (reply reserve included) cannot go to `spec`'s model;
    None when it fits or the window is unknown."""
    window = spec.context_window
    if window is None or needed <= window:
        return None
    return (
        f"context window: the request needs ~{needed:,} tokens, {label or spec.label} takes "
        f"{window:,}; split the ticket or use a larger model"
    )


def check_window(spec: ModelSpec, request: ModelRequest, tally: TokenTally | None = None) -> None:
    """Raise `ContextWindowExceeded` when `request` would not fit `spec`'s context window."""
    if spec.context_window is None:
        return  # nothing to check: no estimate spent
    problem = window_problem(spec, (tally or TokenTally()).needed(request))
    if problem is not None:
        raise ContextWindowExceeded(spec, problem)
