"""The MCP hub against real servers: `mcp-server-time` (PyPI) over stdio in the command sandbox,
and a streamable-HTTP server built with the SDK's own server class on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slop_tui.config import load_config
from slop_tui.config.mcp import McpServerSpec
from slop_tui.errors import SlopError
from slop_tui.mcp import McpHub, exposed_name
from slop_tui.mcp.names import TOOL_NAME_RULE
from slop_tui.models import McpCallArgs

FIXTURE = Path(__file__).with_name("mcp_fixture_server.py")
TOKEN = "sekrit-token-123"


def _time_server() -> McpServerSpec:
    return McpServerSpec(name="time", command=sys.executable, args=["-m", "mcp_server_time"])


async def test_time_server_over_stdio_lists_and_calls(tmp_path: Path) -> None:
    hub = McpHub({"time": _time_server()}, tmp_path)
    try:
        await hub.start()
        tools = {t.exposed: t for t in hub.tools()}
        assert "mcp__time__get_current_time" in tools
        tool = tools["mcp__time__get_current_time"]
        assert tool.read_only and tool.auto  # annotated readOnlyHint: no question by default
        assert "timezone" in tool.input_schema["properties"]
        args = hub.arguments_for("mcp__time__get_current_time", {"timezone": "UTC"})
        assert args == McpCallArgs(server="time", name="get_current_time", arguments={"timezone": "UTC"}, auto=True)
        hub.validate(args)
        ok, text = await hub.call(args)
        assert ok, text
        assert json.loads(text)["timezone"] == "UTC"
        # The server's own refusal is a result the worker reads, not an exception.
        ok, text = await hub.call(McpCallArgs(server="time", name="get_current_time", arguments={"timezone": "Mars/Base"}))
        assert not ok and "Mars/Base" in text
        with pytest.raises(SlopError, match="timezone"):
            hub.validate(McpCallArgs(server="time", name="get_current_time", arguments={"timezone": 5}))
        with pytest.raises(SlopError, match="required"):
            hub.validate(McpCallArgs(server="time", name="get_current_time", arguments={}))
    finally:
        await hub.close()


async def test_allow_list_and_approve_setting(tmp_path: Path) -> None:
    spec = McpServerSpec(
        name="time", command=sys.executable, args=["-m", "mcp_server_time"], tools=["convert_time", "nope"], approve="ask"
    )
    hub = McpHub({"time": spec}, tmp_path)
    try:
        await hub.start()
        assert [t.name for t in hub.tools()] == ["convert_time"]
        assert not hub.tools()[0].auto  # approve = "ask": even a read-only tool asks
        (_, _, _, note), = hub.servers()
        assert "nope" in note
        with pytest.raises(SlopError, match="offers no tool"):
            hub.validate(McpCallArgs(server="time", name="get_current_time", arguments={"timezone": "UTC"}))
    finally:
        await hub.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(FIXTURE), "http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


async def test_streamable_http_with_a_credentials_header(tmp_path: Path, http_server: str) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir(mode=0o700)
    (config_dir / "agents.toml").write_text(
        f'[mcp.servers.docs]\nurl = "{http_server}"\nheaders = {{ Authorization = "Bearer credentials:docs" }}\n'
    )
    credentials = config_dir / "credentials.toml"
    credentials.write_text(f'[docs]\napi_key = "{TOKEN}"\n')
    credentials.chmod(0o600)
    config = load_config(env={"SLOP_CONFIG_DIR": str(config_dir), "PATH": "/usr/bin"})
    assert not config.warnings  # [docs] is an MCP header's credential, not an unknown provider
    assert any(s.reveal() == f"Bearer {TOKEN}" for s in config.secrets(env={}))
    assert TOKEN not in repr(config.mcp["docs"])
    hub = McpHub(config.mcp, tmp_path, secrets=[s.reveal() for s in config.secrets(env={})])
    try:
        await hub.start()
        assert [t.exposed for t in hub.tools()][:2] == ["mcp__docs__echo", "mcp__docs__shout"]
        ok, text = await hub.call(McpCallArgs(server="docs", name="echo", arguments={"text": f"hi {TOKEN}"}))
        assert ok and text == "echo: hi ***"  # a credential in a result is masked
    finally:
        await hub.close()


async def test_http_server_refusing_the_header_is_a_clear_start_error(tmp_path: Path, http_server: str) -> None:
    hub = McpHub({"docs": McpServerSpec(name="docs", url=http_server, headers={"Authorization": "Bearer wrong"})}, tmp_path)
    with pytest.raises(SlopError, match=r"MCP server 'docs' \(http://127\.0\.0\.1:\d+/mcp\) did not start"):
        await hub.start()


def test_name_mapping_is_stable_and_fits_the_providers_rule() -> None:
    assert exposed_name("time", "get_current_time") == "mcp__time__get_current_time"
    odd = [("git", "git.status"), ("git", "git status"), ("docs", "x" * 80), ("docs", "ünïcode"), ("a", "git_status")]
    names = [exposed_name(s, t) for s, t in odd]
    assert all(TOOL_NAME_RULE.match(n) for n in names)
    assert len(set(names)) == len(names)
    assert names == [exposed_name(s, t) for s, t in odd]  # the same every run
    assert exposed_name("git", "git.status") != exposed_name("git", "git_status")


def test_importing_the_cli_and_the_tui_does_not_import_the_sdk() -> None:
    code = "import sys, slop_tui.cli, slop_tui.ui.app, slop_tui.conductor.session; print(any(m == 'mcp' or m.startswith('mcp.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
