"""How an MCP server's tool is named to a model: `mcp__<server>__<tool>`.

Providers accept tool names matching `^[a-zA-Z0-9_-]{1,64}$`. A name that already fits is kept
as is; any other is cleaned and cut, and ends with a hash of the original, so the mapping
depends on the two names alone: stable run to run, and distinct for distinct tools.
"""

from __future__ import annotations

import hashlib
import re

TOOL_NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PREFIX = "mcp__"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_CHARS = 8


def exposed_name(server: str, tool: str) -> str:
    """The name a model calls `tool` of `server` by."""
    raw = f"{PREFIX}{server}__{tool}"
    if TOOL_NAME_RULE.match(raw):
        return raw
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    clean = _UNSAFE.sub("_", raw)
    return f"{clean[: 64 - _HASH_CHARS - 1]}_{digest}"


def is_mcp_name(name: str) -> bool:
    return name.startswith(PREFIX)
