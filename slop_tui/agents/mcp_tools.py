"""The run's MCP tools as a worker gets them: tool definitions, their cost, and the decoding of
a model's call of one (`mcp__<server>__<tool>`) into `McpCallArgs` for the clutch."""

from __future__ import annotations

from typing import Any

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import ContextFile, McpCallArgs, clip_message
from slop_tui.providers import ToolSpec
from slop_tui.tokens import estimate_tokens
from slop_tui.tools.executor import ToolExecutor


def mcp_tool_specs(executor: ToolExecutor) -> tuple[list[ToolSpec], list[ContextFile]]:
    """Every MCP tool of the run as a definition, and one context-report row per server with
    what its definitions cost in tokens (they are sent with every request of the ticket)."""
    hub = executor.mcp
    if hub is None:
        return [], []
    from slop_tui.mcp import model_tools

    specs: list[ToolSpec] = []
    rows: list[ContextFile] = []
    for server, _transport, tools, _note in hub.servers():
        cost = 0
        for name, description, parameters in model_tools(tools):
            spec = ToolSpec(name=name, description=description, parameters=parameters)
            cost += estimate_tokens(msgspec.json.encode(spec).decode("utf-8"))
            specs.append(spec)
        if tools:
            rows.append(
                ContextFile(
                    path=f"mcp: {server}",
                    role="tools",
                    view="raw",
                    tokens=cost,
                    note=f"{len(tools)} tool definitions",
                )
            )
    return specs, rows


def decode_mcp_call(executor: ToolExecutor, name: str, payload: str) -> McpCallArgs | None:
    """`McpCallArgs` for a call of an MCP tool of this run, None for any other name;
    `SlopError` for arguments that are not a JSON object."""
    hub = executor.mcp
    if hub is None or hub.find(name) is None:
        return None
    try:
        raw: Any = msgspec.json.decode(payload or "{}")
    except msgspec.DecodeError as exc:
        raise SlopError(f"invalid arguments for {name}: {clip_message(str(exc))}") from None
    if not isinstance(raw, dict):
        raise SlopError(f"invalid arguments for {name}: a JSON object is expected, not {type(raw).__name__}")
    return hub.arguments_for(name, raw)
