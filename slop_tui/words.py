"""Counts in plain English: `1 ticket`, `2 tickets`, never `ticket(s)`.

At the bottom of the layers (beside `display`), so the printer, the commands and the TUI say
a count the same way.
"""

from __future__ import annotations

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
