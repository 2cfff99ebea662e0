"""The clutch: one protocol between a proposed tool call and whoever decides on it.

`Clutch.decide(proposal)` answers `Approve(network, always)`, `Reject(reason)`,
`Edit(arguments)` (new arguments for the same tool) or `ApproveHunks(hunks, reason)` (only some
hunks of a write's or an edit's diff). The worker calls it without knowing who answers: the TUI's modal,
the terminal prompt (`conductor/terminal_clutch.py`) or one of the policies here.

An edited payload is untrusted text: `parse_edited_arguments` decodes it against the tool's own
Struct (unknown fields and wrong types refused), refuses a different tool, and checks paths and
limits before anything is re-diffed. `clutch_loop.pass_clutch` runs the ask / re-diff loop.

`AllowList` holds the run's "always allow this command" rules; the policies here consult it
before asking and record an `Approve(always=...)` answer into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
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
    McpCallArgs,
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


# What lets a command do more than its first word says: a second command (`;`, `&`, `|`,
# newline), a substitution (`$`, backquote, `(`), a redirection (`<`, `>`).
SHELL_METACHARACTERS = frozenset(";|&$`()<>\n")


def has_metacharacter(text: str) -> bool:
    return any(ch in SHELL_METACHARACTERS for ch in text)


def rule_problem(proposal: Proposal, rule: str) -> str | None:
    """Why `rule` cannot become an "always allow" rule from `proposal` (None: it can).

    The rule must be the proposal's command, or a prefix of it ending at a word boundary with
    no metacharacter in it; the command must be a sandboxed one that does not ask for the
    network (such a command is asked about every time).
    """
    args = proposal.arguments
    if not isinstance(args, RunCommandArgs):
        return "only a command can be always allowed"
    if not proposal.sandboxed:
        return "an unsandboxed command is asked about every time"
    if proposal.network or args.network:
        return "a command with the network is asked about every time"
    rule = rule.strip()
    if not rule:
        return "the rule is empty"
    command = args.command
    if rule == command:
        return None
    if not (command.startswith(rule) and command[len(rule)].isspace()):
        return "a rule must be the command or a prefix of it ending at a word boundary"
    if has_metacharacter(rule):
        return "a prefix rule cannot hold a shell metacharacter (; | & $ ` ( ) < > newline)"
    return None


class AllowList:
    """The "always allow" rules of one run, in memory: a rule is an exact command, or a prefix
    the person confirmed that matches a command only when the rest of it has no shell
    metacharacter (`python -m pytest` allows `python -m pytest -q tests`, never
    `python -m pytest; curl x`). Never applied to a command that asks for the network or runs
    unsandboxed. `on_change` (if set) is called after every add or remove (the TUI's header).
    """

    def __init__(self, rules: Iterable[str] = ()) -> None:
        self._rules: list[str] = []
        self.on_change: Callable[[], None] | None = None
        for rule in rules:
            self.add(rule)

    def rules(self) -> list[str]:
        return list(self._rules)

    def add(self, rule: str) -> None:
        rule = rule.strip()
        if not rule:
            raise SlopError("an always-allow rule cannot be empty")
        if rule not in self._rules:
            self._rules.append(rule)
            self._changed()

    def remove(self, rule: str) -> None:
        if rule in self._rules:
            self._rules.remove(rule)
            self._changed()

    def clear(self) -> None:
        if self._rules:
            self._rules.clear()
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def __len__(self) -> int:
        return len(self._rules)

    def allows(self, proposal: Proposal) -> bool:
        args = proposal.arguments
        if not isinstance(args, RunCommandArgs):
            return False
        if proposal.network or args.network or not proposal.sandboxed:
            return False
        return any(rule_matches(rule, args.command) for rule in self._rules)

    def record(self, proposal: Proposal, rule: str) -> bool:
        """Add `rule` if `rule_problem` finds nothing wrong with it; whether it was added."""
        if rule_problem(proposal, rule) is not None:
            return False
        self.add(rule)
        return True


def rule_matches(rule: str, command: str) -> bool:
    """Whether one rule allows `command`: equal to it, or a metacharacter-free prefix of it at a
    word boundary whose rest has no metacharacter either."""
    if command == rule:
        return True
    if has_metacharacter(rule) or not command.startswith(rule):
        return False
    rest = command[len(rule) :]
    return rest[:1].isspace() and not has_metacharacter(rest)


async def _ask(inner: Clutch, allow: AllowList | None, proposal: Proposal) -> Decision:
    if allow is not None and allow.allows(proposal):
        return Approve()
    decision = await inner.decide(proposal)
    if allow is not None and isinstance(decision, Approve) and decision.always:
        allow.record(proposal, decision.always)
    return decision


class ApproveAll:
    """`--yes`: every proposal is approved as it is."""

    async def decide(self, proposal: Proposal) -> Decision:
        return Approve()


def asks(proposal: Proposal) -> bool:
    """Whether the default policy asks: writes, edits, commands and MCP calls do, except an MCP
    tool its server annotates read-only (or whose server's `approve` says so)."""
    args = proposal.arguments
    if isinstance(args, McpCallArgs):
        return not args.auto
    return type(args).WRITES


class AskForChanges:
    """The default: reads (and read-only MCP tools) run at once; writes, edits, commands and
    other MCP calls go to `inner`."""

    def __init__(self, inner: Clutch, allow: AllowList | None = None) -> None:
        self.inner = inner
        # The run's "always allow" rules: consulted before asking, fed by `Approve.always`.
        self.allow = allow if allow is not None else AllowList()

    async def decide(self, proposal: Proposal) -> Decision:
        if asks(proposal):
            return await _ask(self.inner, self.allow, proposal)
        return Approve()


class AskForEverything:
    """Linear mode: every tool call, reads included, stops at `inner`."""

    def __init__(self, inner: Clutch, allow: AllowList | None = None) -> None:
        self.inner = inner
        self.allow = allow if allow is not None else AllowList()

    async def decide(self, proposal: Proposal) -> Decision:
        return await _ask(self.inner, self.allow, proposal)


class EditRefused(SlopError):
    """An edited payload does not validate; nothing was applied."""


def editable_json(args: ToolArgs) -> str:
    """The arguments as pretty JSON for a human to edit: no `tool` tag, nothing but arguments
    (for an MCP call, the tool's own arguments: the server and tool are not editable)."""
    data = msgspec.to_builtins(args)
    data.pop("tool", None)
    if isinstance(args, McpCallArgs):
        data = data.get("arguments", {})
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
    if isinstance(proposal.arguments, McpCallArgs):
        return _edited_mcp(proposal.arguments, tool, text)
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


def _edited_mcp(original: McpCallArgs, tool: str, text: str) -> McpCallArgs:
    """An MCP call's edited arguments: a JSON object, for the same server and tool (checked
    against the server's schema by the executor's `validate`)."""
    try:
        raw: Any = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise EditRefused(f"edited {tool} arguments are not valid JSON: {clip_message(str(exc))}") from None
    if not isinstance(raw, dict):
        raise EditRefused(f"edited {tool} arguments must be a JSON object, not {type(raw).__name__}")
    return msgspec.structs.replace(original, arguments=raw)


def make_edit(args: ToolArgs) -> Edit:
    """An `Edit` decision carrying `args` (any tool's Struct is a member of the union)."""
    return Edit(arguments=cast(AnyToolArgs, args))


def same_tool(proposal: Proposal, args: ToolArgs) -> bool:
    original = proposal.arguments
    if isinstance(original, McpCallArgs):
        return (
            isinstance(args, McpCallArgs)
            and (args.server, args.name, args.auto) == (original.server, original.name, original.auto)
        )
    return type(args) is TOOL_ARGS.get(proposal.tool)
