"""Cost where people look: the board and the ticket detail show a scripted run's tokens and
cost (priced as the default models, and saying so), and the board marks a ticket QA hinted on."""

from __future__ import annotations

import re
from pathlib import Path

from slop_tui.config import DEFAULT_MODELS
from slop_tui.models import Tier
from slop_tui.ui.app import SlopApp
from slop_tui.ui.run_view import format_cost_fine, format_tokens
from slop_tui.ui.widgets.board import HINT_MARK, TicketBoard
from tests.ui.helpers import sample_events, screen_text
from tests.ui.scenario import app_on, make_repo
from tests.ui.test_pilot import SIZE, run_to_end, select


def board_row(app: SlopApp, key: str) -> str:
    board = app.board.query_one(TicketBoard)
    return "".join(cell.plain for cell in board._cells_for(key))


async def test_a_scripted_run_is_priced_on_the_board_and_in_the_detail(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        b = app.view.tickets["calc/b"]
        usage = b.ticket.usage
        # Nothing in [prices] names the scripted model: priced as the default models.
        assert usage.cost_usd is not None and usage.cost_usd > 0
        assert usage.input_tokens > 0 and usage.output_tokens > 0
        row = board_row(app, "calc/b")
        assert format_tokens(usage.total_tokens) in row and format_cost_fine(usage) in row
        assert "—" not in row
        assert "—" not in board_row(app, "track:calc")

        await select(pilot, app, "b")
        await pilot.press("enter")
        await pilot.pause()
        text = screen_text(app)
        split = re.search(r"usage\s+(\S+) in · (\S+) cached · (?:\S+ cache-written · )?(\S+) out · (\S+)", text)
        assert split is not None, text
        assert split.group(1) == format_tokens(usage.input_tokens)
        assert split.group(2) == format_tokens(usage.cache_read_tokens)
        assert split.group(3) == format_tokens(usage.output_tokens)
        assert split.group(4) == format_cost_fine(usage)
        assert f"worker as {DEFAULT_MODELS[Tier.WORKER.value]}" in text
        assert "priced as" in text


async def test_the_board_marks_a_ticket_qa_gave_a_hint() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.view.tickets["config/impl-config"].hints == 1
        assert HINT_MARK.strip() in board_row(app, "config/impl-config")
        for other in ("stub-config", "use-config", "test-config"):
            assert HINT_MARK.strip() not in board_row(app, f"config/{other}")
        assert f"impl-config {HINT_MARK}Implement load_settings" in screen_text(app)


def test_costs_under_a_cent_keep_a_third_decimal() -> None:
    from slop_tui.models import Usage

    assert format_cost_fine(Usage(cost_usd=0.0043)) == "$0.004"
    assert format_cost_fine(Usage(cost_usd=0.0004)) == "<$0.001"
    assert format_cost_fine(Usage(cost_usd=1.234)) == "$1.23"
    assert format_cost_fine(Usage()) == "—"
