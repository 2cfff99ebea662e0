"""A tool result as the worker reads it: text, bounded like command output (head and tail).

A server's result is hostile text of any size: only its text parts are kept whole (images,
audio and embedded binaries are named, not passed on), a huge text is cut to its first and last
megabyte before the token cap is applied, and anything that is not a result at all is an error.
"""

from __future__ import annotations

import json
from typing import Any

from slop_tui.tools.shell_runner import head_and_tail

PRE_CUT_CHARS = 1_000_000  # each end kept before the token cap: a 10 MB result costs little


def result_text(result: Any, cap_tokens: int) -> tuple[bool, str]:
    """(ok, text) of a `CallToolResult`; `ok` is False when the server flagged an error."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(getattr(block, "text", "")))
        elif kind in ("image", "audio"):
            data = getattr(block, "data", "") or ""
            parts.append(f"[{kind} {getattr(block, 'mime_type', '?')}, {len(data):,} base64 characters, not shown]")
        elif kind == "resource_link":
            parts.append(f"[resource link {getattr(block, 'uri', '')}]")
        elif kind == "resource":
            resource = getattr(block, "resource", None)
            text = getattr(resource, "text", None)
            uri = getattr(resource, "uri", "")
            parts.append(str(text) if isinstance(text, str) else f"[binary resource {uri}, not shown]")
        else:
            parts.append(f"[{kind or 'unknown'} content, not shown]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        try:
            parts.append(json.dumps(structured, ensure_ascii=False, indent=1, default=str))
        except (TypeError, ValueError):
            parts.append("[structured content that is not JSON]")
    text = "\n".join(parts) if parts else "(the tool returned nothing)"
    if len(text) > 2 * PRE_CUT_CHARS:
        omitted = len(text) - 2 * PRE_CUT_CHARS
        text = f"{text[:PRE_CUT_CHARS]}\n[… {omitted} characters omitted …]\n{text[-PRE_CUT_CHARS:]}"
    ok = not bool(getattr(result, "is_error", False))
    return ok, head_and_tail(text, cap_tokens)
