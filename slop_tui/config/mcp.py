"""`[mcp.servers.NAME]` in the user's `agents.toml`: the MCP tool servers a run starts.

A server is code that runs with the user's powers, so only the user's own file may declare one
(a repository's `.slop.toml` with any `[mcp]` key is refused in `overrides.py`). A header value
`"credentials:NAME"` (or `"Bearer credentials:NAME"`) takes `[NAME] api_key` from
`credentials.toml`; the value is held as a `Secret` and masked everywhere (`Config.secrets`).
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

import msgspec

from slop_tui.config.files import ConfigError, TomlFile, clip, number, type_name
from slop_tui.models import Secret

ApproveSetting = Literal["ask", "reads", "always"]
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# The whole value, or a scheme before it: `Bearer credentials:docs`.
_CREDENTIAL_REF = re.compile(r"^(?P<prefix>(?:[A-Za-z][A-Za-z0-9-]* )?)credentials:(?P<name>[A-Za-z0-9_-]+)$")
_SERVER_KEYS = (
    "command", "args", "env", "network", "url", "headers", "tools", "approve", "timeout_s",
    "start_timeout_s",
)


class McpServerSpec(msgspec.Struct, kw_only=True):
    """One configured server: stdio (`command`) or streamable HTTP (`url`), never both."""

    name: str
    command: str | None = None
    args: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] = msgspec.field(default_factory=dict)  # nothing of slop's by default
    network: Literal["off", "on"] = "off"  # a stdio server's sandbox
    url: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # as written (references kept)
    tools: list[str] | None = None  # allow-list; None: every tool the server lists
    # "reads": a tool annotated readOnlyHint runs without asking under the default policy;
    # "ask": every tool asks; "always": none asks.
    approve: ApproveSetting = "reads"
    timeout_s: float = 60.0  # per call
    start_timeout_s: float = 30.0
    # `credentials:NAME` references resolved against credentials.toml, header -> value.
    secret_headers: dict[str, Secret] = msgspec.field(default_factory=dict)
    # credentials names the headers refer to (so an unknown-provider warning is not given).
    credential_names: list[str] = msgspec.field(default_factory=list)

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"


def parse_mcp(file: TomlFile) -> dict[str, McpServerSpec]:
    """The `[mcp]` table of the user's `agents.toml`; `ConfigError` names file, line and key."""
    table: Any = file.data.get("mcp", {})
    for key in table:
        if key != "servers":
            raise ConfigError(f"{file.where('mcp', key)}: unknown key (allowed: [mcp.servers.NAME])")
    servers: Any = table.get("servers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{file.where('mcp', 'servers')}: must be a table of [mcp.servers.NAME]")
    found: dict[str, McpServerSpec] = {}
    for name, body in servers.items():
        found[name] = _server(file, name, body)
    return found


def _server(file: TomlFile, name: str, body: Any) -> McpServerSpec:
    where = file.where("mcp", "servers", name)
    if not _SERVER_NAME.match(name):
        raise ConfigError(
            f"{where}: a server name may hold only letters, digits, '-' and '_' (at most 32): "
            "its tools reach models as mcp__NAME__TOOL"
        )
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: must be a table, [mcp.servers.{name}]")
    for key in body:
        if key not in _SERVER_KEYS:
            raise ConfigError(
                f"{file.where('mcp', 'servers', name, key)}: unknown key (allowed: {', '.join(_SERVER_KEYS)})"
            )
    spec = McpServerSpec(name=name)

    def at(key: str) -> str:
        return file.where("mcp", "servers", name, key)

    if ("command" in body) == ("url" in body):
        raise ConfigError(f"{where}: give either command = \"...\" (stdio) or url = \"http://...\" (streamable HTTP)")
    if "command" in body:
        command = body["command"]
        if not isinstance(command, str) or not command.strip() or "\0" in command:
            raise ConfigError(f"{at('command')}: must be an executable's name or path")
        spec.command = command.strip()
    if "url" in body:
        url = body["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{at('url')}: must be an http:// or https:// URL string")
        spec.url = url
    if "args" in body:
        args = body["args"]
        if not isinstance(args, list) or not all(isinstance(a, str) and "\0" not in a for a in args):
            raise ConfigError(f"{at('args')}: must be a list of strings")
        spec.args = list(args)
    if "env" in body:
        spec.env = _strings(file, name, "env", body["env"], _ENV_NAME, "an environment variable name")
    if "headers" in body:
        spec.headers = _strings(file, name, "headers", body["headers"], _HEADER_NAME, "an HTTP header name")
        spec.credential_names = [
            m.group("name") for m in (_CREDENTIAL_REF.match(v) for v in spec.headers.values()) if m
        ]
    if "network" in body:
        value = body["network"]
        if value not in ("off", "on"):
            raise ConfigError(f"{at('network')}: must be \"off\" or \"on\"")
        spec.network = value
    if "tools" in body:
        tools = body["tools"]
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise ConfigError(f"{at('tools')}: must be a list of tool names")
        spec.tools = list(tools)
    if "approve" in body:
        value = body["approve"]
        if value not in get_args(ApproveSetting):
            shown = repr(clip(value)) if isinstance(value, str) else type_name(value)
            raise ConfigError(f"{at('approve')}: must be \"ask\", \"reads\" or \"always\", not {shown}")
        spec.approve = value
    for key in ("timeout_s", "start_timeout_s"):
        if key in body:
            setattr(spec, key, number(file, ("mcp", "servers", name, key), body[key], float, 0, False))
    return spec


def _strings(
    file: TomlFile, server: str, key: str, value: Any, pattern: re.Pattern[str], what: str
) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{file.where('mcp', 'servers', server, key)}: must be a table of NAME = \"value\"")
    found: dict[str, str] = {}
    for name, text in value.items():
        where = file.where("mcp", "servers", server, key)
        if not pattern.match(name):
            raise ConfigError(f"{where}: {clip(name)!r} is not {what}")
        if not isinstance(text, str) or "\0" in text or "\n" in text or "\r" in text:
            raise ConfigError(f"{where}: {name} must be a one-line string")
        found[name] = text
    return found


def resolve_headers(
    servers: dict[str, McpServerSpec], stored: dict[str, tuple[int | None, str]] | None, credentials: str
) -> None:
    """Fill each server's `secret_headers` from credentials.toml's keys (`stored`: name ->
    (line, key)); `ConfigError` when a referenced entry is missing. `stored` None: the file
    was not read (doctor without credentials): references stay unresolved."""
    if stored is None:
        return
    for spec in servers.values():
        for header, value in spec.headers.items():
            match = _CREDENTIAL_REF.match(value)
            if match is None:
                continue
            entry = stored.get(match.group("name"))
            if entry is None:
                raise ConfigError(
                    f"[mcp.servers.{spec.name}] headers.{header} = {value!r}: {credentials} has no "
                    f"[{match.group('name')}] api_key = \"...\""
                )
            spec.secret_headers[header] = Secret(match.group("prefix") + entry[1])
