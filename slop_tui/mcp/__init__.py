"""MCP tool servers for the workers: configured in the user's `agents.toml` (`config.mcp`),
started for a run (`hub.McpHub`), their tools named `mcp__<server>__<tool>` (`names`), their
arguments checked against the server's schema (`schema`), their results bounded (`results`).

A layer beside `tools/`: it knows models, config, the sandbox and the shell runner's bounds;
the executor calls it for `McpCallArgs`, so every call passes the same clutch. The `mcp` SDK is
imported only by `hub` when a server starts.
"""

from slop_tui.mcp.hub import McpHub, McpStartError, McpTool, model_tools
from slop_tui.mcp.names import exposed_name, is_mcp_name

__all__ = ["McpHub", "McpStartError", "McpTool", "exposed_name", "is_mcp_name", "model_tools"]
