"""Tiny MCP servers for the tests, built with the SDK's own server class (`MCPServer`).

Run as `python mcp_fixture_server.py MODE [PORT]`:

- `ok`: stdio; `echo(text)` (read-only), `shout(text)` (not annotated), `big()` (10 MB of text).
- `crash_at_start`: prints a line to stderr and exits before speaking MCP (or importing the SDK).
- `crash_mid_call`: stdio; `echo` works, `boom()` kills the process mid-call.
- `exit_after_first`: stdio; the second call of any tool exits the process first.
- `malformed`: stdio; `bad()` answers its own request with a result that is not a CallToolResult.
- `hang`: stdio; `hang()` never answers.
- any stdio mode: `junk()` writes a line that is not JSON-RPC on stdout, then answers.
- `http PORT`: streamable HTTP on 127.0.0.1:PORT, path /mcp, with `echo`; it refuses requests
  whose Authorization header is not `Bearer sekrit-token-123`.
"""

from __future__ import annotations

import json
import os
import sys
import time

if __name__ == "__main__" and sys.argv[1:2] == ["crash_at_start"]:
    # Dies before the SDK is even imported (~1 s of CPU a start), as a broken server would.
    sys.stderr.write("fixture: cannot open the database at /nonexistent\n")
    sys.stderr.write("fixture: giving up\n")
    sys.exit(2)

from mcp.server.mcpserver import Context, MCPServer  # noqa: E402 (after the crash above)
from mcp.types import ToolAnnotations  # noqa: E402

READ_ONLY = ToolAnnotations(read_only_hint=True)
# The SDK diverts fd 1 to stderr while it serves; a copy taken first still reaches the client.
WIRE = os.dup(1)


def build(mode: str) -> MCPServer:
    server = MCPServer(f"fixture-{mode}")
    calls = {"n": 0}

    @server.tool(annotations=READ_ONLY)
    def echo(text: str) -> str:
        """Say the text back."""
        calls["n"] += 1
        if mode == "exit_after_first" and calls["n"] > 1:
            os._exit(3)
        return f"echo: {text}"

    @server.tool()
    def shout(text: str) -> str:
        """Say the text back, louder."""
        return text.upper()

    @server.tool(annotations=READ_ONLY)
    def big() -> str:
        """Ten megabytes of text."""
        return ("0123456789abcdef" * 64 + "\n") * 10_000

    @server.tool()
    def boom() -> str:
        """Dies mid-call."""
        sys.stderr.write("boom: the fixture server dies now\n")
        sys.stderr.flush()
        os._exit(7)

    @server.tool()
    def hang() -> str:
        """Never answers."""
        time.sleep(3600)
        return "never"

    @server.tool(annotations=READ_ONLY)
    def junk() -> str:
        """Writes a line that is not JSON-RPC on stdout, then answers."""
        os.write(WIRE, b"this is not JSON-RPC\n")
        return "answered after junk"

    @server.tool()
    async def bad(ctx: Context) -> str:
        """Answers with a malformed result first."""
        rid = int(ctx.request_id) if str(ctx.request_id).isdigit() else ctx.request_id
        junk = {"jsonrpc": "2.0", "id": rid, "result": {"content": "not a list", "isError": "maybe"}}
        os.write(WIRE, (json.dumps(junk) + "\n").encode())
        time.sleep(3600)
        return "never"

    return server


def main() -> None:
    mode = sys.argv[1]
    server = build(mode)
    if mode == "http":
        import anyio

        from starlette.applications import Starlette
        from starlette.middleware.base import BaseHTTPMiddleware
        from starlette.responses import PlainTextResponse

        app = server.streamable_http_app()

        async def check(request, call_next):  # type: ignore[no-untyped-def]
            if request.headers.get("authorization") != "Bearer sekrit-token-123":
                return PlainTextResponse("unauthorised", status_code=401)
            return await call_next(request)

        assert isinstance(app, Starlette)
        app.add_middleware(BaseHTTPMiddleware, dispatch=check)
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
        anyio.run(uvicorn.Server(config).serve)
        return
    server.run("stdio")


if __name__ == "__main__":
    main()
