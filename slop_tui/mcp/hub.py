"""The run's MCP servers: started at the run's start, listed, called, shut down at its end.

Built on the official `mcp` SDK (its `Client` over `stdio_client` or `streamable_http_client`),
imported only when a run has servers: the TUI's first frame and the CLI never pay for it.

Each server's connection lives in a task of its own, which enters the SDK's context managers
and leaves them when the hub closes: the SDK's task groups must be left by the task that
entered them, and calls from the workers' tasks go through the open client meanwhile. A stdio
server runs inside the command sandbox (`sandbox.bwrap_argv`) with the network its config
says and an environment of the allow-listed variables plus its own `env`; its stderr goes to a
private file whose last lines name the trouble when it does not start.

A call never raises for what the server does: an error, a crash, a malformed result or a
timeout is `(False, one line)` for the worker, and the hub keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import msgspec

from slop_tui.config.mcp import McpServerSpec
from slop_tui.errors import SlopError
from slop_tui.mcp.names import exposed_name
from slop_tui.mcp.results import result_text
from slop_tui.mcp.schema import check_arguments, model_schema
from slop_tui.models import McpCallArgs, clip_message

MAX_ARGUMENT_BYTES = 1_000_000  # what a call may send a server: a model's runaway payload stops here
MAX_TOOLS = 500  # per server: a listing past this is cut (and said so)
DESCRIPTION_CHARS = 1000
STDERR_LINES = 5
CLOSE_TIMEOUT_S = 10.0  # the SDK bounds its own shutdown (stdin close, TERM, KILL) below this


class McpTool(msgspec.Struct, kw_only=True, frozen=True):
    """One tool of one server, as the worker is given it."""

    server: str
    name: str  # the server's own name
    exposed: str  # `mcp__<server>__<tool>`, fitting the providers' rule
    description: str
    input_schema: dict[str, Any]
    read_only: bool  # the server's `readOnlyHint`
    auto: bool  # approved without asking under the default policy (readOnlyHint and `approve`)


class McpStartError(SlopError):
    """A server did not start; the message names it and ends with its last stderr lines."""


def _describe(exc: BaseException) -> str:
    """One line for an exception the SDK raised, unwrapping task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if not text:
        return name
    if name == "ValidationError":
        return f"malformed result from the server ({clip_message(text, 200)})"
    return clip_message(f"{name}: {text}" if name not in ("MCPError", "McpError") else text, 300)


def _quiet_sdk_logging() -> None:
    """The SDK logs a server's junk output with `logger.exception`; with no handler configured,
    Python would print those tracebacks on stderr, in front of the person. What matters of
    them reaches the worker as a tool error instead."""
    sdk = logging.getLogger("mcp")
    if not sdk.handlers:
        sdk.addHandler(logging.NullHandler())
        sdk.propagate = False


class _Connection:
    """One server: its owner task, its open client, its tools, its stderr."""

    def __init__(self, spec: McpServerSpec, hub: McpHub) -> None:
        self.spec = spec
        self.hub = hub
        self.client: Any = None
        self.tools: list[McpTool] = []
        self.failure: str | None = None
        self.note = ""  # e.g. "not offered by the server: x", "unsandboxed: ..."
        self.stderr: IO[str] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- starting ----------------------------------------------------------------------

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        spec = self.spec
        if spec.url is not None:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            headers = dict(spec.headers)
            headers.update({k: v.reveal() for k, v in spec.secret_headers.items()})
            http = create_mcp_http_client(headers=headers)
            stack.push_async_callback(http.aclose)  # a client passed in is the caller's to close
            return streamable_http_client(spec.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        argv, env = self.hub.stdio_argv(spec)
        self.stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        params = StdioServerParameters(
            command=argv[0], args=argv[1:], env=env, cwd=str(self.hub.repo_root), encoding_error_handler="replace"
        )
        return stdio_client(params, errlog=self.stderr)

    async def _own(self) -> None:
        """Open the client, list the tools, then hold the connection until the hub closes."""
        try:
            _quiet_sdk_logging()
            from mcp import Client

            async with contextlib.AsyncExitStack() as stack, Client(
                self._transport(stack), cache=None, mode="legacy"
            ) as client:
                self.client = client
                self.tools = await self._list(client)
                self._ready.set()
                await self._stop.wait()
        except SlopError as exc:
            self.failure = str(exc)
        except asyncio.CancelledError:
            if not self._ready.is_set():
                self.failure = "cancelled while starting"
            raise
        except BaseException as exc:  # whatever the SDK raises: a clear line, never a traceback
            if not self._ready.is_set():
                self.failure = _describe(exc)
        finally:
            self.client = None
            self._ready.set()

    async def _list(self, client: Any) -> list[McpTool]:
        spec = self.spec
        listed: list[Any] = []
        cursor: str | None = None
        while len(listed) < MAX_TOOLS:
            page = await client.list_tools(cursor=cursor)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        allowed = set(spec.tools) if spec.tools is not None else None
        tools: list[McpTool] = []
        for tool in listed[:MAX_TOOLS]:
            if allowed is not None and tool.name not in allowed:
                continue
            annotations = tool.annotations
            read_only = bool(annotations is not None and annotations.read_only_hint)
            auto = spec.approve == "always" or (spec.approve == "reads" and read_only)
            description = " ".join((tool.description or tool.title or "").split())
            tools.append(
                McpTool(
                    server=spec.name,
                    name=tool.name,
                    exposed=exposed_name(spec.name, tool.name),
                    description=clip_message(description, DESCRIPTION_CHARS),
                    input_schema=dict(tool.input_schema or {}),
                    read_only=read_only,
                    auto=auto,
                )
            )
        if allowed is not None:
            missing = sorted(allowed - {t.name for t in tools})
            if missing:
                self.note = f"not offered by the server: {', '.join(missing)}"
        return tools

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._own())
        try:
            # Not `asyncio.wait_for`: on Python 3.11 it drops a cancel that lands as the wait ends.
            async with asyncio.timeout(self.spec.start_timeout_s):
                await asyncio.shield(self._ready.wait())
        except TimeoutError:
            self.failure = f"no answer within {self.spec.start_timeout_s:g} s"
        if self.client is None or self.failure is not None:
            failure = self.failure or "it stopped while starting"
            await self.close(keep_stderr=True)
            message = self._start_message(failure)
            self._close_stderr()
            raise McpStartError(message)

    def _start_message(self, failure: str) -> str:
        where = self.spec.url if self.spec.url is not None else self.spec.command
        message = f"MCP server {self.spec.name!r} ({where}) did not start: {failure}"
        tail = self.stderr_tail()
        if tail:
            message += f"; its stderr ends: {' | '.join(tail)}"
        return self.hub.mask(message)

    def stderr_tail(self) -> list[str]:
        if self.stderr is None:
            return []
        try:
            self.stderr.flush()
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 8192))
            lines = [line.strip() for line in self.stderr.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            return []
        return [clip_message(line, 200) for line in lines[-STDERR_LINES:]]

    # -- calling -----------------------------------------------------------------------

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        client = self.client
        if client is None:
            return False, f"MCP server {self.spec.name!r} is not running"
        try:
            async with asyncio.timeout(self.spec.timeout_s):  # not wait_for: see `start`
                result = await client.call_tool(name, arguments)
        except TimeoutError:
            return False, f"no answer within {self.spec.timeout_s:g} s ([mcp.servers.{self.spec.name}] timeout_s)"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            line = _describe(exc)
            if "Connection closed" in line:
                line = "the server's connection closed (it exited or crashed)"
                tail = self.stderr_tail()
                if tail:
                    line += f"; its stderr ends: {tail[-1]}"
            return False, line
        return result_text(result, self.hub.output_tokens_cap)

    # -- stopping ----------------------------------------------------------------------

    async def close(self, *, keep_stderr: bool = False) -> None:
        self._stop.set()
        task = self._task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
            if not done:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, 2.0)
        if not keep_stderr:
            self._close_stderr()

    def _close_stderr(self) -> None:
        if self.stderr is not None:
            with contextlib.suppress(OSError):
                self.stderr.close()
            self.stderr = None


class McpHub:
    """The servers of one run. `start` before the first ticket, `close` at the end (and on
    Ctrl+C): the tool list is fixed in between."""

    def __init__(
        self,
        servers: Mapping[str, McpServerSpec],
        repo_root: Path,
        *,
        scrub_env: Iterable[str] = (),
        secrets: Iterable[str] = (),
        output_tokens_cap: int = 400,
        sandboxed: bool | None = None,
        hidden: Iterable[Path] = (),
    ) -> None:
        self.specs = dict(servers)
        self.repo_root = Path(repo_root).resolve()
        self.scrub_env = tuple(scrub_env)
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)
        self.output_tokens_cap = output_tokens_cap
        self._sandboxed = sandboxed  # None: whatever `sandbox.detect()` finds
        self.hidden = list(hidden)
        self._connections: dict[str, _Connection] = {}
        self._by_exposed: dict[str, McpTool] = {}
        self.started = False

    def mask(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    # -- the sandbox -------------------------------------------------------------------

    def stdio_argv(self, spec: McpServerSpec) -> tuple[list[str], dict[str, str]]:
        """The argument list and environment that run `spec`'s command (in the sandbox when
        there is one); `SlopError` when the command cannot be found."""
        from slop_tui import sandbox
        from slop_tui.tools.shell_runner import command_environment, with_git_safety

        assert spec.command is not None
        info = sandbox.detect() if self._sandboxed is not False else None
        use = info is not None and info.available and info.bwrap is not None
        real_home = os.environ.get("HOME")
        home = sandbox.sandbox_home(real_home, str(self.repo_root)) if use else None
        env = with_git_safety(command_environment(home=home, env_extra=spec.env, scrub_env=self.scrub_env))
        executable = self._find(spec, env)
        argv = [executable, *spec.args]
        if use and info is not None and info.bwrap is not None:
            argv = sandbox.bwrap_argv(
                info.bwrap,
                argv,
                repo_root=self.repo_root,
                cwd=self.repo_root,
                env=env,
                network=spec.network == "on",
                real_home=real_home,
                hidden=self.hidden,
            )
        else:
            self._connection_note(spec.name, "unsandboxed: no OS sandbox here, it runs with your powers")
        return argv, env

    def _connection_note(self, name: str, note: str) -> None:
        connection = self._connections.get(name)
        if connection is not None:
            connection.note = f"{connection.note}; {note}" if connection.note else note

    @staticmethod
    def _find(spec: McpServerSpec, env: Mapping[str, str]) -> str:
        command = spec.command or ""
        if os.sep in command:
            path = Path(command).expanduser()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path.absolute())  # a venv's python is a symlink that must stay one
            raise SlopError(f"{command!r} is not an executable file")
        # slop's own environment's scripts come second: a server pip-installed beside slop.
        search = os.pathsep.join([env.get("PATH", ""), os.path.dirname(sys.executable)])
        found = shutil.which(command, path=search)
        if found is None:
            raise SlopError(
                f"command {command!r} not found on PATH (install it, or give its full path in "
                f"[mcp.servers.{spec.name}] command)"
            )
        return found

    # -- the run -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start every server, in parallel; `McpStartError` (naming the first server that failed,
        with its stderr) after stopping the others."""
        if self.started:
            return
        self.started = True
        for name, spec in self.specs.items():
            self._connections[name] = _Connection(spec, self)
        results = await asyncio.gather(
            *(c.start() for c in self._connections.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                await self.close()
                raise result
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            first = failures[0]
            raise first if isinstance(first, SlopError) else McpStartError(_describe(first))
        for connection in self._connections.values():
            for tool in connection.tools:
                self._by_exposed[tool.exposed] = tool

    def tools(self) -> list[McpTool]:
        """Every offered tool, in server then listing order (a ticket's tool list)."""
        return [t for c in self._connections.values() for t in c.tools]

    def servers(self) -> list[tuple[str, str, list[McpTool], str]]:
        """(name, transport, tools, note) per server, for `slop doctor` and the TUI."""
        return [
            (name, c.spec.transport, list(c.tools), c.note) for name, c in self._connections.items()
        ]

    def find(self, exposed: str) -> McpTool | None:
        return self._by_exposed.get(exposed)

    def lookup(self, server: str, name: str) -> McpTool | None:
        connection = self._connections.get(server)
        if connection is None:
            return None
        return next((t for t in connection.tools if t.name == name), None)

    def arguments_for(self, exposed: str, arguments: dict[str, Any]) -> McpCallArgs:
        """The call `exposed(arguments)` as a proposal's arguments (`auto` from the server's
        annotations and config, never from the model). `SlopError` for an unknown tool."""
        tool = self.find(exposed)
        if tool is None:
            raise SlopError(f"unknown tool {clip_message(repr(exposed), 80)}")
        return McpCallArgs(server=tool.server, name=tool.name, arguments=arguments, auto=tool.auto)

    def validate(self, args: McpCallArgs) -> None:
        """`SlopError` when the call does not name an offered tool or breaks its schema."""
        tool = self.lookup(args.server, args.name)
        if tool is None:
            raise SlopError(f"MCP server {args.server!r} offers no tool {clip_message(repr(args.name), 80)}")
        size = len(msgspec.json.encode(args.arguments))
        if size > MAX_ARGUMENT_BYTES:
            raise SlopError(f"{tool.exposed}: arguments of {size:,} bytes; at most {MAX_ARGUMENT_BYTES:,} are sent to a server")
        check_arguments(tool.exposed, tool.input_schema, args.arguments)

    async def call(self, args: McpCallArgs) -> tuple[bool, str]:
        """(ok, text) of the call, masked and bounded; never raises for what the server does."""
        connection = self._connections.get(args.server)
        if connection is None:
            return False, f"no MCP server {args.server!r} in this run"
        ok, text = await connection.call(args.name, args.arguments)
        return ok, self.mask(text)

    async def close(self) -> None:
        """Stop every server (stdin closed, then TERM and KILL, bounded by the SDK)."""
        connections = list(self._connections.values())
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
        self._by_exposed.clear()


def model_tools(tools: Iterable[McpTool]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, description, parameters) per tool, as a model's tool definition takes them."""
    return [
        (t.exposed, f"[MCP server {t.server}] {t.description}".strip(), model_schema(t.input_schema))
        for t in tools
    ]
