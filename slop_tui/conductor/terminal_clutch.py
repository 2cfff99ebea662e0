"""The clutch in a plain terminal, for headless runs (`slop run`, `slop ticket`).

For each proposal it prints why the worker asks (its latest text, the ticket, `proposal N`, the
model, the tokens spent so far), then the diff (coloured with Rich's `diff` lexer, numbered by
hunk when there are several) or the command, its working directory and what it may reach
(`network: off`, or `unsandboxed`), then reads one answer line: `a` approves, `w` approves a
command with the network allowed for it alone, `A` always allows a command for this run (the
exact command, or a prefix of it typed after), `r` rejects (the reason on the same line or the
next), `h` applies only some hunks (their numbers, then a reason for the rest), `e` opens the
arguments as JSON in `$EDITOR`, `E` opens the file's proposed new text in `$EDITOR` (what is
saved is re-proposed as an edit of the same tool). An edited payload is validated against the
tool's Struct; an invalid one is refused with the error, and the next `e` reopens the text as
it was left, so a typo costs one fix, not the whole edit.

Everything shown comes from a model (commands, diffs, paths, errors quoting them) and goes
through the display sanitiser: an escape sequence in a command is shown as `\\x1b`, never sent to
the terminal, so what is approved is what is read. A long command wraps, whole.

Input is read line by line, so a pipe works as well as a terminal. The blocking read runs in a
daemon thread: the event loop keeps going while the human thinks, and Ctrl+C is never held up
by a read nobody will finish (the default executor's threads are joined at exit; this one is not).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

from slop_tui.display import display_text, has_unsafe, is_unsafe_char, sanitize
from slop_tui.errors import SlopError
from slop_tui.models import (
    Approve,
    ApproveHunks,
    Decision,
    EditFileArgs,
    Proposal,
    ProposalContext,
    Reject,
    McpCallArgs,
    RunCommandArgs,
    ToolArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import (
    EditRefused,
    editable_json,
    make_edit,
    parse_edited_arguments,
    rule_problem,
)
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.hunks import Hunk, args_for_text, split_hunks

PROMPT = "[a]pprove  [r]eject  [e]dit > "
# A write or an edit: `h` keeps some hunks, `E` edits the new text itself. Every prompt ends
# with the same three answers, so a transcript reads alike whatever was asked.
FILE_PROMPT = "[h]unks  [E]dit text  [a]pprove  [r]eject  [e]dit > "
# For a command: `w` approves it with the network allowed, for this one command.
COMMAND_PROMPT = "[w] approve with network  [a]pprove  [r]eject  [e]dit > "
# `A` always allows it for this run: only a sandboxed command that does not ask for the network.
ALLOWABLE_PROMPT = "[w] approve with network  [A]lways allow  [a]pprove  [r]eject  [e]dit > "
NETWORK_ALLOWED = "network: on (allowed for this command)"
HUNKS_PROMPT = "hunks to apply (numbers, e.g. 1 3) > "
ALWAYS_PROMPT = "always allow for this run: Enter for this exact command, or type a prefix of it > "


def context_lines(context: ProposalContext | None, ticket_id: str) -> list[str]:
    """Why the worker asks and where its ticket stands, as lines to show (model text raw:
    the caller sanitises)."""
    if context is None:
        return []
    facts = [f"ticket {ticket_id}"]
    if context.ticket_title:
        facts[0] += f": {context.ticket_title}"
    if context.number:
        facts.append(f"proposal {context.number}")
    if context.model:
        facts.append(context.model)
    facts.append(f"{context.tokens:,} tokens so far")
    reason = context.reason.strip() or "(the worker gave no reason)"
    return [f"why: {reason}", " · ".join(facts)]


def mcp_lines(args: McpCallArgs) -> list[str]:
    """What the clutch says of an MCP call above its arguments (raw: the caller sanitises)."""
    return [
        f"MCP server {args.server} · tool {args.name}",
        "The server acts with its own powers: what it does is outside slop's per-ticket commits "
        "and undo.",
    ]


def prompt_for(proposal: Proposal) -> str:
    """The answer line's help: the answers that mean something for this proposal."""
    args = proposal.arguments
    if isinstance(args, RunCommandArgs):
        return ALLOWABLE_PROMPT if rule_problem(proposal, args.command) is None else COMMAND_PROMPT
    # A refused edit's note leaves the proposal as it was: its hunks can still be chosen.
    applies = not proposal.error or proposal.error.startswith("edit refused")
    if isinstance(args, (WriteFileArgs, EditFileArgs)) and applies and split_hunks(proposal.diff):
        return FILE_PROMPT
    return PROMPT


def access_line(proposal: Proposal) -> str | None:
    """What a proposed command may reach, as the clutch shows it (None: not a command).

    The model's `network: true` is a request, shown here; only the person grants it."""
    args = proposal.arguments
    if not isinstance(args, RunCommandArgs):
        return None
    if not proposal.sandboxed:
        return "unsandboxed: no OS sandbox here (see slop doctor); it runs with your full powers and network"
    if proposal.network:
        return 'network: on ([run] network = "on" in your config)'
    if args.network:
        return "network: off · the model asks for network; w allows it for this command"
    return "network: off"


class ClutchClosed(SlopError):
    """The terminal clutch's input ended before a decision was made."""


class _LineReader:
    """Reads lines from a blocking stream in a daemon thread, one read in flight at a time.

    If a waiting `readline()` is cancelled, the read in flight is kept and the next call gets
    its line, so no line a human typed is lost to an abandoned read.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: concurrent.futures.Future[str] | None = None

    def _read(self, future: concurrent.futures.Future[str]) -> None:
        try:
            line = self._stream.readline()
        except BaseException as exc:  # a closed or broken stream ends the clutch clearly
            if not future.cancelled():
                future.set_exception(exc)
            return
        if not future.cancelled():
            future.set_result(line)

    async def readline(self) -> str:
        """One line with its newline; '' at end of input."""
        if self._pending is None:
            future: concurrent.futures.Future[str] = concurrent.futures.Future()
            thread = threading.Thread(target=self._read, args=(future,), daemon=True)
            thread.start()
            self._pending = future
        pending = self._pending
        try:
            return await asyncio.shield(asyncio.wrap_future(pending))
        finally:
            if pending.done():
                self._pending = None


class TerminalClutch:
    """A `Clutch` that asks a human on the terminal (or whatever writes to its stdin)."""

    def __init__(
        self, *, stdin: TextIO | None = None, console: Console | None = None, repo: Path | None = None
    ) -> None:
        self._stdin = stdin if stdin is not None else sys.stdin
        # The repository, to read an edited file's whole text for `E` (None: `E` on an
        # edit_file opens its `new` text only).
        self.repo = repo
        self.console = console if console is not None else Console(highlight=False)
        self._reader = _LineReader(self._stdin)
        self._echoes = _isatty(self._stdin)
        # Several workers may propose at once; the terminal answers one proposal at a time.
        self._lock = asyncio.Lock()

    async def decide(self, proposal: Proposal) -> Decision:
        async with self._lock:
            return await self._decide(proposal)

    async def _decide(self, proposal: Proposal) -> Decision:
        self.show(proposal)
        draft: str | None = None  # an invalid edit, reopened as it was left
        prompt = prompt_for(proposal)
        command = isinstance(proposal.arguments, RunCommandArgs)
        while True:
            answer = (await self._ask(prompt, proposal)).strip()
            word, _, rest = answer.partition(" ")
            choice = word.lower()
            if word in ("A", "always"):
                if prompt != ALLOWABLE_PROMPT:  # not approved once instead: said, asked again
                    problem = rule_problem(proposal, getattr(proposal.arguments, "command", ""))
                    self.console.print(display_text(f"not allowed always: {problem}", "red"), overflow="fold")
                    continue
                always = await self._always(proposal, rest.strip())
                if always is not None:
                    return always
                continue
            if word in ("E", "editor") and prompt == FILE_PROMPT:
                edited = await self._edit_text(proposal)
                if edited is not None:
                    return make_edit(edited)
                continue
            if choice in ("h", "hunks") and prompt == FILE_PROMPT:
                hunks = await self._hunks(proposal, rest)
                if hunks is not None:
                    return hunks
                continue
            if choice in ("a", "approve", "y", "yes"):
                return Approve()
            if command and choice in ("w", "network"):
                self.console.print(Text(NETWORK_ALLOWED, style="yellow"))
                return Approve(network=True)
            if choice in ("r", "reject", "n", "no"):
                reason = rest.strip()
                while not reason:
                    reason = (await self._ask("reason > ", proposal)).strip()
                return Reject(reason=reason)
            if choice in ("e", "edit"):
                result = await self._edit(proposal, draft)
                if isinstance(result, ToolArgs):
                    return make_edit(result)
                draft = result if result is not None else draft
                continue
            if choice in ("?", "help", "s", "show"):
                self.show(proposal)
                continue
            self.console.print(Text(_help(prompt), style="yellow"))

    async def _always(self, proposal: Proposal, typed: str) -> Decision | None:
        """`A`: approve and always allow the exact command or a prefix of it; None: re-ask."""
        args = proposal.arguments
        assert isinstance(args, RunCommandArgs)
        rule = typed or (await self._ask(ALWAYS_PROMPT, proposal)).strip() or args.command
        problem = rule_problem(proposal, rule)
        if problem is not None:
            self.console.print(display_text(f"not allowed always: {problem}", "red"), overflow="fold")
            return None
        shown = "this exact command" if rule == args.command else f"commands starting {rule!r}"
        self.console.print(
            display_text(f"always allowed for this run: {shown} (never with ; | & $ ` ( ) < > or newline after it)", "yellow"),
            overflow="fold",
        )
        return Approve(always=rule)

    async def _hunks(self, proposal: Proposal, typed: str) -> Decision | None:
        """`h`: the hunks to apply, then why the rest are left out; None: re-ask."""
        hunks = split_hunks(proposal.diff)
        text = typed.strip() or (await self._ask(HUNKS_PROMPT, proposal)).strip()
        chosen = _hunk_numbers(text, len(hunks))
        if chosen is None:
            self.console.print(
                Text(f"give hunk numbers from 1 to {len(hunks)}, separated by spaces", style="red")
            )
            return None
        if len(chosen) == len(hunks):
            return Approve()  # every hunk: the change as proposed
        left = [str(h.index + 1) for h in hunks if h.index not in chosen]
        what = "all hunks" if not chosen else f"hunk{'s' if len(left) > 1 else ''} {', '.join(left)}"
        reason = ""
        while not reason:
            reason = (await self._ask(f"why leave out {what}? > ", proposal)).strip()
        return ApproveHunks(hunks=chosen, reason=reason)

    async def _edit_text(self, proposal: Proposal) -> ToolArgs | None:
        """`E`: the file's proposed new text in `$EDITOR`; the same tool's arguments that make
        the file what was saved, or None (no change, or the editor failed)."""
        args = proposal.arguments
        before: str | None = None
        try:
            if isinstance(args, WriteFileArgs):
                after = args.content
            elif isinstance(args, EditFileArgs) and self.repo is not None:
                _rel, before, after = ToolExecutor(self.repo).texts(args)
            elif isinstance(args, EditFileArgs):
                after = args.new  # no repository to read: the replacement text alone
            else:
                return None
        except (SlopError, OSError) as exc:
            self.console.print(display_text(f"cannot open the text: {exc}", "red"), overflow="fold")
            return None
        path = str(getattr(args, "path", ""))
        saved = await self._in_editor(after, Path(path).suffix or ".txt", proposal.tool)
        if saved is None:
            return None
        if saved == after:
            self.console.print(Text("no change; answer again", style="yellow"))
            return None
        if saved == before:
            self.console.print(Text("that is the file as it is now: nothing to apply; r rejects", style="yellow"))
            return None
        try:
            if isinstance(args, EditFileArgs) and before is None:
                return EditFileArgs(path=args.path, old=args.old, new=saved)
            return args_for_text(args, before, saved)
        except SlopError as exc:
            self.console.print(display_text(f"edit refused: {exc}", "bold red"), overflow="fold")
            return None

    async def _in_editor(self, text: str, suffix: str, tool: str) -> str | None:
        """What the editor saved of `text` (None: it failed). The suffix lets it highlight."""
        safe_suffix = "".join(ch for ch in suffix if ch.isalnum() or ch == ".")[:16]
        fd, path = tempfile.mkstemp(prefix=f"slop-{tool}-", suffix=safe_suffix)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            code = await asyncio.to_thread(self._run_editor, path)
            if code != 0:
                self.console.print(Text(f"editor exited with status {code}; edit discarded", style="red"))
                return None
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                return handle.read()
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    async def _ask(self, prompt: str, proposal: Proposal) -> str:
        self.console.print(Text(prompt, style="bold"), end="")
        self.console.file.flush()
        line = await self._reader.readline()
        if line == "":
            self.console.print()
            raise ClutchClosed(
                f"clutch: input ended before a decision on proposal {proposal.id} "
                f"(ticket {proposal.ticket_id}, {proposal.tool})"
            )
        answer = line.rstrip("\r\n")
        if not self._echoes:
            # A terminal echoes what was typed; a pipe does not, and the transcript of a
            # headless run should still read "prompt > answer".
            self.console.print(display_text(answer))
        return answer

    async def _edit(self, proposal: Proposal, draft: str | None) -> ToolArgs | str | None:
        """Open the editor; the new arguments, None (no change), or the invalid text (a str)."""
        original = escaped_json(editable_json(proposal.arguments))
        text = original if draft is None else draft
        fd, path = tempfile.mkstemp(prefix=f"slop-{proposal.tool}-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            code = await asyncio.to_thread(self._run_editor, path)
            if code != 0:
                self.console.print(Text(f"editor exited with status {code}; edit discarded", style="red"))
                return None
            with open(path, encoding="utf-8", errors="replace") as handle:
                edited = handle.read()
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        if edited.strip() == original.strip():
            self.console.print(Text("no change; answer a, r or e", style="yellow"))
            return None
        try:
            args = parse_edited_arguments(proposal, edited)
        except EditRefused as exc:
            self.console.print(display_text(f"edit refused: {exc}", "bold red"))
            self.console.print(Text("nothing was applied; e reopens your text, a/r answer the proposal above"))
            return edited
        return args

    def _run_editor(self, path: str) -> int:
        editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
        try:
            argv = shlex.split(editor) + [path]
        except ValueError:
            self.console.print(display_text(f"cannot parse $EDITOR ({editor!r})", "red"))
            return 127
        # A real editor needs the terminal; when answers come through a pipe, the editor must
        # not swallow the answers meant for the clutch.
        stdin = None if _isatty(self._stdin) else subprocess.DEVNULL
        try:
            return subprocess.run(argv, stdin=stdin, check=False).returncode
        except OSError as exc:
            self.console.print(display_text(f"cannot run editor {argv[0]!r}: {exc.strerror or exc}", "red"))
            return 127

    def show(self, proposal: Proposal) -> None:
        """Print what the proposal would do. Model text is printed as text, never as markup."""
        console = self.console
        console.print(Rule(display_text(f"ticket {proposal.ticket_id} · {proposal.tool} · {proposal.id}", one_line=True)))
        for number, line in enumerate(context_lines(proposal.context, proposal.ticket_id)):
            # Wrapped, never cropped: the reason is the worker's own words, escapes shown.
            console.print(display_text(line, "" if number == 0 else "dim"), overflow="fold")
        args = proposal.arguments
        if isinstance(args, RunCommandArgs):
            # Wrapped, never cropped: the end of a long command is where a trick would hide.
            console.print(Text("$ ", style="bold") + display_text(args.command), overflow="fold")
            console.print(display_text(f"in {proposal.cwd or '.'} · timeout {args.timeout_s:g}s", "dim"))
            access = access_line(proposal)
            if access is not None:
                warn = not proposal.sandboxed or proposal.network or args.network
                console.print(Text(access, style="bold yellow" if warn else "dim"))
        elif isinstance(args, McpCallArgs):
            for line in mcp_lines(args):
                console.print(display_text(line, "bold" if line.startswith("MCP") else "bold yellow"), overflow="fold")
            console.print(display_text(editable_json(args).rstrip("\n")), overflow="fold")
        elif proposal.diff:
            hunks = split_hunks(proposal.diff)
            if len(hunks) < 2:
                console.print(_diff_syntax(proposal.diff, wrap=not console.soft_wrap))
            else:
                head = proposal.diff[: proposal.diff.find("\n@@") + 1]
                console.print(_diff_syntax(head, wrap=not console.soft_wrap))
                for hunk in hunks:
                    console.print(Text(f"hunk {hunk.index + 1} of {len(hunks)}", style="bold cyan"))
                    console.print(_diff_syntax(_hunk_text(hunk), wrap=not console.soft_wrap))
        elif type(args).WRITES:
            console.print(Text("(no change to the file)", style="dim"))
        else:
            console.print(display_text(editable_json(args).rstrip("\n")), overflow="fold")
        if proposal.error:
            lead = "" if proposal.error.startswith("edit refused") else "cannot apply as is: "
            console.print(display_text(f"{lead}{proposal.error}", "bold red"), overflow="fold")


def _diff_syntax(diff: str, *, wrap: bool = True) -> Syntax:
    # On a soft-wrapping console (piped: `wrap=False`) each line stays whole: a wrapped
    # line would start a new line without its `+`/`-` column.
    return Syntax(sanitize(diff.rstrip("\n")), "diff", word_wrap=wrap, background_color="default")


def _hunk_text(hunk: Hunk) -> str:
    return "\n".join([hunk.header, *hunk.lines]) + "\n"


def _hunk_numbers(text: str, count: int) -> list[int] | None:
    """0-based indexes from "1 3" or "1,3" (1-based, each from 1 to `count`); None if not so.
    An empty answer chooses no hunk."""
    indexes: set[int] = set()
    for part in text.replace(",", " ").split():
        if not part.isdecimal() or not 1 <= int(part) <= count:
            return None
        indexes.add(int(part) - 1)
    return sorted(indexes)


def _help(prompt: str) -> str:
    answers = ["a (approve)"]
    if prompt in (COMMAND_PROMPT, ALLOWABLE_PROMPT):
        answers.append("w (approve with network)")
    if prompt == ALLOWABLE_PROMPT:
        answers.append("A (always allow: this command, or a prefix you type)")
    answers.append("r (reject, with a reason)")
    if prompt == FILE_PROMPT:
        answers += ["h (apply only some hunks)", "E (edit the new text in $EDITOR)"]
    answers.append("e (edit the JSON)")
    return "answer " + ", ".join(answers) + "; s shows the proposal again"


def escaped_json(text: str) -> str:
    """JSON `text` with every unsafe character written as a `\\uXXXX` escape.

    Such a character can only sit inside a JSON string, where the escape decodes to the same
    character: the payload is unchanged, and an editor shows it instead of obeying it.
    """
    if not has_unsafe(text):
        return text
    return "".join(
        "".join(f"\\u{unit:04x}" for unit in _utf16_units(ch)) if ch not in "\n\t" and is_unsafe_char(ch) else ch
        for ch in text
    )


def _utf16_units(ch: str) -> list[int]:
    point = ord(ch)
    if point < 0x10000:
        return [point]
    point -= 0x10000
    return [0xD800 + (point >> 10), 0xDC00 + (point & 0x3FF)]


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
