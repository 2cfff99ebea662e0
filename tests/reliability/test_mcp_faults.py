"""MCP servers that misbehave: missing, crashing at start or mid-call, answering garbage or
10 MB, never answering. Each fault is one line (a start error naming the server, or a tool
error for the worker), never a traceback, never a hang. The cases run side by side, each with
its own hub, against tiny hostile servers built with the SDK's own server class."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from slop_tui.config.mcp import McpServerSpec
from slop_tui.errors import SlopError
from slop_tui.mcp import McpHub
from slop_tui.models import McpCallArgs
from tests.reliability.counts import tally

FIXTURE = Path(__file__).resolve().parents[1] / "tools" / "mcp_fixture_server.py"
COUNTS = tally("mcp faults", "cases", "tracebacks", "hangs")
CASE_DEADLINE_S = 60.0  # far above any case's own bound: reaching it is a hang
CAP_TOKENS = 400


def _spec(script: Path, name: str, mode: str, timeout_s: float = 60.0) -> McpServerSpec:
    return McpServerSpec(name=name, command=sys.executable, args=[str(script), mode], timeout_s=timeout_s)


async def _with_hub(spec: McpServerSpec, repo: Path, body: Callable[[McpHub], Awaitable[str]]) -> str:
    hub = McpHub({spec.name: spec}, repo, output_tokens_cap=CAP_TOKENS)
    try:
        return await body(hub)
    finally:
        await hub.close()


async def _start_error(hub: McpHub) -> str:
    try:
        await hub.start()
    except SlopError as exc:
        return str(exc)
    raise AssertionError("the server started")


def _call(name: str, arguments: dict[str, object] | None = None, times: int = 1) -> Callable[[McpHub], Awaitable[str]]:
    async def body(hub: McpHub) -> str:
        await hub.start()
        lines = []
        for _ in range(times):
            ok, text = await hub.call(McpCallArgs(server=hub.tools()[0].server, name=name, arguments=arguments or {}))
            lines.append(f"{ok}|{text}")
        return "\n".join(lines)

    return body


async def test_mcp_faults_are_one_line_never_a_traceback_or_a_hang(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    # The sandbox shows a server the repository and the toolchains only: the fixture lives here.
    script = repo / "fixture_server.py"
    script.write_text(FIXTURE.read_text())
    cases: dict[str, tuple[McpServerSpec, Callable[[McpHub], Awaitable[str]]]] = {
        "server missing": (McpServerSpec(name="gone", command="no-such-mcp-server-anywhere"), _start_error),
        "crash at start": (_spec(script, "crashy", "crash_at_start"), _start_error),
        "crash mid-call": (_spec(script, "boomer", "crash_mid_call"), _call("boom", times=2)),
        "malformed result": (_spec(script, "garbled", "malformed", timeout_s=20), _call("bad")),
        "junk on stdout": (_spec(script, "noisy", "ok", timeout_s=20), _call("junk")),
        "10 MB result": (_spec(script, "huge", "ok", timeout_s=40), _call("big")),
        "hanging call": (_spec(script, "stuck", "hang", timeout_s=1), _call("hang")),
    }

    async def run(name: str) -> tuple[str, str | BaseException]:
        spec, body = cases[name]
        try:
            return name, await asyncio.wait_for(_with_hub(spec, repo, body), CASE_DEADLINE_S)
        except asyncio.TimeoutError:
            COUNTS.add("hangs")
            return name, TimeoutError(name)
        except Exception as exc:  # anything escaping the hub is a traceback in front of a user
            COUNTS.add("tracebacks")
            return name, exc

    results = dict(await asyncio.gather(*(run(name) for name in cases)))
    COUNTS.add("cases", len(cases))
    said = capfd.readouterr()
    assert "Traceback" not in said.out + said.err
    for name, result in results.items():
        assert isinstance(result, str), f"{name}: {result!r}"

    def bounded(text: str) -> bool:
        ok, _, body = text.partition("|")
        return (
            ok == "True" and "characters omitted" in body and len(body) < CAP_TOKENS * 8
            and body.startswith("0123456789abcdef") and body.rstrip().endswith("abcdef")
        )

    checks: dict[str, Callable[[str], bool]] = {
        "server missing": lambda r: r.startswith("MCP server 'gone'") and "not found on PATH" in r and "\n" not in r,
        # The last lines of its stderr name the trouble.
        "crash at start": lambda r: r.startswith("MCP server 'crashy'")
        and "did not start" in r
        and "fixture: giving up" in r
        and "\n" not in r,
        # The call that killed it, with its last stderr line; and the next one, at once.
        "crash mid-call": lambda r: r.splitlines()[0].startswith("False|the server's connection closed")
        and "boom: the fixture server dies now" in r
        and r.splitlines()[1].startswith("False|the server's connection closed"),
        "malformed result": lambda r: r.startswith("False|malformed result from the server"),
        "junk on stdout": lambda r: r == "True|answered after junk",
        "10 MB result": bounded,
        "hanging call": lambda r: r.startswith("False|no answer within 1 s"),
    }
    for name, check in checks.items():
        COUNTS.add_of("handled as one line (or a bounded result)", check(results[name]))
        assert check(results[name]), f"{name}: {results[name][:500]!r}"
    assert COUNTS["tracebacks"] == 0 and COUNTS["hangs"] == 0
