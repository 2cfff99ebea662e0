"""What a view build returns: its text, and where its source stops parsing."""

from __future__ import annotations

import msgspec


class SyntaxProblem(msgspec.Struct, frozen=True):
    """Where a file stops parsing: 1-based line and column, and what is wrong there."""

    line: int
    column: int
    message: str


class BuiltView(msgspec.Struct, frozen=True):
    """A view's text, and the first syntax problem of its source (None for a clean parse)."""

    text: str
    syntax_problem: SyntaxProblem | None = None
