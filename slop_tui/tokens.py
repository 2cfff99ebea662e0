"""The one token estimate the project uses wherever it counts context.

Four characters a token (the usual rule of thumb) is off by 10-25 % on source code and on the
repository map, which are mostly short identifiers and punctuation: a budget in that unit let
the real count overshoot it. So the estimate follows how BPE tokenizers of the cl100k family
split text. It cuts the text into the pieces their pre-tokenizer makes (a word with the space
or sign before it, up to three digits, a run of signs, a run of blanks) and prices each piece:
one token for a short word, a little more per letter past six and per camel-case hump, a
non-ASCII character one to three by its size. The prices are fitted to cl100k_base counts of Python sources,
skeleton views, repository maps, Markdown and JSON, and set about 3 % high: measured, the real
count of a map is within 0.95-1.0 of the estimate, of Python source within 0.89-1.0 for nearly
every file (large Unicode data tables reach 1.27), of prose within 0.92-1.04.

It needs no tokenizer download, is the same for every provider, is a pure function of the text
(deterministic across runs and machines), and close to additive: `token_weight` of lines
joined is the sum of theirs up to a piece that spans a line break. Speed: a few MB/s for new
text (the regular expression), so callers estimate a text once rather than in a loop over its
prefixes; text seen before (a request repeats its system prompt, the files read and the earlier
messages) is weighed segment by segment from a table, ten to twenty times faster.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from itertools import repeat

# The pre-tokenizer's pieces (cl100k's pattern, less its contraction rule, with Python's `re`
# classes): a word with one space or sign before it, 1-3 digits, a run of signs (with the line
# breaks right after it), line breaks with the blanks before them, blanks before blanks, blanks.
_PIECE = re.compile(
    r"(?:[^\r\n\w]|_)?[^\W\d_]+"
    r"|\d{1,3}"
    r"| ?(?:[^\s\w]|_)+[\r\n]*"
    r"|\s*[\r\n]"
    r"|\s+(?!\S)"
    r"|\s+"
)
_HUMP = re.compile(r"[a-z][A-Z]")
_ASCII_SIGNS = re.compile(r"[!-/:-@\[-`{-~]+")

# Fitted prices, in tokens (see the module docstring).
_WORD = 1.06
_WORD_EXTRA_LETTER = 0.074  # per character past six
_WORD_HUMP = 0.9  # per lower-to-upper case change in a long word (`MessageDefect`)
_LETTERS_PER_TOKEN_IN_A_BLOB = 8.0
_DIGITS = 1.31
_BLANKS = 0.94
_SIGNS = 0.99
_SIGNS_EXTRA = 0.04  # per sign past three in one run
_ASCII_IN_NON_ASCII_RUN = 1.0
# The margin that keeps the estimate above the real count for the text the budgets hold.
_MARGIN = 1.03


def _non_ascii(piece: str) -> float:
    # About a token per accented letter or typographic sign (`…`, `→`, `─`), a bit more per
    # CJK character, three per emoji.
    return sum(
        1.0 if ch < "\u0800" or "\u2000" <= ch < "\u2c00" else 1.3 if ch < "\U00010000" else 3.0
        for ch in piece
        if ch > "\x7f"
    )


def _piece_price(piece: str) -> float:
    """The price of one pre-tokenizer piece, before the margin."""
    last = piece[-1]
    if last.isalpha():
        if piece.isascii():
            n = len(piece)
            if n <= 6:
                return _WORD
            humps = len(_HUMP.findall(piece))
            price = _WORD + _WORD_EXTRA_LETTER * (n - 6) + _WORD_HUMP * humps
            # A long run of letters that is no word (base64, `xxxx…`) splits finely.
            return max(price, n / _LETTERS_PER_TOKEN_IN_A_BLOB) if n > 24 else price
        return _WORD + _non_ascii(piece)
    if last.isdigit():
        return _DIGITS
    if piece.isspace():
        return _BLANKS
    if piece.isascii():
        n = len(piece)
        return _SIGNS if n <= 3 else _SIGNS + _SIGNS_EXTRA * (n - 3)
    return _non_ascii(piece) + _ASCII_IN_NON_ASCII_RUN * len(_ASCII_SIGNS.findall(piece))


class _Memo(dict[str, float]):
    """`price` of each string seen, computed once; past `max_chars` of keys the table starts
    again (memory stays a few MB however much text goes through)."""

    def __init__(self, price: Callable[[str], float], max_chars: int) -> None:
        super().__init__()
        self._price = price
        self._max_chars = max_chars
        self._chars = 0

    def __missing__(self, key: str) -> float:
        self._chars += len(key) + 64  # the key, and about what an entry costs besides
        if self._chars > self._max_chars:
            self.clear()
            self._chars = len(key) + 64
        value = self[key] = self._price(key)
        return value


# Where no piece spans: after a line break followed by a non-blank (blanks between them
# included), the pieces of the text before and after are the pieces of the whole, so a text's
# weight is the sum of its segments'. Requests repeat their segments (the system prompt, files
# read, earlier messages) call after call: each is weighed once. (The split takes the line
# break away, a literal search several times faster than a look-behind; it is put back.)
_SEGMENT_BREAK = re.compile(r"\n(?=[^\S\r\n]*\S)")
# Source text repeats its pieces (` self`, `    `, `):`): each is priced once.
_PRICES = _Memo(_piece_price, 2_000_000)
_SEGMENTS = _Memo(lambda segment: sum(map(_PRICES.__getitem__, _PIECE.findall(segment))), 8_000_000)


def token_weight(text: str) -> float:
    """The unrounded estimate of `text` (sums of these over lines plan a budget)."""
    *whole, last = _SEGMENT_BREAK.split(text)
    weigh = _SEGMENTS.__getitem__
    total = sum(map(weigh, map(operator.add, whole, repeat("\n"))))
    return (total + weigh(last) if last else total) * _MARGIN


def estimate_tokens(text: str) -> int:
    """Estimated tokens of `text` (cl100k-like; see the module docstring), rounded; at least
    one for any non-empty text."""
    if not text:
        return 0
    return max(1, int(token_weight(text) + 0.5))
