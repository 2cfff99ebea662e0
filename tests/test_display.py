"""The display sanitiser: every control, format and separator character shown, nothing obeyed."""

from __future__ import annotations

import unicodedata

import pytest
from rich.console import Console
from rich.text import Text

from slop_tui.display import display_text, escape_char, has_unsafe, is_unsafe_char, sanitize


def raw_controls(text: str) -> list[str]:
    """Characters a terminal could obey, found by category (not by the sanitiser's own list)."""
    return [
        ch
        for ch in text
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x00b\x07c\x08d\x7f", "a\\x00b\\x07c\\x08d\\x7f"),  # C0 and DEL
        ("carriage\rreturn", "carriage\\x0dreturn"),
        ("\x9b31mred", "\\x9b31mred"),  # C1: U+009B is a CSI on its own
        ("\x1b[2K\x1b[1G$ pytest", "\\x1b[2K\\x1b[1G$ pytest"),  # erase the line, column 1
        ("\x1b]52;c;cHduZWQ=\x07", "\\x1b]52;c;cHduZWQ=\\x07"),  # OSC 52: set the clipboard
        ("\x1b]0;PWNED\x1b\\", "\\x1b]0;PWNED\\x1b\\"),  # OSC 0: the window title, ST-terminated
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("evil\u202etxt.sh", "evil<U+202E>txt.sh"),  # right-to-left override
        ("one\u2028two\u2029three", "one<U+2028>two<U+2029>three"),
        ("zero\u200bwidth\u200d\ufeff", "zero<U+200B>width<U+200D><U+FEFF>"),
        ("tag\U000e0041\U000e007f", "tag<U+E0041><U+E007F>"),  # invisible tag characters
        ("soft\xadhyphen", "soft\\xadhyphen"),
        ("lone \udcff surrogate", "lone <U+DCFF> surrogate"),
    ],
)
def test_unsafe_characters_are_shown_as_escapes(text: str, shown: str) -> None:
    assert sanitize(text) == shown
    assert raw_controls(sanitize(text)) == []
    assert has_unsafe(text)
    assert sanitize(shown) == shown  # idempotent: an escape is plain ASCII


def test_newline_and_tab_are_kept_unless_one_line() -> None:
    text = "first\n\tsecond\n"
    assert sanitize(text) == text
    assert not has_unsafe(text)
    assert sanitize(text, one_line=True) == "first\\x0a\\x09second\\x0a"
    assert "\n" not in sanitize("a\nb\u2028c", one_line=True)


@pytest.mark.parametrize(
    "text",
    ["plain ascii [bold] $ pytest -q", "grüße 🍏 naïve café", "日本語のテキスト", "Ελληνικά — “quotes” …", "a\u00a0b"],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert sanitize(text) == text
    assert sanitize(text, one_line=True) == text
    assert not has_unsafe(text)


def test_every_code_point_is_either_kept_or_escaped_by_category() -> None:
    """Every character of the BMP and the tag block: the output holds no raw unsafe character,
    and a safe character (by category) comes out as itself."""
    points = [*range(0x0, 0x10000), *range(0xE0000, 0xE0080)]
    for point in points:
        ch = chr(point)
        out = sanitize(ch)
        unsafe = ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        assert raw_controls(out) == [], hex(point)
        assert (out != ch) == unsafe, hex(point)
        assert is_unsafe_char(ch) == (unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"))
        if unsafe:
            assert out == escape_char(ch)


def test_display_text_is_never_markup() -> None:
    hostile = "[@click=app.quit]x[/] [link=https://e.vil]y[/link] [bold red]z\x1b[2J"
    text = display_text(hostile, "bold")
    assert isinstance(text, Text) and text.spans == []
    assert text.plain == sanitize(hostile)
    console = Console(file=None, force_terminal=False, width=200, record=True)
    with console.capture() as captured:
        console.print(text)
    assert captured.get().rstrip("\n") == sanitize(hostile)
