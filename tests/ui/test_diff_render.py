"""The highlighted diff (`ui/diff_render.py`) and the `DiffView` that draws it line by line."""

from __future__ import annotations

from typing import Any

import pytest
from pygments.token import Keyword
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.syntax import Syntax
from textual.app import App, ComposeResult

from slop_tui.models import Proposal, WriteFileArgs
from slop_tui.tools.hunks import split_hunks
from slop_tui.tools.proposals import unified_diff
from slop_tui.ui.diff_render import DARK, WRAP_MARK, DiffDocument, render_diff
from slop_tui.ui.widgets.diff_view import DiffView
from tests.ui.helpers import SIZES, screen_text


BEFORE = '''import os


def load(path):
    """Read the settings file."""
    return open(path).read()


def total(items):
    return sum(item.price for item in items)
'''
LONG = (
    "    # The settings are read here and nowhere else: a second reader would see a half-written file, "
    "so every caller goes through load() and this comment is long enough to wrap twice at eighty columns END"
)
AFTER = f'''import os


def load(path, encoding="utf-8"):
    """Read the settings file."""
{LONG}
    return open(path, encoding=encoding).read()


def total(items):
    return sum(item.cost for item in items)
'''


def console(width: int = 80) -> Console:
    return Console(width=width, force_terminal=True, color_system="truecolor", legacy_windows=False)


def lines_of(renderable: RenderableType, width: int = 80) -> list[list[Segment]]:
    c = console(width)
    return c.render_lines(renderable, c.options.update_width(width), pad=False)


def texts(renderable: RenderableType, width: int = 80) -> list[str]:
    return ["".join(s.text for s in line) for line in lines_of(renderable, width)]


def find_line(renderable: RenderableType, needle: str, width: int = 80) -> list[Segment]:
    for line in lines_of(renderable, width):
        if needle in "".join(s.text for s in line):
            return line
    raise AssertionError(f"no line holds {needle!r}")


def styled_text(line: list[Segment], bgcolor: str) -> str:
    """The characters of `line` drawn on `bgcolor`."""
    return "".join(s.text for s in line if s.style and s.style.bgcolor and s.style.bgcolor.name == bgcolor)


def diff() -> str:
    return unified_diff("app/settings.py", BEFORE, AFTER)


def test_code_tokens_carry_the_lexers_styles_on_the_tints() -> None:
    keyword = Syntax.get_theme("ansi_dark").get_style_for_token(Keyword)
    line = find_line(render_diff(diff(), path="app/settings.py"), 'def load(path, encoding')
    (segment,) = [s for s in line if s.text == "def"]
    assert segment.style is not None
    assert segment.style.color == keyword.color  # the lexer's keyword colour...
    assert segment.style.bgcolor is not None and segment.style.bgcolor.name == DARK.add  # ...on the + tint
    removed = find_line(render_diff(diff(), path="app/settings.py"), "-def load(path):")
    assert [s for s in removed if s.text == "def"][0].style.bgcolor.name == DARK.delete  # type: ignore[union-attr]


def test_an_unknown_extension_is_plain_text() -> None:
    line = find_line(render_diff(diff(), path="notes.unknownext"), 'def load(path, encoding')
    assert all(s.style is None or s.style.color is None for s in line if "def" in s.text)
    assert styled_text(line, DARK.add_emph) == ', encoding="utf-8"'  # tints and emphasis stay


def test_only_the_changed_word_is_emphasised() -> None:
    rendered = render_diff(diff(), path="app/settings.py")
    assert styled_text(find_line(rendered, "item.cost"), DARK.add_emph) == "cost"
    assert styled_text(find_line(rendered, "item.price"), DARK.delete_emph) == "price"
    # A line with nothing paired to it (the new comment) is tinted, not emphasised.
    assert styled_text(find_line(rendered, "The settings are read"), DARK.add_emph) == ""


def test_old_and_new_line_numbers_in_the_gutter() -> None:
    shown = texts(render_diff(diff(), path="app/settings.py"))
    assert shown[2].startswith("@@ -1,10 +1,11 @@")
    assert shown[3].startswith(" 1  1  import os")
    assert shown[6].startswith(" 4    -def load(path):")
    assert shown[7].startswith("    4 +def load(path, encoding")
    assert any(s.startswith("10    -    return sum(item.price") for s in shown)
    assert any(s.startswith("   11 +    return sum(item.cost") for s in shown)
    assert any(s.startswith(" 9 10  def total(items):") for s in shown)


@pytest.mark.parametrize("width", [80, 50, 120])
def test_long_lines_wrap_whole_and_continuations_are_marked(width: int) -> None:
    shown = texts(render_diff(diff(), path="app/settings.py"), width)
    assert all(cell_len(s) <= width for s in shown)
    start = next(i for i, s in enumerate(shown) if "# The settings are read" in s)
    gutter = len("    6 +")
    pieces = [shown[start][gutter:]]
    for s in shown[start + 1 :]:
        if not s.startswith(" " * (gutter - 1) + WRAP_MARK):
            break
        pieces.append(s[gutter:])
    assert len(pieces) >= 2
    assert "".join(pieces).rstrip() == LONG[1:].rstrip() or "".join(pieces).rstrip() == LONG.rstrip()
    assert not any(WRAP_MARK in s for s in shown[:start])  # only continuation rows carry the mark


def test_wide_characters_wrap_without_being_split_or_lost() -> None:
    line = "x = '" + "漢字" * 60 + "'"
    shown = texts(render_diff(unified_diff("a.py", "x = 1\n", line + "\n"), path="a.py"), 80)
    assert all(cell_len(s) <= 80 for s in shown)
    body = "".join(s[len("  1 +") :].rstrip() for s in shown if s.startswith(("  1 +", "    " + WRAP_MARK)))
    assert body == line


def test_escape_codes_and_bidi_controls_are_shown_visibly() -> None:
    evil = 'print("ok")\x1b[2K\x1b[1G# looks fine \u202e txt.exe\r\n'
    rendered = render_diff(unified_diff("a.py", "", evil), path="a.py")
    joined = "\n".join(texts(rendered, 200))
    assert "\\x1b[2K\\x1b[1G" in joined and "<U+202E>" in joined and "\\x0d" in joined
    assert not any(ch in joined for ch in "\x1b\u202e\r")


def two_hunks() -> str:
    before = "".join(f"line {i}\n" for i in range(1, 41))
    after = before.replace("line 3\n", "line three\n").replace("line 30\n", "line thirty\n")
    return unified_diff("notes.txt", before, after)


def test_hunks_are_split_hunks_and_show_their_selection() -> None:
    text = two_hunks()
    document = DiffDocument(text, path="notes.txt")
    assert document.hunk_count == len(split_hunks(text)) == 2
    assert [document.rows[i].text for i in document.hunk_rows] == [h.header for h in split_hunks(text)]

    rendered = render_diff(text, path="notes.txt", selected=[1], cursor=0)
    shown = texts(rendered)
    headers = [s for s in shown if "@@" in s]
    assert headers[0].startswith("▶ [ ] @@ -1,6 +1,6 @@")
    assert headers[1].startswith("  [x] @@ -27,7 +27,7 @@")
    left_out = find_line(rendered, "line three")
    chosen = find_line(rendered, "line thirty")
    assert all(s.style is not None and s.style.dim for s in left_out if s.text.strip())
    assert not any(s.style is not None and s.style.dim for s in chosen if "thirty" in s.text)
    assert not any("[x]" in s or "[ ]" in s for s in texts(render_diff(text, path="notes.txt")))


def proposal(content: str = AFTER, before: str = BEFORE, path: str = "app/settings.py") -> Proposal:
    return Proposal(
        id="p-1",
        ticket_id="t-1",
        tool="write_file",
        arguments=WriteFileArgs(path=path, content=content),
        diff=unified_diff(path, before, content),
    )


class DiffApp(App[None]):
    def __init__(self, shown: Proposal, selected: list[int] | None = None, cursor: int | None = None) -> None:
        super().__init__()
        self.shown, self.selected, self.cursor = shown, selected, cursor

    def compose(self) -> ComposeResult:
        yield DiffView(self.shown)

    def on_mount(self) -> None:
        if self.selected is not None:
            self.query_one(DiffView).set_hunk_selection(self.selected, self.cursor)


@SIZES
def test_snapshot_highlighted_python_diff_with_a_wrapped_line(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(DiffApp(proposal()), terminal_size=size)


def test_snapshot_hunk_selection(snap_compare: Any) -> None:
    text = two_hunks()
    args = WriteFileArgs(path="notes.txt", content="")
    shown = Proposal(id="p-2", ticket_id="t-1", tool="write_file", arguments=args, diff=text)
    assert snap_compare(DiffApp(shown, selected=[1], cursor=1), terminal_size=(80, 24))


async def test_a_long_diff_draws_lazily_to_its_last_line_and_the_cursor_scrolls_into_view() -> None:
    before = "".join(f"value_{i} = {i}\n" for i in range(1500))
    after = "".join(f"value_{i} = {i + 1 if i % 50 == 0 else i}\n" for i in range(1500))
    big = proposal(after, before, "app/values.py")
    hunks = split_hunks(big.diff)
    app = DiffApp(big)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(DiffView)
        await pilot.pause()
        assert view.hunk_count == len(hunks) == 30
        drawn = len(view._document._lines) if view._document else 0  # type: ignore[union-attr]
        assert 0 < drawn < 60  # only what is on screen was highlighted
        view.set_hunk_selection(range(len(hunks)), 20)
        await pilot.pause()
        assert f"▶ [x] {hunks[20].header}" in screen_text(app)
        view.scroll_end(animate=False)
        await pilot.pause()
        assert "+value_1450 = 1451" in screen_text(app)
        view.show(proposal())
        await pilot.pause()
        assert "[x]" not in screen_text(app) and "write_file app/settings.py" in screen_text(app)


def test_the_light_theme_uses_light_tints() -> None:
    from slop_tui.ui.diff_render import LIGHT

    line = find_line(render_diff(diff(), path="app/settings.py", dark=False), "item.cost")
    assert styled_text(line, LIGHT.add_emph) == "cost"
    assert styled_text(line, DARK.add) == ""


async def test_the_ticket_detail_highlights_only_the_rows_on_screen() -> None:
    from slop_tui.ui.run_view import ProposalRecord
    from slop_tui.ui.screens.ticket_detail import TicketDetailScreen
    from tests.ui.test_snapshots import replayed_app

    app = replayed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "down", "enter", "4")
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, TicketDetailScreen)
        before = "".join(f"value_{i} = {i}\n" for i in range(1500))
        after = "".join(f"value_{i} = {i + 1}\n" for i in range(1500))
        detail.view.proposals.append(ProposalRecord(proposal=proposal(after, before, "app/values.py")))
        detail.refresh_view()
        await pilot.pause()
        views = list(detail.query(DiffView))
        assert len(views) == 2 and "proposal 2 · waiting" not in screen_text(app)  # below the fold
        assert views[1]._document is not None and len(views[1]._document._lines) == 0
        detail.query_one("#diffs-scroll").scroll_end(animate=False)
        await pilot.pause()
        assert "+value_1499 = 1500" in screen_text(app)
        assert 0 < len(views[1]._document._lines) < 60
        detail.refresh_view()  # another event of the ticket: the same views, nothing redrawn from scratch
        await pilot.pause()
        assert list(detail.query(DiffView)) == views
