"""The worker's history economy: what each request re-sends of the ticket so far.

A ticket is a loop, and every step re-sends everything before it. Most of that is dead weight
once it has served: a file read before it was changed, the whole content of a write that has
landed, the output of a command run many steps ago. `compact` rewrites those into short stubs
that say what they were and how to get the text back (`read_file`, running the command again).

Rewriting changes the prefix a provider's cache has stored, so it happens only at checkpoints
(`History.request`): between two checkpoints a request is the previous one plus what was
appended since, byte for byte; at a checkpoint the whole history is compacted, and sent
compacted from the earliest message where the tokens saved pay for re-caching what follows
(`MIN_SAVING_SHARE`). The first message (the ticket and its curated views) is never rewritten.
A request over the model's context window forces a checkpoint that compacts everything it can,
whatever that costs the cache (`History.request`'s `fits`).

A call the person changed before it ran (edited, or only some hunks approved) is `altered`: its
own text never ran, so its stub says "you proposed" and the call's result carries the diff of
what ran (`clutch_edit_note`, `ran_diff_note`).

Tuned with `benchmarks/bench_ticket_cost.py --sweep` (billed input-equivalent, new / today):
3,000 tail tokens, every 3 steps, a saving of 2x the re-cached suffix gave the lowest figures
on both the demo and the 24-step ticket, under Anthropic and DeepSeek-style pricing alike
(every 3 steps rather than 4: 24-step 12.7 % vs 13.0 % Anthropic, 70.4 % vs 72.1 % DeepSeek,
the demo unchanged).

Everything here is deterministic and pure over the worker's `ChatMessage` list plus one
`CallRecord` per tool call that ran: no model call, no clock.
"""

from __future__ import annotations

import difflib
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import ChatMessage, ReadFileArgs, RunCommandArgs, ToolArgs, ToolCall
from slop_tui.tokens import estimate_tokens
from slop_tui.tools.executor import ToolOutcome
from slop_tui.tools.sandbox import repo_relative, resolve_in_repo

__all__ = [
    "CHECKPOINT_EVERY_STEPS",
    "CHECKPOINT_TAIL_TOKENS",
    "COMMAND_KEEP_STEPS",
    "CallRecord",
    "call_record",
    "History",
    "RequestPlan",
    "clutch_edit_note",
    "compact",
    "ran_diff_note",
    "is_checkpoint",
]

# A checkpoint (the one moment history may be rewritten) comes when the messages appended since
# the last one reach this many tokens...
CHECKPOINT_TAIL_TOKENS = 3_000
# ... or this many steps after the last one, whatever the tail weighs.
CHECKPOINT_EVERY_STEPS = 3
# A checkpoint rewrites only when the tokens it saves reach this share of what it makes the
# cache store again (everything from the first rewritten message on); otherwise the request
# appends as usual. 0 rewrites at every checkpoint.
MIN_SAVING_SHARE = 2.0
# A command's output stays whole while it is this recent (in steps before the request).
COMMAND_KEEP_STEPS = 2
# A written text shorter than this stays: its stub would not be much shorter.
ELIDE_MIN_CHARS = 200

_WRITE_FIELDS = {"write_file": ("content",), "edit_file": ("old", "new")}
_CUT_MARK = "more lines of output from step"


class CallRecord(msgspec.Struct, kw_only=True, frozen=True):
    """What the worker learnt of one tool call once it ran (keyed by the call's id)."""

    tool: str
    path: str | None = None  # repo-relative, as it ran (after any edit at the clutch)
    ok: bool = True
    applied: bool = False  # a write or an edit that changed the file
    exit_code: int | None = None  # run_command only
    # What ran is not the model's call: the person edited it or approved only some hunks. Its
    # own call then holds text that never ran, and a stub must not say it was written.
    altered: bool = False


class RequestPlan(msgspec.Struct, kw_only=True, frozen=True):
    """One request's messages, and how they relate to the previous request's."""

    messages: list[ChatMessage]
    step: int
    checkpoint: bool  # history was rewritten for this request (the cached prefix is cut short)
    # The context window forced this checkpoint (the request would not have fit otherwise).
    forced: bool = False
    # How many leading messages are identical to the previous request's: the cached prefix
    # can reach no further. Between checkpoints it is the whole previous request.
    stable_prefix: int


def is_checkpoint(step: int, last_checkpoint: int, tail_tokens: int) -> bool:
    """Whether the request of `step` rewrites history (never the first: nothing to rewrite)."""
    if step <= 1:
        return False
    return tail_tokens >= CHECKPOINT_TAIL_TOKENS or step - last_checkpoint >= CHECKPOINT_EVERY_STEPS


def normal_path(path: str) -> str:
    """A repository path as records compare it: `./app//x.py` and `app/x.py` are one file."""
    return posixpath.normpath(path.strip()).lstrip("/")


def call_record(
    args: ToolArgs, outcome: ToolOutcome, root: Path, *, altered: bool = False
) -> CallRecord:
    """The record of a call that ran with `args` (as it ran) and gave `outcome`; `altered`:
    the person changed the model's call before it ran."""
    path: str | None = None
    if isinstance(args, ReadFileArgs):
        try:  # the executor's own resolution, so `./a.py` and `a.py` are one file
            path = repo_relative(root, resolve_in_repo(root, args.path))
        except (SlopError, OSError, ValueError):
            path = normal_path(args.path)
    elif args.TOOL in _WRITE_FIELDS:
        path = outcome.changed[0] if outcome.changed else normal_path(getattr(args, "path", ""))
    exit_code = None
    if isinstance(args, RunCommandArgs) and outcome.command_result is not None:
        exit_code = outcome.command_result.exit_code
    return CallRecord(
        tool=args.TOOL,
        path=path,
        ok=outcome.ok,
        applied=bool(outcome.changed),
        exit_code=exit_code,
        altered=altered,
    )


def _message_tokens(message: ChatMessage) -> int:
    return estimate_tokens(message.content) + sum(
        estimate_tokens(call.arguments) for call in message.tool_calls
    )


@dataclass
class _Call:
    call: ToolCall
    step: int
    position: int  # index of the assistant message holding it


def _calls_by_id(messages: list[ChatMessage]) -> dict[str, _Call]:
    """Every tool call with the step that made it (the Nth assistant message is step N)."""
    found: dict[str, _Call] = {}
    step = 0
    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        step += 1
        for call in message.tool_calls:
            found[call.id] = _Call(call, step, index)
    return found


def _read_stubs(
    calls: dict[str, _Call], records: dict[str, CallRecord]
) -> dict[str, str]:
    """call id -> the stub replacing a read result that a later read or change superseded."""
    events: list[tuple[int, int, str, str, str]] = []  # position, order, path, kind, call id
    for order, (call_id, where) in enumerate(calls.items()):
        record = records.get(call_id)
        if record is None or record.path is None:
            continue
        if record.tool == "read_file" and record.ok:
            events.append((where.position, order, record.path, "read", call_id))
        elif record.tool in _WRITE_FIELDS and record.applied:
            events.append((where.position, order, record.path, "change", call_id))
    events.sort()
    stubs: dict[str, str] = {}
    for i, (_pos, _order, path, kind, call_id) in enumerate(events):
        if kind != "read":
            continue
        later = next((e for e in events[i + 1 :] if e[2] == path), None)
        if later is None:
            continue
        step = calls[call_id].step
        later_step = calls[later[4]].step
        if later[3] == "change":
            stubs[call_id] = (
                f"[{path} as read at step {step}; changed since, read it again for the "
                "current text]"
            )
        else:
            stubs[call_id] = (
                f"[{path} as read at step {step}; read again at step {later_step}, see there; "
                "read_file brings back the current text]"
            )
    return stubs


def _elided_arguments(where: _Call, record: CallRecord) -> str:
    """The call's arguments JSON with each long written text replaced by a stub (valid JSON)."""
    try:
        value: Any = json.loads(where.call.arguments)
    except (ValueError, RecursionError):
        return where.call.arguments  # a broken payload is left for its own error to explain
    if not isinstance(value, dict):
        return where.call.arguments
    changed = False
    for name in _WRITE_FIELDS.get(record.tool, ()):
        text = value.get(name)
        if isinstance(text, str) and len(text) >= ELIDE_MIN_CHARS:
            if record.altered:
                # The text never ran as it stands: the call's result has the diff of what did.
                what = "content you proposed for" if name == "content" else f"`{name}` you proposed for"
                value[name] = (
                    f"[{what} {record.path} at step {where.step}: {len(text):,} characters; "
                    "the person changed it before it ran (this call's result shows how); "
                    "read_file shows the file now]"
                )
            else:
                what = "content written to" if name == "content" else f"`{name}` of the edit to"
                value[name] = (
                    f"[{what} {record.path} at step {where.step}: {len(text):,} characters; "
                    "read_file shows the file now]"
                )
            changed = True
    if not changed:
        return where.call.arguments
    return json.dumps(value, ensure_ascii=False)


def _shrunk_output(text: str, step: int) -> str:
    """A command's result cut to its exit code and first line of output."""
    lines = text.split("\n")
    if len(lines) <= 3 or _CUT_MARK in lines[-1]:
        return text
    keep = 1
    for index, line in enumerate(lines[:-1]):
        if line.startswith(("exit code", "timed out")):
            keep = index + 2  # the exit code line and the output's first line
            break
    rest = len(lines) - keep
    if rest <= 1:
        return text
    return "\n".join(lines[:keep]) + (
        f"\n[{rest} {_CUT_MARK} {step} cut; run the command again to see them]"
    )


def compact(
    messages: list[ChatMessage], records: dict[str, CallRecord], step: int
) -> list[ChatMessage]:
    """`messages` as the request of `step` sends them at a checkpoint; the input is untouched.

    - a read result superseded by a later read or change of the same file becomes a stub;
    - an applied write's content (an applied edit's long `old`/`new`) becomes a stub in the
      model's own call, whose arguments stay valid JSON;
    - a command's output older than `COMMAND_KEEP_STEPS` steps keeps its exit code and first line.
    Idempotent: compacting a compacted history changes nothing.
    """
    calls = _calls_by_id(messages)
    stubs = _read_stubs(calls, records)
    out: list[ChatMessage] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            new_calls = []
            for call in message.tool_calls:
                record = records.get(call.id)
                if record is not None and record.applied and record.tool in _WRITE_FIELDS:
                    arguments = _elided_arguments(calls[call.id], record)
                    if arguments != call.arguments:
                        call = msgspec.structs.replace(call, arguments=arguments)
                new_calls.append(call)
            if new_calls != message.tool_calls:
                message = msgspec.structs.replace(message, tool_calls=new_calls)
        elif message.role == "tool" and message.tool_call_id is not None:
            call_id = message.tool_call_id
            record = records.get(call_id)
            if call_id in stubs:
                message = msgspec.structs.replace(message, content=stubs[call_id])
            elif (
                record is not None
                and record.tool == "run_command"
                and call_id in calls
                and calls[call_id].step < step - COMMAND_KEEP_STEPS
            ):
                shrunk = _shrunk_output(message.content, calls[call_id].step)
                if shrunk != message.content:
                    message = msgspec.structs.replace(message, content=shrunk)
        out.append(message)
    return out


def _rewritten(
    appended: list[ChatMessage], compacted: list[ChatMessage]
) -> list[ChatMessage] | None:
    """What a checkpoint sends: `compacted` from the earliest message where rewriting from there
    on saves at least `MIN_SAVING_SHARE` of what the cache must store again (`appended` before
    it); None when no rewrite is worth it. Each message compacts on its own, so any mix of
    the two lists from a cut point is a valid history."""
    changed = [i for i, (a, b) in enumerate(zip(appended, compacted)) if a != b]
    if not changed:
        return None  # nothing to rewrite: the prefix stays as cached
    if MIN_SAVING_SHARE <= 0:
        return compacted
    old = [_message_tokens(m) for m in appended]
    new = [_message_tokens(m) for m in compacted]
    for cut in changed:
        after = sum(new[cut:])
        if sum(old[cut:]) - after >= MIN_SAVING_SHARE * after:
            return appended[:cut] + compacted[cut:]
    return None


@dataclass
class History:
    """The worker's requests over one ticket: append-only between checkpoints.

    `request` is called once per model call with the worker's whole (never rewritten) message
    list; `records` gets one `CallRecord` per tool call that ran. `plans` keeps every request's
    plan, so a caller (the cache breakpoints, a benchmark) can tell which were checkpoints.
    """

    records: dict[str, CallRecord] = field(default_factory=dict)
    plans: list[RequestPlan] = field(default_factory=list)
    _sent: list[ChatMessage] = field(default_factory=list)
    _covered: int = 0  # how many of the worker's messages the last request included
    _last_checkpoint: int = 1
    _tail_tokens: int = 0  # tokens appended since the last checkpoint

    def note(self, call_id: str, record: CallRecord) -> None:
        self.records[call_id] = record

    def request(
        self,
        messages: list[ChatMessage],
        step: int,
        fits: Callable[[list[ChatMessage]], bool] | None = None,
    ) -> RequestPlan:
        """The request of `step`. `fits` (the context window guard) says whether messages fit
        the model; when the planned ones do not, the checkpoint is forced and everything that
        can be compacted is, whatever it costs the cache. Whether that fits is the caller's
        to check again."""
        tail = messages[self._covered :]
        self._tail_tokens += sum(_message_tokens(m) for m in tail)
        checkpoint = is_checkpoint(step, self._last_checkpoint, self._tail_tokens)
        appended = self._sent + tail
        sent = appended
        forced = False
        if checkpoint:
            rewritten = _rewritten(appended, compact(messages, self.records, step))
            checkpoint = rewritten is not None
            sent = rewritten if rewritten is not None else appended
            self._last_checkpoint = step
            self._tail_tokens = 0
        if fits is not None and not fits(sent):
            compacted = compact(messages, self.records, step)
            if compacted != sent:
                sent, checkpoint, forced = compacted, True, True
            self._last_checkpoint = step
            self._tail_tokens = 0
        stable = 0
        for before, now in zip(self._sent, sent):
            if before != now:
                break
            stable += 1
        plan = RequestPlan(
            messages=list(sent), step=step, checkpoint=checkpoint, stable_prefix=stable, forced=forced
        )
        self._sent = sent
        self._covered = len(messages)
        self.plans.append(plan)
        return plan

    def clear(self) -> None:
        """Forget the ticket: nothing of its history outlives it."""
        self._sent = []
        self._covered = 0
        self._last_checkpoint = 1
        self._tail_tokens = 0
        self.records.clear()
        self.plans.clear()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _field_diff(name: str, before: str, after: str) -> str:
    if "\n" not in before and "\n" not in after and len(before) + len(after) < 300:
        return f"{name}: {_json(before)} -> ran {_json(after)}"
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{name} (yours)",
        tofile=f"{name} (ran)",
        n=2,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines).rstrip("\n")


def clutch_edit_note(proposed: ToolArgs, final: ToolArgs) -> str:
    """What the worker reads when the person edited its call: each field that changed, long
    texts as a unified diff of yours -> what ran (never the whole payload again)."""
    before = msgspec.to_builtins(proposed)
    after = msgspec.to_builtins(final)
    parts: list[str] = []
    for name in sorted(set(before) | set(after)):
        if name == "tool" or before.get(name) == after.get(name):
            continue
        old, new = before.get(name), after.get(name)
        if isinstance(old, str) and isinstance(new, str):
            parts.append(_field_diff(name, old, new))
        else:
            parts.append(f"{name}: {_json(old)} -> ran {_json(new)}")
    return (
        "The person edited your call before it ran; what ran differs from yours:\n"
        + "\n".join(parts)
        + "\n"
    )


def ran_diff_note(path: str, proposed: str, ran: str) -> str:
    """The file as the model proposed it -> as it is after what ran: a unified diff, so the
    model learns exactly what the person kept (never the whole file again)."""
    if proposed == ran:
        return ""
    return "What ran differs from yours:\n" + _field_diff(path, proposed, ran) + "\n"
