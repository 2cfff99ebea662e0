"""A worker's context, its tools' arguments, and proposals with the clutch's decisions."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Union

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models.plans import clip_message
from slop_tui.models.secrets import Secret

# ---------------------------------------------------------------------------
# Worker context
# ---------------------------------------------------------------------------


class ChatMessage(msgspec.Struct, kw_only=True):
    """One message of a conversation, provider-neutral."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)
    tool_call_id: str | None = None  # set on role == "tool"


class ToolCall(msgspec.Struct, kw_only=True):
    """A tool call as a model made it: the arguments are still raw JSON text."""

    id: str
    name: str
    arguments: str


class WorkerContext(msgspec.Struct, kw_only=True):
    """Everything one Tier 3 call needs; built fresh per ticket and dropped when it ends.

    `credentials` is injected for the call only; it is a `Secret`, so repr, str and the
    project's encoders (`enc_hook`) show a mask. The store never writes a WorkerContext.
    """

    ticket_id: str
    assigned_model: str
    credentials: Secret | None = None
    messages: list[ChatMessage] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"WorkerContext(ticket_id={self.ticket_id!r}, assigned_model={self.assigned_model!r}, "
            f"credentials={'***' if self.credentials else None}, messages=<{len(self.messages)}>)"
        )


# ---------------------------------------------------------------------------
# Tool arguments (public API: scenario files and scripts name these tools)
# ---------------------------------------------------------------------------

ViewName = Literal["raw", "skeleton", "curated"]


class ToolArgs(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="tool"):
    """Base of every tool's arguments; `TOOL` is the tool's public name and its tag.

    The tag lets a `Proposal` or an `Edit` carry any tool's arguments as one typed union; a
    model's arguments decode without it (the tool name arrives beside them), and
    `tool_json_schema` leaves it out of what the model is shown.
    """

    TOOL: ClassVar[str] = ""
    WRITES: ClassVar[bool] = False  # True: changes files or runs code, so the clutch asks


class ReadFileArgs(ToolArgs, tag="read_file"):
    TOOL: ClassVar[str] = "read_file"
    path: str
    view: ViewName = "raw"


class ListFilesArgs(ToolArgs, tag="list_files"):
    TOOL: ClassVar[str] = "list_files"
    path: str = "."


class WriteFileArgs(ToolArgs, tag="write_file"):
    TOOL: ClassVar[str] = "write_file"
    WRITES: ClassVar[bool] = True
    path: str
    content: str


class EditFileArgs(ToolArgs, tag="edit_file"):
    TOOL: ClassVar[str] = "edit_file"
    WRITES: ClassVar[bool] = True
    path: str
    old: str
    new: str


class RunCommandArgs(ToolArgs, tag="run_command"):
    TOOL: ClassVar[str] = "run_command"
    WRITES: ClassVar[bool] = True
    command: str
    timeout_s: float = 60.0
    # A request for the network, shown at the clutch; only the person (or `[run] network = "on"`)
    # grants it.
    network: bool = False


class FinishArgs(ToolArgs, tag="finish"):
    TOOL: ClassVar[str] = "finish"
    summary: str


class McpCallArgs(ToolArgs, tag="mcp"):
    """A call of one MCP server's tool, proposed as `mcp__<server>__<tool>`.

    `name` is the server's own tool name (`tool` is the union's tag). `auto` is decided by slop
    from the server's `readOnlyHint` and its `approve` setting, never by the model or an edit:
    it lets the default policy run the call without asking, as reads do.
    """

    TOOL: ClassVar[str] = "mcp"
    WRITES: ClassVar[bool] = True  # the server acts with its own powers
    server: str
    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    auto: bool = False


# The worker's own tools; MCP tools (`McpCallArgs`) come from the run's servers.
TOOL_ARGS: dict[str, type[ToolArgs]] = {
    cls.TOOL: cls
    for cls in (ReadFileArgs, ListFilesArgs, WriteFileArgs, EditFileArgs, RunCommandArgs, FinishArgs)
}

AnyToolArgs = Union[
    ReadFileArgs, ListFilesArgs, WriteFileArgs, EditFileArgs, RunCommandArgs, FinishArgs, McpCallArgs
]


def tool_json_schema(cls: type[ToolArgs]) -> dict[str, Any]:
    """The JSON Schema a model receives for a tool's arguments (without the union tag)."""
    schema = msgspec.json.schema(cls)
    body: dict[str, Any] = dict(schema["$defs"][cls.__name__])
    body["properties"] = {k: v for k, v in body["properties"].items() if k != "tool"}
    body["required"] = [k for k in body.get("required", []) if k != "tool"]
    body.pop("title", None)
    return body


def decode_tool_args(tool: str, payload: str | bytes) -> ToolArgs:
    """Decode JSON arguments for a named tool; `SlopError` names the tool and the problem."""
    cls = TOOL_ARGS.get(tool)
    if cls is None:
        raise SlopError(f"unknown tool {clip_message(repr(tool), 80)} (known: {', '.join(TOOL_ARGS)})")
    try:
        return msgspec.json.decode(payload, type=cls)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SlopError(f"invalid arguments for {tool}: {clip_message(str(exc))}") from None


# ---------------------------------------------------------------------------
# Proposals and clutch decisions
# ---------------------------------------------------------------------------


class ProposalContext(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Why this call: shown at the clutch so identical-looking calls can be told apart."""

    reason: str = ""  # the worker's latest text before this call (hostile: sanitize to show)
    ticket_title: str = ""
    number: int = 0  # "proposal N" of this ticket, 1-based (every proposal counts)
    model: str = ""  # the worker's model, e.g. "openai:gpt-4.1"
    tokens: int = 0  # tokens this ticket has spent so far (input + output)


class Proposal(msgspec.Struct, kw_only=True):
    """A tool call waiting at the clutch, with exactly what it would do."""

    id: str
    ticket_id: str
    tool: str
    arguments: AnyToolArgs
    diff: str = ""  # unified diff for writes and edits
    cwd: str | None = None  # working directory for commands
    error: str | None = None  # why it cannot apply as is (shown; approval still refused)
    # For commands: whether it would run in the OS sandbox, and with the network on without
    # asking (`[run] network = "on"`). Shown at the clutch.
    sandboxed: bool = True
    network: bool = False
    # Why the worker asks, and where it stands (None: proposals logged before it existed).
    context: ProposalContext | None = None


class Approve(msgspec.Struct, tag="approve", omit_defaults=True):
    # The person allows the network for this one command; `--yes` never sets it.
    network: bool = False
    # "Always allow this command for this run": the exact command, or a prefix the person
    # confirmed (`tools/clutch.AllowList`); "" = this once. Omitted when empty: old logs decode.
    always: str = ""


class Reject(msgspec.Struct, tag="reject"):
    reason: str


class Edit(msgspec.Struct, tag="edit"):
    """New arguments for the same tool."""

    arguments: AnyToolArgs


class ApproveHunks(msgspec.Struct, tag="approve_hunks"):
    """Apply only some hunks of a write's or an edit's diff; the worker is told about the rest."""

    hunks: list[int]  # 0-based indexes into `tools.hunks.split_hunks(proposal.diff)`
    reason: str  # why the others were left out


Decision = Union[Approve, Reject, Edit, ApproveHunks]
