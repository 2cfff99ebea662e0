"""Counts in plain English: `1 ticket`, `2 tickets`, never `ticket(s)`; a call's usage as
`1,234 tok $0.0123`.

At the bottom of the layers (beside `display`), so the printer, the commands and the TUI say
a count the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slop_tui.models import Usage

_IRREGULAR = {"dependency": "dependencies", "retry": "retries", "entry": "entries"}


def plural(n: int, noun: str) -> str:
    """`noun` as it reads after the number `n`."""
    if n == 1:
        return noun
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    return noun + "s"


def counted(n: int, noun: str) -> str:
    """`1 ticket`, `0 tickets`, `3 files`."""
    return f"{n} {plural(n, noun)}"


def verb(n: int, singular: str, many: str) -> str:
    """The verb agreeing with a count: `verb(1, "depends", "depend")` is `depends`."""
    return singular if n == 1 else many


def format_usage(usage: Usage) -> str:
    """`1,234 tok` or `1,234 tok $0.0123`: cost only when the model has a price."""
    text = f"{usage.total_tokens:,} tok"
    if usage.cost_usd is not None:
        text += f" ${usage.cost_usd:.4f}"
    return text
