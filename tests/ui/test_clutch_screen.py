"""The clutch screen, through the pilot: why the call was made, hunk by hunk approval, the
person's editor, Escape out of the JSON editor, copy, always allow, and which keys it offers."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.app import App
from textual.widgets import Footer, Input, Static, TextArea

from slop_tui.models import (
    Approve,
    ApproveHunks,
    Decision,
    Edit,
    EditFileArgs,
    Proposal,
    ProposalContext,
    RunCommandArgs,
    WriteFileArgs,
)
from slop_tui.tools.proposals import unified_diff
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.widgets.diff_view import DiffView
from tests.ui.helpers import AFTER, command_proposal, hostile_command_proposal, screen_text, write_proposal

LINES = [f"line {n}\n" for n in range(40)]
BEFORE_MANY = "".join(LINES)
AFTER_MANY = "".join(
    {2: "line two\n", 20: "line twenty\n", 37: "line thirty-seven\n"}.get(n, line) for n, line in enumerate(LINES)
)


def many_hunks() -> Proposal:
    """A write of three hunks (lines 2, 20 and 37 changed)."""
    return Proposal(
        id="p-many-1",
        ticket_id="impl-config",
        tool="write_file",
        arguments=WriteFileArgs(path="app/lines.py", content=AFTER_MANY),
        diff=unified_diff("app/lines.py", BEFORE_MANY, AFTER_MANY),
    )


class Host(App[None]):
    """A bare app that pushes one clutch screen and keeps its answer."""

    def __init__(self, proposal: Proposal, repo_root: Path | None = None) -> None:
        super().__init__()
        self.proposal = proposal
        self.repo_root = repo_root
        self.answers: list[Decision | None] = []

    def on_mount(self) -> None:
        self.push_screen(ClutchScreen(self.proposal, repo_root=self.repo_root), self.answers.append)


def footer(app: App[Any]) -> str:
    return " ".join(str(child.render()) for child in app.screen.query_one(Footer).query("*"))


def notices(app: App[Any]) -> str:
    return "\n".join(n.message for n in app._notifications)


def clutch(app: App[Any]) -> ClutchScreen:
    assert isinstance(app.screen, ClutchScreen)
    return app.screen


# -- why -------------------------------------------------------------------------------------------


async def test_the_why_shows_the_workers_reason_sanitised_and_wrapped_with_where_it_stands() -> None:
    reason = "I add the Settings dataclass so load_settings has one typed home \x1b[2K; " + "word " * 40 + "END."
    context = ProposalContext(reason=reason, ticket_title="Implement load_settings", number=3, model="openai:gpt-4.1", tokens=12345)
    app = Host(msgspec.structs.replace(write_proposal(), context=context))
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "proposal 3" in text and "openai:gpt-4.1" in text and "12.3k tokens" in text
        assert "Implement load_settings" in text
        assert "\\x1b[2K" in text  # shown, never sent to the terminal
        assert "\x1b" not in str(clutch(app).query_one("#clutch-reason", Static).render())
        # Wrapped, not cut: the reason spans several rows and its end is there to read.
        why = clutch(app).query_one("#clutch-why")
        assert why.virtual_size.height >= 3
        assert why.max_scroll_y > 0 or "END." in text


async def test_no_context_no_why_panel() -> None:
    app = Host(write_proposal())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not clutch(app).query("#clutch-why")


# -- escape out of the JSON editor ----------------------------------------------------------------


async def test_escape_leaves_the_json_editor_discarding_and_an_unchanged_save_is_no_edit() -> None:
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        screen = clutch(app)
        assert screen.mode == "edit" and "discard" in footer(app)
        original = screen.query_one("#edit-json", TextArea).text
        await pilot.press("x", "y", "z")  # typed into the payload
        assert screen.query_one("#edit-json", TextArea).text != original
        await pilot.press("escape")
        await pilot.pause()
        assert screen.mode == "view" and app.screen is screen and app.answers == []
        assert not screen.query("#edit-json")  # what was typed is gone
        await pilot.press("e")
        await pilot.pause()
        assert screen.query_one("#edit-json", TextArea).text == original
        await pilot.press("ctrl+s")  # unchanged: back to the view, no edit
        await pilot.pause()
        assert screen.mode == "view" and app.answers == []
        assert "Unchanged" in notices(app)
        await pilot.press("a")
        await pilot.pause()
    assert app.answers == [Approve()]


async def test_a_changed_json_payload_saved_is_an_edit() -> None:
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        clutch(app).query_one("#edit-json", TextArea).text = '{"path": "app/config.py", "content": "x = 1\\n"}\n'
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.answers == [Edit(arguments=WriteFileArgs(path="app/config.py", content="x = 1\n"))]


# -- copy ------------------------------------------------------------------------------------------


async def test_y_copies_the_command_and_the_diff() -> None:
    app = Host(command_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == "python -m pytest -q tests/test_config.py"
    proposal = write_proposal()
    app = Host(proposal)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == proposal.diff and "+class Settings:" in app.clipboard
        assert app.answers == []  # copying decides nothing


# -- always allow ----------------------------------------------------------------------------------


async def test_always_allow_a_prefix_the_person_confirms() -> None:
    app = Host(command_proposal())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert "A always" in footer(app)
        await pilot.press("A")
        await pilot.pause()
        field = clutch(app).query_one("#ask-input", Input)
        assert field.has_focus and field.value == "python -m pytest -q tests/test_config.py"
        field.value = "python -m pyt"  # not at a word boundary: refused inline
        await pilot.press("enter")
        await pilot.pause()
        assert app.answers == []
        assert "word boundary" in str(clutch(app).query_one("#ask-error", Static).render())
        field.value = "python -m pytest"
        await pilot.press("enter")
        await pilot.pause()
    assert app.answers == [Approve(always="python -m pytest")]


async def test_always_allow_the_exact_command_and_escape_goes_back() -> None:
    app = Host(command_proposal())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("A")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert clutch(app).mode == "view" and app.answers == []
        await pilot.press("A", "enter")
        await pilot.pause()
    assert app.answers == [Approve(always="python -m pytest -q tests/test_config.py")]


@pytest.mark.parametrize("change", ["asks network", "network on", "unsandboxed", "hostile", "a write"])
async def test_always_allow_is_not_offered(change: str) -> None:
    base = command_proposal()
    proposal = {
        "asks network": msgspec.structs.replace(base, arguments=RunCommandArgs(command="pip download x", network=True)),
        "network on": msgspec.structs.replace(base, network=True),
        "unsandboxed": msgspec.structs.replace(base, sandboxed=False),
        "hostile": hostile_command_proposal(),
        "a write": write_proposal(),
    }[change]
    app = Host(proposal)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert "A always" not in footer(app)
        await pilot.press("A")
        await pilot.pause()
        assert clutch(app).mode == "view" and app.answers == []


# -- hunks -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def recorded_selection() -> Iterator[list[tuple[list[int] | None, int | None]]]:
    """Every `DiffView.set_hunk_selection` call, passed on to the real one."""
    calls: list[tuple[list[int] | None, int | None]] = []
    real = DiffView.set_hunk_selection

    def spy(self: DiffView, selected: Any, cursor: int | None) -> None:
        calls.append((None if selected is None else sorted(selected), cursor))
        real(self, selected, cursor)

    DiffView.set_hunk_selection = spy  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        DiffView.set_hunk_selection = real  # type: ignore[method-assign]


async def test_hunks_are_chosen_with_space_and_the_rest_needs_a_reason() -> None:
    app = Host(many_hunks())
    with recorded_selection() as calls:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert clutch(app).hunk_count == 3
            assert calls[-1] == ([0, 1, 2], 0)
            assert "space ↓↑ hunks" in footer(app) and "approve" in footer(app)
            await pilot.press("down", "j", "k")  # cursor: 1, 2, back to 1
            assert calls[-1] == ([0, 1, 2], 1)
            await pilot.press("space")
            await pilot.pause()
            assert calls[-1] == ([0, 2], 1)
            assert "apply chosen" in footer(app)
            await pilot.press("a")
            await pilot.pause()
            assert clutch(app).mode == "hunks" and "hunk 2" in screen_text(app)
            await pilot.press("enter")  # a reason is required
            await pilot.pause()
            assert app.answers == []
            await pilot.press(*"only the imports")
            await pilot.press("enter")
            await pilot.pause()
    assert app.answers == [ApproveHunks(hunks=[0, 2], reason="only the imports")]


async def test_all_hunks_chosen_is_a_plain_approve_and_none_is_refused() -> None:
    app = Host(many_hunks())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("space", "space", "a")  # off and on again: all chosen
        await pilot.pause()
    assert app.answers == [Approve()]
    app = Host(many_hunks())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("space", "down", "space", "down", "space", "up", "up", "up", "a")
        await pilot.pause()
        assert clutch(app).chosen == set() and app.answers == []
        assert "No hunk is chosen" in notices(app)


async def test_one_hunk_has_no_hunk_keys() -> None:
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "hunks" not in footer(app)
        await pilot.press("space", "a")
        await pilot.pause()
    assert app.answers == [Approve()]


# -- the person's editor ---------------------------------------------------------------------------


def editor_script(tmp_path: Path, body: str) -> str:
    """An `$EDITOR` that is a real program: it rewrites the file it is given with `body`."""
    script = tmp_path / "editor.py"
    script.write_text(f"import sys, pathlib\npathlib.Path(sys.argv[1]).write_text({body!r})\n")
    return f"{sys.executable} {script}"


@contextlib.contextmanager
def no_suspend(app: App[Any]) -> Iterator[None]:
    """The pilot's headless driver cannot hand the terminal over; the editor still runs."""

    @contextlib.contextmanager
    def suspend() -> Iterator[None]:
        yield

    app.suspend = suspend  # type: ignore[method-assign]
    yield


async def test_E_edits_the_proposed_text_in_the_editor_and_returns_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, AFTER + "# reviewed\n"))
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        with no_suspend(app):
            await pilot.pause()
            assert "E editor" in footer(app)
            await pilot.press("E")
            await pilot.pause()
    assert app.answers == [Edit(arguments=WriteFileArgs(path="app/config.py", content=AFTER + "# reviewed\n"))]


async def test_E_on_an_edit_file_opens_the_whole_file_as_the_edit_leaves_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "config.py").write_text("import os\n\nDEBUG = False\nCURRENCY = 'EUR'\n")
    seen = tmp_path / "seen.txt"
    script = tmp_path / "editor.py"
    # The editor keeps what it was given (the whole proposed file), then changes another line.
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\ntext = p.read_text()\n"
        f"pathlib.Path({str(seen)!r}).write_text(text)\n"
        "p.write_text(text.replace(\"'EUR'\", \"'USD'\"))\n"
    )
    monkeypatch.setenv("VISUAL", f"{sys.executable} {script}")
    args = EditFileArgs(path="app/config.py", old="DEBUG = False\n", new="DEBUG = True\n")
    proposal = Proposal(id="p-e", ticket_id="impl-config", tool="edit_file", arguments=args, diff="--- a\n+++ b\n@@ -3 +3 @@\n-DEBUG = False\n+DEBUG = True\n")
    app = Host(proposal, repo_root=repo)
    async with app.run_test(size=(100, 30)) as pilot:
        with no_suspend(app):
            await pilot.press("E")
            await pilot.pause()
    assert seen.read_text() == "import os\n\nDEBUG = True\nCURRENCY = 'EUR'\n"
    [decision] = app.answers
    assert isinstance(decision, Edit) and isinstance(decision.arguments, EditFileArgs)
    edited = decision.arguments
    before = (repo / "app" / "config.py").read_text()
    assert before.count(edited.old) == 1
    assert before.replace(edited.old, edited.new) == "import os\n\nDEBUG = True\nCURRENCY = 'USD'\n"


async def test_E_on_an_edit_file_without_the_file_edits_its_new_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, "DEBUG = True\n"))
    args = EditFileArgs(path="app/config.py", old="DEBUG = False\n", new="DEBUG = None\n")
    proposal = Proposal(id="p-e", ticket_id="impl-config", tool="edit_file", arguments=args, diff="--- a\n+++ b\n@@ -1 +1 @@\n-DEBUG = False\n+DEBUG = None\n")
    app = Host(proposal)
    async with app.run_test(size=(100, 30)) as pilot:
        with no_suspend(app):
            await pilot.press("E")
            await pilot.pause()
    assert app.answers == [Edit(arguments=msgspec.structs.replace(args, new="DEBUG = True\n"))]


async def test_E_unchanged_is_no_edit_and_no_editor_is_a_clear_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, AFTER))
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        with no_suspend(app):
            await pilot.press("E")
            await pilot.pause()
            assert app.answers == [] and "Unchanged" in notices(app)
    monkeypatch.delenv("EDITOR")
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("E")
        await pilot.pause()
        assert app.answers == [] and "set $VISUAL or $EDITOR" in notices(app)


# -- what shows beside it -----------------------------------------------------------------------------


class Underneath(Host):
    """The host with a screen full of text beneath the clutch."""

    def compose(self) -> Any:
        yield Static("\n".join(["UNDERNEATH " * 30] * 40))


@pytest.mark.parametrize(("width", "beside"), [(120, False), (160, True)])
async def test_the_board_shows_dimmed_beside_the_clutch_only_where_there_is_room(width: int, beside: bool) -> None:
    # At most 120 columns the box covers the screen: its background is opaque, so Textual does
    # not render and dim the screen beneath on every frame for nothing (bench_tui --clutch).
    app = Underneath(write_proposal())
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        assert clutch(app).has_class("-wide") is beside
        assert ("UNDERNEATH" in app.export_screenshot()) is beside
        await pilot.resize_terminal(280 - width, 30)  # 120 <-> 160
        await pilot.pause()
        assert clutch(app).has_class("-wide") is not beside
        assert ("UNDERNEATH" in app.export_screenshot()) is not beside


# -- keys that apply ---------------------------------------------------------------------------------


async def test_the_footer_offers_only_what_applies() -> None:
    app = Host(command_proposal())
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        keys = footer(app)
        assert all(word in keys for word in ("a approve", "w allow network", "A always", "r reject", "e JSON", "y copy", "esc later"))
        assert "editor" not in keys and "hunks" not in keys and "discard" not in keys
        await pilot.press("r")
        await pilot.pause()
        keys = footer(app)
        assert "back" in keys and "approve" not in keys and "copy" not in keys


async def test_the_footer_is_rebuilt_only_when_its_keys_change() -> None:
    # Every focus move and `refresh_bindings()` signals the footer; rebuilding it each time
    # restyled and repainted a dozen widgets for nothing (CPU, and bytes over SSH).
    app = Host(command_proposal())
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        keys = list(app.screen.query_one(Footer).children)
        app.screen.refresh_bindings()
        focused = app.screen.focused
        app.screen.set_focus(None)
        app.screen.set_focus(focused)
        await pilot.pause()
        assert list(app.screen.query_one(Footer).children) == keys  # the same widgets
        await pilot.press("r")  # the reason box: other keys
        await pilot.pause()
        assert list(app.screen.query_one(Footer).children) != keys and "back" in footer(app)
