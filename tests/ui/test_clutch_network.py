"""The clutch screen on a command: `network: off` (or `unsandboxed`) is shown above it, the
footer offers `w` "approve, allow network", and `w` answers `Approve(network=True)`."""

from __future__ import annotations


import msgspec
from textual.app import App
from textual.widgets import Footer, Static

from slop_tui.models import Approve, Decision, Proposal, RunCommandArgs
from slop_tui.ui.screens.clutch import ClutchScreen
from tests.ui.helpers import command_proposal, write_proposal


class Host(App[None]):
    """A bare app that pushes one clutch screen and keeps its answer."""

    def __init__(self, proposal: Proposal) -> None:
        super().__init__()
        self.proposal = proposal
        self.answers: list[Decision | None] = []

    def on_mount(self) -> None:
        self.push_screen(ClutchScreen(self.proposal), self.answers.append)


def _access(app: Host) -> str:
    return str(app.screen.query_one("#clutch-access", Static).render())


def _footer_keys(app: Host) -> str:
    footer = app.screen.query_one(Footer)
    return " ".join(str(child.render()) for child in footer.query("*"))


async def test_a_command_shows_network_off_and_w_approves_with_the_network() -> None:
    app = Host(command_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert _access(app) == "network: off"
        assert "allow network" in _footer_keys(app)
        await pilot.press("w")
        await pilot.pause()
    assert app.answers == [Approve(network=True)]


async def test_a_still_approves_without_the_network() -> None:
    app = Host(command_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a")
        await pilot.pause()
    assert app.answers == [Approve()] and not app.answers[0].network  # type: ignore[union-attr]


async def test_the_models_request_is_shown_and_unsandboxed_is_marked() -> None:
    base = command_proposal()
    asking = msgspec.structs.replace(
        base, arguments=RunCommandArgs(command="pip download x", network=True)
    )
    app = Host(asking)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "the model asks for network" in _access(app)
    app = Host(msgspec.structs.replace(base, sandboxed=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert _access(app).startswith("unsandboxed")


async def test_a_write_has_no_network_line_and_w_does_nothing() -> None:
    app = Host(write_proposal())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert not app.screen.query("#clutch-access")
        assert "allow network" not in _footer_keys(app)
        await pilot.press("w")
        await pilot.pause()
        assert app.answers == []
        await pilot.press("a")
        await pilot.pause()
    assert app.answers == [Approve()]


