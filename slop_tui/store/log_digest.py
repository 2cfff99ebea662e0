"""What the event log keeps of a large file content or diff: a digest and an excerpt.

A 1 GB `write_file` once added 2 GB to the log (its content and its diff). The log is for
following and resuming a run, and the state needs no file content, so any content, diff or
output over `LOG_FIELD_LIMIT` bytes is written as one line of digest (size, sha256) followed
by its first `LOG_EXCERPT_BYTES`. It stays a string, so every event still decodes as its own
type; only the bytes written change, never the event in memory.
"""

from __future__ import annotations

import hashlib
import re
from typing import TypeVar

import msgspec

from slop_tui.models import (
    AnyEvent,
    DecisionMade,
    Edit,
    EditFileArgs,
    HintGiven,
    McpCallArgs,
    Proposal,
    ProposalMade,
    ToolArgs,
    ToolResult,
    WriteFileArgs,
)

LOG_FIELD_LIMIT = 64 * 1024
LOG_EXCERPT_BYTES = 4 * 1024
_HEADER = "[slop: elided from the log: {size} bytes, sha256 {sha}; the first {shown} bytes follow]\n"
_HEADER_RE = re.compile(
    r"^\[slop: elided from the log: (?P<size>\d+) bytes, sha256 (?P<sha>[0-9a-f]{64}); "
    r"the first (?P<shown>\d+) bytes follow\]\n"
)


class LogDigest(msgspec.Struct, frozen=True):
    """What the log kept of a text it elided."""

    size: int  # bytes (UTF-8) of the whole text
    sha256: str
    excerpt: str  # its first `LOG_EXCERPT_BYTES` bytes, cut at a character boundary


def _elided(text: str) -> str:
    if len(text) * 4 <= LOG_FIELD_LIMIT:  # at most 4 bytes a character: surely small
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= LOG_FIELD_LIMIT:
        return text
    excerpt = data[:LOG_EXCERPT_BYTES].decode("utf-8", "ignore")
    header = _HEADER.format(
        size=len(data), sha=hashlib.sha256(data).hexdigest(), shown=len(excerpt.encode())
    )
    return header + excerpt


def log_digest(text: str) -> LogDigest | None:
    """The digest a logged text carries, or None when the log kept it whole."""
    match = _HEADER_RE.match(text)
    if match is None:
        return None
    return LogDigest(int(match["size"]), match["sha"], text[match.end():])


_Args = TypeVar("_Args", bound=ToolArgs)


def _bounded_args(args: _Args) -> _Args:
    if isinstance(args, WriteFileArgs):
        content = _elided(args.content)
        return args if content is args.content else msgspec.structs.replace(args, content=content)
    if isinstance(args, EditFileArgs):
        old, new = _elided(args.old), _elided(args.new)
        if old is args.old and new is args.new:
            return args
        return msgspec.structs.replace(args, old=old, new=new)
    if isinstance(args, McpCallArgs):
        # A model's MCP arguments are any JSON: over the limit, one elided string stands in.
        encoded = msgspec.json.encode(args.arguments).decode("utf-8", "replace")
        elided = _elided(encoded)
        if elided is encoded:
            return args
        return msgspec.structs.replace(args, arguments={"(elided)": elided})
    return args


def _bounded_proposal(proposal: Proposal) -> Proposal:
    diff = _elided(proposal.diff)
    arguments = _bounded_args(proposal.arguments)
    if diff is proposal.diff and arguments is proposal.arguments:
        return proposal
    return msgspec.structs.replace(proposal, diff=diff, arguments=arguments)


def bounded_for_log(event: AnyEvent) -> AnyEvent:
    """`event` as the log writes it: itself when every text is small, else a copy with each
    file content, diff and output over `LOG_FIELD_LIMIT` reduced to digest and excerpt."""
    if isinstance(event, ProposalMade):
        proposal = _bounded_proposal(event.proposal)
        return event if proposal is event.proposal else msgspec.structs.replace(
            event, proposal=proposal
        )
    if isinstance(event, DecisionMade) and isinstance(event.decision, Edit):
        arguments = _bounded_args(event.decision.arguments)
        if arguments is event.decision.arguments:
            return event
        return msgspec.structs.replace(event, decision=Edit(arguments=arguments))
    if isinstance(event, ToolResult):
        output = _elided(event.output)
        return event if output is event.output else msgspec.structs.replace(event, output=output)
    if isinstance(event, HintGiven):
        raw = _elided(event.raw_output)
        return event if raw is event.raw_output else msgspec.structs.replace(event, raw_output=raw)
    return event
