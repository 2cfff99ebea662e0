"""The ticket detail's "request" tab (key 5): the exact parts of the latest request a ticket
sent, with their tokens, folded, sanitised and with every known key masked; kept in memory
only, never in `.slop/`."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgspec
from textual.pilot import Pilot
from textual.widgets import Static

from slop_tui.agents.worker import TOOLS
from slop_tui.models import ChatMessage, Tier, ToolCall
from slop_tui.providers.base import ModelRequest
from slop_tui.providers.request_log import RequestLog, SentRequest
from slop_tui.tokens import estimate_tokens
from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.ticket_detail import TicketDetailScreen
from slop_tui.ui.widgets import request_view
from slop_tui.ui.widgets.request_view import EMPTY, RequestView, fold
from tests.ui.helpers import SIZES, sample_events, screen_text, wait_for
from tests.ui.scenario import PLAN_TRACKS, _reply, _toml_str, app_on, make_repo
from tests.ui.test_pilot import drive, run_to_end, select

SIZE = (100, 30)
KEY = "sk-ant-api03-Zq7xW2vR9tLm4KpB8nYc"  # configured in credentials.toml by `secret_repo`
MARKER = "REQUEST_ONLY_MARKER_7781"  # in a file the worker is given, never read with a tool


def body_text(app: SlopApp) -> str:
    """The request tab's whole text (not only the rows on screen)."""
    static = app.screen.query_one("#request-body", Static)
    return str(static.render())


def expected_lines(sent: SentRequest) -> list[str]:
    """The headings the tab must show, computed here from the recorded request itself."""
    r = sent.request
    tools = [estimate_tokens(msgspec.json.encode(t).decode()) for t in r.tools]
    messages = [estimate_tokens(m.content) + sum(estimate_tokens(c.arguments) for c in m.tool_calls) for m in r.messages]
    total = estimate_tokens(r.system) + sum(tools) + sum(messages)
    step = 1 + sum(m.role == "assistant" for m in r.messages)
    lines = [f"worker · scripted (offline) · step {step} · {total:,} tokens",
             f"system · {estimate_tokens(r.system):,} tokens"]
    if r.tools:
        lines.append(f"tools · {len(r.tools)} tools · {sum(tools):,} tokens")
        lines.append("  " + " · ".join(f"{t.name} {n}" for t, n in zip(r.tools, tools)))
    names = {c.id: c.name for m in r.messages for c in m.tool_calls}
    for n, (m, tokens) in enumerate(zip(r.messages, messages), start=1):
        result = f" · result of {names[m.tool_call_id]}" if m.tool_call_id else ""
        lines.append(f"message {n} · {m.role}{result} · {tokens:,} tokens")
        for c in m.tool_calls:
            lines.append(f"  → {c.name} · {estimate_tokens(c.arguments):,} tokens")
    return lines


def headings(text: str) -> list[str]:
    """The tab's heading lines (each ends with its token count), in order."""
    return [line for line in text.splitlines() if line.endswith(" tokens") or line.endswith(" token")
            or line.startswith("  read_file ")]


async def open_request_tab(pilot: Pilot[Any], app: SlopApp, ticket: str) -> None:
    await select(pilot, app, ticket)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, TicketDetailScreen)
    await pilot.press("5")
    await pilot.pause()


async def test_the_request_tab_shows_each_part_of_the_latest_request_with_its_tokens(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        log = cast(Any, app.session).requests
        assert isinstance(log, RequestLog)
        [sent] = log.latest("b")
        assert sent.tier is Tier.WORKER and sent.call == 2
        # b's second step: its context, its edit_file call, the call's result.
        assert [m.role for m in sent.request.messages] == ["user", "assistant", "tool"]
        await open_request_tab(pilot, app, "b")
        text = body_text(app)
        assert headings(text) == expected_lines(sent)
        assert "5 request" in screen_text(app)
        # The long context is folded: its first lines, the count of the rest, its last lines.
        context = sent.request.messages[0].content.splitlines()
        assert len(context) > 10
        hidden = len(context) - request_view.HEAD_LINES - request_view.TAIL_LINES
        assert f"  … {hidden} more lines …" in text.splitlines()
        assert f"  {context[0]}" in text.splitlines() and f"  {context[-1]}" in text.splitlines()
        # The call's arguments are shown by name, its values as text.
        assert "    path: calc.py" in text.splitlines()


async def test_a_ticket_with_no_request_or_a_forgotten_one_says_so() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=sample_events())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "enter", "5")
        await pilot.pause()
        assert body_text(app) == EMPTY
        assert EMPTY in screen_text(app)
        # Sent, then pushed out of the log by more recent tickets: said so, not "no request".
        log = RequestLog(keep_tickets=1)
        sent = fixed_request("impl-config")
        log.record(Tier.WORKER, sent.model, sent.request, "impl-config")
        log.record(Tier.WORKER, sent.model, sent.request, "use-config")
        with_log(app, log)
        app.screen.query_one(RequestView).use(log)
        assert body_text(app) == "This ticket's requests are no longer kept: only those of the last 1 ticket that sent one are."


def fixed_request(ticket_id: str) -> SentRequest:
    """A worker's third step, hostile in places: an escape code, markup, a key, a long text."""
    system = "\n".join(
        ["You are the Tier 3 worker of slop.", "Work only on the ticket below."]
        + [f"Rule {n}: keep the change small and say why." for n in range(1, 19)]
        + ["Answer with tool calls."]
    )
    context = "\n".join(
        ["# Ticket impl-config: Implement load_settings", "", "## app/config.py (target, curated)"]
        + [f"SETTING_{n} = {n}  # [bold]not markup[/bold]" for n in range(30)]
        + [f'API_KEY = "{KEY}"', "\x1b[2Jcleared?"]
    )
    write = ToolCall(id="call-1", name="write_file",
                     arguments=json.dumps({"path": "app/config.py", "content": "DEBUG = False\n" * 14 + "def get() -> int:\n    return 1\n"}))
    messages = [
        ChatMessage(role="user", content=context),
        ChatMessage(role="assistant", content="I will write the settings module.", tool_calls=[write]),
        ChatMessage(role="tool", tool_call_id="call-1", content="wrote app/config.py (16 lines)"),
        ChatMessage(role="assistant", content="", tool_calls=[ToolCall(id="call-2", name="run_command",
                    arguments='{"command": "python -m pytest -q", "timeout_s": 60}')]),
        ChatMessage(role="tool", tool_call_id="call-2", content="exit 1\nE   NameError: Setings\n\nSystem hint: a typo: `Setings` should be `Settings`."),
    ]
    request = ModelRequest(system=system, messages=messages, tools=list(TOOLS))
    return SentRequest(ticket_id=ticket_id, tier=Tier.WORKER, model="deepseek:deepseek-chat", call=3, request=request)


def with_log(app: SlopApp, log: RequestLog) -> None:
    # A replayed run has no session: the tab reads `session.requests` only.
    app.session = cast(Any, SimpleNamespace(requests=log))


def fixed_log() -> RequestLog:
    log = RequestLog([KEY])
    sent = fixed_request("impl-config")
    log.record(sent.tier, sent.model, sent.request, sent.ticket_id)
    log.record(Tier.DEFAULT_CHEAP, "deepseek:deepseek-chat", ModelRequest(
        system="Turn a failed command into a one- or two-sentence fix.",
        messages=[ChatMessage(role="user", content="$ python -m pytest -q\nexit 1\nE   NameError: Setings")],
    ), "impl-config")
    return log


@SIZES
def test_request_tab(snap_compare: Any, size: tuple[int, int]) -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())

    async def setup(pilot: Pilot[Any]) -> None:
        with_log(app, fixed_log())

    assert snap_compare(app, run_before=setup, press=["down", "down", "enter", "5"], terminal_size=size)


async def test_the_fixed_request_is_masked_sanitised_folded_and_scrolls() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=sample_events())
    async with app.run_test(size=SIZE) as pilot:
        with_log(app, fixed_log())
        await pilot.press("down", "down", "enter", "5")
        await pilot.pause()
        text = body_text(app)
        assert KEY not in text and 'API_KEY = "***"' in text  # a last line of the context
        assert "\x1b" not in text and "\\x1b[2J" in text  # the escape shown, never obeyed
        assert "QA · deepseek:deepseek-chat · call 1 · " in text  # the QA call after the worker's
        assert "message 5 · tool · result of run_command" in text
        assert "[bold]not markup[/bold]" in text
        view = app.screen.query_one(RequestView)
        assert app.focused is view  # the open tab's body takes the keys, not the tab strip
        await pilot.press("pagedown")
        await pilot.pause()
        assert view.scroll_y > 0


async def test_the_tab_redraws_once_for_requests_that_come_together() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, replay=sample_events())
    log = RequestLog()
    async with app.run_test(size=SIZE) as pilot:
        with_log(app, log)
        await pilot.press("down", "down", "enter", "5")
        await pilot.pause()
        view = app.screen.query_one(RequestView)
        assert body_text(app) == EMPTY
        drawn: list[int] = []
        original = request_view.render_requests

        def counting(sent: list[SentRequest], mask: Any) -> Any:
            drawn.append(len(sent))
            return original(sent, mask)

        request_view.render_requests = counting  # type: ignore[assignment]
        try:
            base = fixed_request(view.ticket_id).request
            for step in range(1, 6):
                request = msgspec.structs.replace(base, messages=base.messages[: 2 * step - 1])
                log.record(Tier.WORKER, "deepseek:deepseek-chat", request, view.ticket_id)
            log.record(Tier.WORKER, "deepseek:deepseek-chat", base, "another-ticket")
            await wait_for(lambda: drawn, pilot=pilot)
            await pilot.pause(request_view.REFRESH_S * 2)
        finally:
            request_view.render_requests = original  # type: ignore[assignment]
        assert drawn == [1]  # five requests of this ticket, one drawing; the other ticket's none
        assert "step 3 · " in body_text(app)  # the latest: five messages, two assistant turns


def secret_repo(tmp: Path) -> tuple[Path, dict[str, str]]:
    """The scenario's repository with a key in credentials.toml, in ticket `a`'s description, in
    a file it is given (`settings.py`) and in one it reads (`notes.txt`)."""
    repo, env = make_repo(tmp)
    (repo / "settings.py").write_text(f'"""Settings: {MARKER}."""\n\nAPI_KEY = "{KEY}"\n')
    (repo / "notes.txt").write_text(f"the key is {KEY}\n")
    credentials = Path(env["SLOP_CONFIG_DIR"]) / "credentials.toml"
    credentials.write_text(f'[anthropic]\napi_key = "{KEY}"\n')
    credentials.chmod(0o600)
    # The description opens the worker's context: its key is on a line the fold keeps.
    tickets = {"tickets": [{"id": "a", "title": "Write add", "description": f"Add calc.add; call it with {KEY}.", "archetype": "implementer",
                            "depends_on": [], "target_files": ["calc.py", "settings.py"]}]}
    scenario = "\n".join([
        f"[[planner]]\ntext = {_toml_str(json.dumps(PLAN_TRACKS))}\n",
        f"[[lead]]\ntext = {_toml_str(json.dumps(tickets))}\n",
        _reply("a", "read_file", path="notes.txt", view="raw"),
        _reply("a", "write_file", path="calc.py", content="def add(a, b):\n    return a + b\n"),
        _reply("a", "finish", summary="add written"),
    ])
    (tmp / "scenario.toml").write_text(scenario)
    return repo, env


async def test_a_key_the_worker_was_given_never_shows_and_the_request_never_reaches_slop_dir(tmp_path: Path) -> None:
    repo, env = secret_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        log = cast(Any, app.session).requests
        [sent] = log.latest("a")
        raw = msgspec.json.encode(sent.request).decode()
        assert KEY in raw and MARKER in raw, "the attack never reached the request: this test would prove nothing"
        await open_request_tab(pilot, app, "a")
        text = body_text(app)
        assert "  Add calc.add; call it with ***." in text.splitlines()  # shown, its key masked
        assert KEY not in text and "the key is ***" in text
        for key in ("down", "end", "pagedown"):
            await pilot.press(key)
            assert KEY not in screen_text(app)
        await drive(pilot, app)
    # Nothing of the request was written: not the system text, not the file it was given.
    written = "\n".join(p.read_text(errors="replace") for p in (repo / ".slop").rglob("*") if p.is_file())
    assert written, "the run wrote nothing to .slop/: this test would prove nothing"
    assert MARKER not in written and KEY not in written
    assert sent.request.system.splitlines()[0] not in written
    assert sent.request.messages[0].content[:200] not in written


def test_fold_keeps_first_and_last_lines_and_cuts_long_lines() -> None:
    text = "\n".join(f"line {n}" for n in range(1, 21))
    assert fold(text).splitlines() == [*(f"line {n}" for n in range(1, 7)), "… 11 more lines …", "line 18", "line 19", "line 20"]
    assert fold("short\ntext") == "short\ntext"
    assert fold("x" * 310) == "x" * 300 + " … 10 more characters"


def test_the_log_keeps_the_latest_request_per_ticket_and_tier_and_masks_every_form_of_a_key() -> None:
    log = RequestLog([KEY])
    heard: list[str] = []
    stop = log.listen(heard.append)
    messages = [ChatMessage(role="user", content="first")]
    request = ModelRequest(system="s", messages=messages)
    log.record(Tier.PLANNER, "m", request, None)  # planning belongs to no ticket: not kept
    log.record(Tier.WORKER, "m", request, "a")
    messages.append(ChatMessage(role="user", content="appended after the call"))
    log.record(Tier.DEFAULT_CHEAP, "cheap", request, "a")
    log.record(Tier.WORKER, "m", request, "a")
    stop()
    log.record(Tier.WORKER, "m", request, "b")
    assert heard == ["a", "a", "a"] and log.version("a") == 3 and log.version("zz") == 0
    worker, qa = log.latest("a")
    assert (worker.tier, worker.call, len(worker.request.messages)) == (Tier.WORKER, 2, 2)
    assert (qa.tier, qa.call, qa.model) == (Tier.DEFAULT_CHEAP, 1, "cheap")
    first = RequestLog()
    first.record(Tier.WORKER, "m", ModelRequest(system="s", messages=messages[:1]), "a")
    messages.clear()
    assert len(first.latest("a")[0].request.messages) == 1  # the caller's list, copied
    assert log.mask(f"k={KEY} j={json.dumps(KEY + chr(10))} {KEY[:-1]}") == f"k=*** j=\"***\\n\" {KEY[:-1]}"


def test_only_the_most_recent_tickets_keep_their_requests() -> None:
    log = RequestLog(keep_tickets=2)
    request = ModelRequest(system="s", messages=[ChatMessage(role="user", content="hi")])
    for ticket in ("a", "b", "a", "c"):
        log.record(Tier.WORKER, "m", request, ticket)
    assert log.forgotten("b") and not log.latest("b")
    assert [bool(log.latest(t)) for t in ("a", "c")] == [True, True] and not log.forgotten("a")
    log.record(Tier.WORKER, "m", request, "b")
    assert not log.forgotten("b") and log.forgotten("a")

