"""The clutch: one protocol between a proposed tool call and whoever decides on it.

`Clutch.decide(proposal)` answers `Approve()`, `Reject(reason)` or `Edit(arguments)` (new
arguments for the same tool). The worker calls it without knowing who answers: the TUI's modal,
the terminal prompt (`conductor/terminal_clutch.py`) or one of the policies here.

An edited payload is untrusted text: `parse_edited_arguments` decodes it against the tool's own
Struct (unknown fields and wrong types refused), refuses a different tool, and checks paths and
limits before anything is re-diffed. `clutch_loop.pass_clutch` runs the ask / re-diff loop.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, cast, runtime_checkable

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import (
    TOOL_ARGS,
    AnyToolArgs,
    Approve,
    Decision,
    Edit,
    EditFileArgs,
    Proposal,
    RunCommandArgs,
    ToolArgs,
    clip_message,
)
from slop_tui.tools.sandbox import check_lexical, check_writable


@runtime_checkable
class Clutch(Protocol):
    """Whoever approves, rejects or edits a proposed tool call."""

    async def decide(self, proposal: Proposal) -> Decision: ...


class ApproveAll:
    """`--yes`: every proposal is approved as it is."""

    async def decide(self, proposal: Proposal) -> Decision:
        return Approve()


class AskForChanges:
    """The default: reads run at once; writes, edits and commands go to `inner`."""

    def __init__(self, inner: Clutch) -> None:
        self.inner = inner

    async def decide(self, proposal: Proposal) -> Decision:
        if type(proposal.arguments).WRITES:
            return await self.inner.decide(proposal)
        return Approve()


class AskForEverything:
    """Linear mode: every tool call, reads included, stops at `inner`."""

    def __init__(self, inner: Clutch) -> None:
        self.inner = inner

    async def decide(self, proposal: Proposal) -> Decision:
        return await self.inner.decide(proposal)


class EditRefused(SlopError):
    """An edited payload does not validate; nothing was applied."""


def editable_json(args: ToolArgs) -> str:
    """The arguments as pretty JSON for a human to edit: no `tool` tag, nothing but arguments."""
    data = msgspec.to_builtins(args)
    data.pop("tool", None)
    return msgspec.json.format(msgspec.json.encode(data), indent=2).decode("utf-8") + "\n"


def check_arguments(args: ToolArgs) -> None:
    """Limits the Structs cannot say: lexically safe paths, a real timeout, a non-empty `old`.

    Raises `SlopError` (a `PathRefused` for paths) with a one-line reason.
    """
    path = getattr(args, "path", None)
    if isinstance(path, str):
        pure = check_lexical(path)
        if args.WRITES:
            check_writable(pure.as_posix())
    if isinstance(args, RunCommandArgs):
        if not args.command.strip():
            raise SlopError("run_command: the command is empty")
        if not math.isfinite(args.timeout_s) or args.timeout_s <= 0:
            raise SlopError(f"run_command: timeout_s must be a positive number, not {args.timeout_s}")
    if isinstance(args, EditFileArgs) and args.old == "":
        raise SlopError("edit_file: `old` is empty; give the exact text to replace")


def parse_edited_arguments(proposal: Proposal, text: str) -> ToolArgs:
    """Decode a human's edit of `proposal`'s arguments; `EditRefused` says what is wrong."""
    tool = proposal.tool
    cls = TOOL_ARGS.get(tool)
    if cls is None:
        raise EditRefused(f"proposal {proposal.id}: unknown tool {tool!r}")
    try:
        raw: Any = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise EditRefused(
            f"edited {tool} arguments are not valid JSON: {clip_message(str(exc))}"
        ) from None
    if not isinstance(raw, dict):
        raise EditRefused(f"edited {tool} arguments must be a JSON object, not {type(raw).__name__}")
    named = raw.get("tool", tool)
    if named != tool:
        raise EditRefused(
            f"edited arguments name tool {clip_message(repr(named), 80)}; "
            f"an edit keeps the tool ({tool!r})"
        )
    try:
        args = msgspec.json.decode(text, type=cls)
    except msgspec.ValidationError as exc:
        # msgspec quotes a bad value or field name whole: a pasted 1 MB line stays one line.
        raise EditRefused(f"edited {tool} arguments are invalid: {clip_message(str(exc))}") from None
    try:
        check_arguments(args)
    except SlopError as exc:
        raise EditRefused(f"edited {tool} arguments are invalid: {exc}") from None
    return args


def make_edit(args: ToolArgs) -> Edit:
    """An `Edit` decision carrying `args` (any tool's Struct is a member of the union)."""
    return Edit(arguments=cast(AnyToolArgs, args))


def same_tool(proposal: Proposal, args: ToolArgs) -> bool:
    return type(args) is TOOL_ARGS.get(proposal.tool)
