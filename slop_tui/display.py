"""The one display sanitiser: what a person is shown is exactly what the text holds.

Every text that comes from a model, a command, an MCP server, a file or the repository is
hostile: an escape sequence in it can erase a line on the user's terminal (so the clutch shows
`$ pytest` while `touch pwned` runs), set the clipboard (OSC 52), or reorder what is read
(U+202E). `sanitize` renders each character of Unicode category Cc, Cf, Zl, Zp (and a lone
surrogate, Cs) as a visible escape, except `\\n` and `\\t`: `\\x1b` for a code point below 0x100,
`<U+202E>` above. Everything else is left as it is, so ordinary non-ASCII text is untouched.

The result is plain text: a sink must still display it as text, never parse it as Rich or
Textual markup (`markup=False`, `rich.text.Text`, `display_text`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Rich is imported on first use: `slop --help` and the CLI's errors skip it
    from rich.text import Text

# Control (C0, C1, DEL), format (bidi overrides, zero-width, tags, soft hyphen), line and
# paragraph separators; surrogates cannot be printed at all.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# Printable ASCII, newline and tab are never unsafe; anything else is looked up (only then).
_SUSPECT = re.compile(r"[^\t\n\x20-\x7e]")
_SUSPECT_LINE = re.compile(r"[^\x20-\x7e]")


def is_unsafe_char(ch: str) -> bool:
    """True for a character the sanitiser escapes (newline and tab included: see `sanitize`)."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def escape_char(ch: str) -> str:
    """The visible form of one character: `\\x1b` below 0x100, `<U+202E>` above."""
    point = ord(ch)
    return f"\\x{point:02x}" if point < 0x100 else f"<U+{point:04X}>"


def _replace(match: re.Match[str]) -> str:
    ch = match.group()
    return escape_char(ch) if unicodedata.category(ch) in UNSAFE_CATEGORIES else ch


def sanitize(text: str, *, one_line: bool = False) -> str:
    """`text` with every unsafe character shown as a visible escape.

    `one_line=True` escapes newlines and tabs too, for places that show one line (a title, a
    table cell, a toast): a model cannot start a fake line there.
    """
    if text.isascii() and text.isprintable():
        return text
    return (_SUSPECT_LINE if one_line else _SUSPECT).sub(_replace, text)


def display_text(text: str, style: str = "", *, one_line: bool = False) -> Text:
    """A Rich `Text` of sanitised `text`: never parsed as markup, whatever brackets it holds."""
    from rich.text import Text

    return Text(sanitize(text, one_line=one_line), style=style)


def has_unsafe(text: str) -> bool:
    """True when `text` holds a character `sanitize` would escape (newline and tab excepted)."""
    return sanitize(text) != text
