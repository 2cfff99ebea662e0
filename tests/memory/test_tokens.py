from __future__ import annotations

from slop_tui.tokens import estimate_tokens, token_weight


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
