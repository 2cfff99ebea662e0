from __future__ import annotations

from slop_tui.tokens import estimate_tokens


def test_four_characters_a_token_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("x" * 4000) == 1000


def test_counts_characters_not_bytes() -> None:
    assert estimate_tokens("éééé") == 1
    assert estimate_tokens("🍏" * 8) == 2
