from __future__ import annotations

import random
from pathlib import Path

from slop_tui import tokens
from slop_tui.tokens import _MARGIN, _PIECE, _piece_price, estimate_tokens, token_weight


def test_empty_is_zero_and_any_text_at_least_one() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens(" ") == 1


def test_words_and_signs_are_priced_like_a_bpe_tokenizer() -> None:
    # cl100k_base: "The quick brown fox jumps over the lazy dog." is 10 tokens.
    assert 9 <= estimate_tokens("The quick brown fox jumps over the lazy dog.") <= 11
    # "  def print(self, *objects, sep=…, end=…)\n" is 16 tokens.
    assert 15 <= estimate_tokens("  def print(self, *objects, sep=…, end=…)\n") <= 18
    # A long camel-case name costs more than a short word; a long letter run costs many.
    assert estimate_tokens("InvalidMultipartContentTransferEncodingDefect") > estimate_tokens("Defect") + 4
    assert estimate_tokens("x" * 4000) >= 400


def test_counts_characters_not_bytes_and_prices_emoji_higher() -> None:
    assert estimate_tokens("éééé") <= 6
    assert estimate_tokens("🍏" * 8) >= 16


def test_close_to_cl100k_where_four_characters_a_token_is_not() -> None:
    # (text, its cl100k_base count): a map fragment and JSON, where chars / 4 gives 33 and 13.
    samples = [
        (
            "rich/console.py:\n  class Console:\n"
            "    def print(self, *objects, sep=…, end=…, style=…)\n"
            "    def log(self, *objects, sep=…, end=…)\n",
            44,
        ),
        ('{"name": "slop", "version": [1, 2, 3], "ok": true}\n', 24),
        ("    def get_adapter(self, url):\n        return self.adapters[url]\n", 14),
    ]
    for text, real in samples:
        assert real <= estimate_tokens(text) <= real * 1.15, text


def test_deterministic_and_close_to_additive() -> None:
    lines = [f"  def method_{i}(self, value=…)\n" for i in range(50)]
    whole = token_weight("".join(lines))
    assert abs(whole - sum(token_weight(line) for line in lines)) < 1e-6
    assert estimate_tokens("".join(lines)) == estimate_tokens("".join(lines))


def test_weighing_by_segments_gives_the_weight_of_the_pieces_of_the_whole() -> None:
    # The text is split where no pre-tokenizer piece spans and the segments' weights come from
    # a table: the sum must be what pricing the whole text's pieces one by one gives.
    def by_pieces(text: str) -> float:
        return sum(_piece_price(piece) for piece in _PIECE.findall(text)) * _MARGIN

    parts = ["\n", "\r", "\r\n", " ", "\t", "  \n", "(\n", "\x0b", "\x85", "\u2028", "a", "Bé",
             "1", "_", ".", "日", "🍏", " x", "foo", "\n\n", "    "]
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 30)))
        assert abs(token_weight(text) - by_pieces(text)) < 1e-9, repr(text)
        assert abs(token_weight(text) - by_pieces(text)) < 1e-9, repr(text)  # from the table
    source = Path(tokens.__file__).read_text(encoding="utf-8")
    assert abs(token_weight(source) - by_pieces(source)) < 1e-6
