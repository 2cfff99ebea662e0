"""Apply the worker's tool calls inside the repository: reads, listings, writes, edits, commands.

`ToolExecutor.propose` says exactly what a call would do (a unified diff, or a command and its
working directory) without doing it; `execute` does it. Every path goes through the sandbox;
a refusal, a missing file or a failed command becomes a `ToolOutcome(ok=False)` whose output
is what the worker reads, never an exception. A write keeps the file's pre-image (the first
one per ticket, so undo restores the state before the ticket) before it replaces the file
atomically; `undo` puts every pre-image back. Writes and restores go through `safe_write`'s
descriptor walk (never through a symlink, regular files only) and never into a `.git` or
`.slop` at any depth, however it is spelled; a write is at most `max_write_bytes`. A file
another running ticket changed is refused until that ticket ends (`owners`, `ownership.py`).

Every credential value the executor knows (its store's secrets and its own `secrets`) is
masked in what a call returns: a command that prints a key (`cat` of the credentials file,
`env` in a hostile repository) or a file that holds one never hands it to a model, to QA, to a
screen or to the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

import msgspec

from slop_tui.display import sanitize
from slop_tui.errors import SlopError
from slop_tui.models import (
    AnyToolArgs,
    Secret,
    EditFileArgs,
    FinishArgs,
    ListFilesArgs,
    McpCallArgs,
    Proposal,
    ReadFileArgs,
    RunCommandArgs,
    ToolArgs,
    WriteFileArgs,
    environment_secrets,
    secret_forms,
)
from slop_tui.tools.clutch import check_arguments
from slop_tui.tools.ownership import FileBusy, FileOwners
from slop_tui.tools.edit_feedback import change_stat, near_text
from slop_tui.tools.proposals import unified_diff
from slop_tui.tools.safe_write import check_at, read_at, replace_at, restore_at
from slop_tui.tools.sandbox import (
    PathRefused,
    check_lexical,
    check_writable,
    repo_relative,
    resolve_in_repo,
    resolve_root,
)
from slop_tui.store import Store
from slop_tui.tools.shell_runner import CommandResult, head_and_tail, run_command

if TYPE_CHECKING:
    from slop_tui.mcp.hub import McpHub

# Directories a listing names but does not descend into: tool state and caches, not code.
LIST_SKIPPED_DIRS = frozenset(
    {".git", ".slop", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".tox", ".hypothesis"}
)
MAX_LIST_ENTRIES = 500
DEFAULT_MAX_WRITE_BYTES = 8_000_000


class WriteTooLarge(SlopError):
    """A write (or an edit's result) over `max_write_bytes`; its message is the whole tool
    result the model reads ("write_file refused: ...")."""


def utf8_size(text: str) -> int:
    """How many bytes `text` takes in UTF-8, without holding a second copy of a huge text."""
    if text.isascii():
        return len(text)
    step = 1 << 20
    # surrogatepass: a lone surrogate is refused later, with its own message, not here.
    return sum(
        len(text[i : i + step].encode("utf-8", "surrogatepass")) for i in range(0, len(text), step)
    )


class ToolOutcome(msgspec.Struct, kw_only=True):
    """The result of one tool call. `output` is exactly what the worker is shown."""

    ok: bool
    output: str
    command_result: CommandResult | None = None
    changed: list[str] = msgspec.field(default_factory=list)  # repo-relative paths written
    # For `FileChanged` events: changed path -> its pre-image's name in `.slop/` (None: the
    # file was new, or no store keeps pre-images).
    preimages: dict[str, str | None] = msgspec.field(default_factory=dict)
    # For `FileChanged.after`: changed path -> `content_hash` of the bytes the write left.
    hashes: dict[str, str] = msgspec.field(default_factory=dict)


class _Memory:
    """Pre-images kept in memory when there is no store (tests, a throwaway session)."""

    def __init__(self) -> None:
        self._by_ticket: dict[str, dict[str, bytes | None]] = {}

    def has(self, ticket_id: str, rel_path: str) -> bool:
        return rel_path in self._by_ticket.get(ticket_id, {})

    def save(self, ticket_id: str, rel_path: str, content: bytes | None) -> None:
        self._by_ticket.setdefault(ticket_id, {}).setdefault(rel_path, content)

    def items(self, ticket_id: str) -> list[tuple[str, bytes | None]]:
        return list(self._by_ticket.get(ticket_id, {}).items())


def content_hash(data: bytes | None) -> str | None:
    """What `FileChanged.after` records of a file's bytes (None: the file is absent)."""
    return None if data is None else hashlib.sha256(data).hexdigest()


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _read_regular(real: Path, rel: str, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file, opened so that a FIFO or a device can never block or leak.

    O_NONBLOCK keeps a FIFO from blocking the open; O_NOFOLLOW refuses a symlink swapped in
    after the path was resolved; fstat on the open descriptor decides, not a racy stat.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        kind = os.lstat(real).st_mode
    except FileNotFoundError:
        raise SlopError(f"{rel}: no such file") from None
    if not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
        # Sockets cannot even be opened; say what they are rather than what open() says.
        raise PathRefused(rel, "it is not a regular file (a FIFO, socket or device)")
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        raise SlopError(f"{rel}: no such file") from None
    except OSError as exc:
        raise SlopError(f"{rel}: cannot open ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SlopError(f"{rel}: is a directory (use list_files)")
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused(rel, "it is not a regular file (a FIFO, socket or device)")
        if max_bytes is not None and info.st_size > max_bytes:
            raise SlopError(f"{rel}: {info.st_size} bytes is more than the {max_bytes}-byte read limit")
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _as_text(data: bytes, rel: str) -> str:
    if b"\x00" in data[:8192]:
        raise SlopError(f"{rel}: is a binary file; the file tools read and change text only")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SlopError(f"{rel}: is not UTF-8 text; the file tools read and change text only") from None


class ToolExecutor:
    """Runs tool calls for the tickets of one repository."""

    def __init__(
        self,
        repo_root: Path,
        *,
        store: Store | None = None,
        scrub_env: Iterable[str] = (),
        command_timeout_s: float = 60,
        output_tokens_cap: int = 400,
        max_read_bytes: int = 2_000_000,
        max_write_bytes: int = DEFAULT_MAX_WRITE_BYTES,
        secrets: Iterable[Secret | str] = (),
        network: bool = False,
        env_extra: Mapping[str, str] | None = None,
        sandboxed: bool | None = None,
    ) -> None:
        self.root = resolve_root(Path(repo_root))
        self._secrets = [s.reveal() if isinstance(s, Secret) else s for s in secrets]
        # `[run] network = "on"`: every command has the network without the person's per-command
        # allow. Otherwise only an `Approve(network=True)` gives it (never `--yes`).
        self.network = network
        self.env_extra = dict(env_extra or {})  # `[run] env`, the user's own config only
        self._sandboxed = sandboxed  # None: whatever `sandbox.detect()` finds
        self.store = store
        self.scrub_env = tuple(scrub_env)
        self.command_timeout_s = command_timeout_s
        self.output_tokens_cap = output_tokens_cap
        self.max_read_bytes = max_read_bytes
        self.max_write_bytes = max_write_bytes
        self._memory = _Memory()
        # Files a running ticket changed; the session releases a ticket when it ends.
        self.owners = FileOwners()
        # The run's MCP servers (the session sets it when it starts them): `McpCallArgs`
        # proposals are checked against their schemas and executed through it.
        self.mcp: McpHub | None = None

    @property
    def sandboxed(self) -> bool:
        """Whether commands run in the OS sandbox (False: bwrap is missing or cannot work)."""
        if self._sandboxed is None:
            from slop_tui.sandbox import detect

            self._sandboxed = detect().available
        return self._sandboxed

    # -- checks -------------------------------------------------------------------------

    def _resolve(self, path: str) -> tuple[Path, str]:
        real = resolve_in_repo(self.root, path)
        return real, repo_relative(self.root, real)

    def _write_target(self, path: str) -> tuple[Path, str]:
        """Where a write to `path` lands; refused for protected dirs and non-regular targets."""
        check_writable(check_lexical(path).as_posix())
        real, rel = self._resolve(path)
        if rel == ".":
            raise PathRefused(path, "it is the repository root, not a file")
        # Where it really lands, too: an inside symlink may lead into .git.
        try:
            check_writable(rel)
        except PathRefused as exc:
            shown = sanitize(rel, one_line=True)
            raise PathRefused(path, f"it leads to {shown} through a symlink; {exc.reason}") from None
        try:
            info = os.lstat(real)
        except (FileNotFoundError, NotADirectoryError):
            ancestor = real.parent
            while not ancestor.exists() and not ancestor.is_symlink():
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                shown = repo_relative(self.root, ancestor)
                raise SlopError(f"{rel}: cannot be created, {shown} is a file, not a directory") from None
            return real, rel
        if stat.S_ISDIR(info.st_mode):
            raise PathRefused(path, "it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused(path, "it is not a regular file (a FIFO, socket or device)")
        return real, rel

    def _check_size(self, args: ToolArgs) -> None:
        """Refuse a write_file content, or an edit_file `new`, over `max_write_bytes`."""
        limit = self.max_write_bytes
        if isinstance(args, WriteFileArgs):
            size, shown = _byte_count(args.content, limit)
            if size > limit:
                raise WriteTooLarge(
                    f"write_file refused: {shown} bytes is more than the {limit:,}-byte limit "
                    "([run] max_write_bytes); nothing was written, write a smaller file"
                )
        elif isinstance(args, EditFileArgs):
            size, shown = _byte_count(args.new, limit)
            if size > limit:
                raise WriteTooLarge(
                    f"edit_file refused: `new` is {shown} bytes, more than the {limit:,}-byte "
                    "limit ([run] max_write_bytes); nothing was written"
                )

    def validate(self, args: ToolArgs) -> None:
        """Everything that makes a call unacceptable as asked (sandbox, limits); raises SlopError.

        An `edit_file` whose `old` is not found is *not* refused here: that is the state of the
        file, shown on the proposal, not a bad payload.
        """
        check_arguments(args)
        self._check_size(args)
        if isinstance(args, McpCallArgs):
            self._mcp_hub().validate(args)
        elif isinstance(args, (WriteFileArgs, EditFileArgs)):
            self._write_target(args.path)
        elif isinstance(args, (ReadFileArgs, ListFilesArgs)):
            self._resolve(args.path)

    def _mcp_hub(self) -> McpHub:
        if self.mcp is None:
            raise SlopError("no MCP server runs in this session")
        return self.mcp

    # -- proposals ----------------------------------------------------------------------

    def _edited_text(self, args: EditFileArgs) -> tuple[str, str, str]:
        """(repo-relative path, text before, text after) of an edit, or SlopError."""
        real, rel = self._write_target(args.path)
        if not real.exists():
            raise SlopError(f"edit_file {rel}: no such file (use write_file to create it)")
        before = _as_text(_read_regular(real, rel), rel)
        count = before.count(args.old)
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times"
            raise SlopError(
                f"edit_file {rel}: `old` {where} in the file; it must occur exactly once "
                "(copy it exactly, or include more surrounding lines to make it unique)"
            )
        after = before.replace(args.old, args.new, 1)
        size = utf8_size(after)
        if size > self.max_write_bytes:
            raise WriteTooLarge(
                f"edit_file refused: the edited {rel} would be {size:,} bytes, more than the "
                f"{self.max_write_bytes:,}-byte limit ([run] max_write_bytes)"
            )
        return rel, before, after

    def _current_text(self, real: Path, rel: str) -> str | None:
        if not real.exists():
            return None
        return _as_text(_read_regular(real, rel), rel)

    def texts(self, args: ToolArgs) -> tuple[str, str | None, str]:
        """(repo-relative path, text now, text after) of a write or an edit, read now; the
        text now is None for a file that does not exist. SlopError if it cannot apply."""
        if isinstance(args, WriteFileArgs):
            real, rel = self._write_target(args.path)
            return rel, self._current_text(real, rel), args.content
        if isinstance(args, EditFileArgs):
            return self._edited_text(args)
        raise SlopError(f"{args.TOOL} does not change a file's text")

    def propose(self, ticket_id: str, args: ToolArgs) -> Proposal:
        """What `args` would do, without doing it; `error` says why it cannot apply as is."""
        diff = ""
        cwd: str | None = None
        error: str | None = None
        tool = args.TOOL
        try:
            check_arguments(args)
            self._check_size(args)
            if isinstance(args, WriteFileArgs):
                real, rel = self._write_target(args.path)
                self.owners.check(ticket_id, rel)
                diff = unified_diff(rel, self._current_text(real, rel), args.content)
            elif isinstance(args, EditFileArgs):
                rel, before, after = self._edited_text(args)
                self.owners.check(ticket_id, rel)
                diff = unified_diff(rel, before, after)
            elif isinstance(args, RunCommandArgs):
                cwd = str(self.root)
            elif isinstance(args, (ReadFileArgs, ListFilesArgs)):
                self._resolve(args.path)
            elif isinstance(args, McpCallArgs):
                from slop_tui.mcp.names import exposed_name

                tool = exposed_name(args.server, args.name)
                self._mcp_hub().validate(args)
        except (SlopError, OSError) as exc:
            error = describe_error(exc)
        return Proposal(
            id=_new_id(),
            ticket_id=ticket_id,
            tool=tool,
            arguments=cast(AnyToolArgs, args),
            diff=diff,
            cwd=cwd,
            error=error,
            sandboxed=self.sandboxed if isinstance(args, RunCommandArgs) else True,
            network=self.network and isinstance(args, RunCommandArgs),
        )

    # -- execution ----------------------------------------------------------------------

    def _secret_values(self) -> list[str]:
        values = list(self._secrets)
        if self.store is not None:
            values += self.store.secret_values
        # Slop's own secret-looking variables, configured as keys or not (`GITHUB_TOKEN`, ...).
        values += environment_secrets(os.environ)
        # Each in the forms a repr, JSON or a URL gives it; longest first, so a key that
        # contains another is masked whole. Short strings are not keys (and masking them would
        # maul ordinary output): `secret_forms` drops them.
        forms = {form for value in values for form in secret_forms(value)}
        return sorted(forms, key=len, reverse=True)

    def _mask(self, text: str) -> str:
        for value in self._secret_values():
            if value in text:
                text = text.replace(value, "***")
        return text

    def _masked_result(self, result: CommandResult) -> CommandResult:
        return msgspec.structs.replace(
            result, stdout=self._mask(result.stdout), stderr=self._mask(result.stderr)
        )

    def _masked(self, outcome: ToolOutcome) -> ToolOutcome:
        result = outcome.command_result
        return msgspec.structs.replace(
            outcome,
            output=self._mask(outcome.output),
            command_result=self._masked_result(result) if result is not None else None,
        )

    async def execute(self, ticket_id: str, args: ToolArgs, *, network: bool = False) -> ToolOutcome:
        """Do what `args` asks. Refusals and failures come back as `ok=False` outcomes, and
        every known credential value in what comes back is masked. `network`: the person's
        `Approve(network=True)` for this command; the model's `args.network` is only a request
        and grants nothing by itself."""
        return self._masked(await self._execute(ticket_id, args, network=network))

    async def _execute(self, ticket_id: str, args: ToolArgs, *, network: bool = False) -> ToolOutcome:
        try:
            check_arguments(args)
            self._check_size(args)
            if isinstance(args, ReadFileArgs):
                return ToolOutcome(ok=True, output=self._read(args))
            if isinstance(args, ListFilesArgs):
                return ToolOutcome(ok=True, output=self._list(args))
            if isinstance(args, WriteFileArgs):
                real, rel = self._write_target(args.path)
                try:
                    previous = self._current_text(real, rel)
                except (SlopError, OSError):
                    previous = ""  # a binary file replaced: every new line counts as added
                name, after = await self._owned_replace(ticket_id, rel, args.content)
                return ToolOutcome(
                    ok=True,
                    output=change_stat("wrote", rel, previous, args.content),
                    changed=[rel],
                    preimages={rel: name},
                    hashes={rel: after},
                )
            if isinstance(args, EditFileArgs):
                rel, before, after = self._edited_text(args)
                self._write_target(rel)
                name, written = await self._owned_replace(ticket_id, rel, after)
                return ToolOutcome(
                    ok=True,
                    output=change_stat("edited", rel, before, after),
                    changed=[rel],
                    preimages={rel: name},
                    hashes={rel: written},
                )
            if isinstance(args, RunCommandArgs):
                return await self._run(args, network=network or self.network)
            if isinstance(args, FinishArgs):
                return ToolOutcome(ok=True, output=args.summary)
            if isinstance(args, McpCallArgs):
                hub = self._mcp_hub()
                hub.validate(args)
                ok, text = await hub.call(args)
                return ToolOutcome(ok=ok, output=text if ok else f"{args.server}/{args.name} failed: {text}")
            raise SlopError(f"unknown tool {args.TOOL!r}")
        except WriteTooLarge as exc:
            return ToolOutcome(ok=False, output=str(exc))
        except FileBusy as exc:
            return ToolOutcome(ok=False, output=f"{args.TOOL} refused: {exc}; nothing was written")
        except (SlopError, OSError, ValueError) as exc:
            return ToolOutcome(ok=False, output=f"{args.TOOL} failed: {describe_error(exc)}")

    def edit_context(self, args: EditFileArgs) -> str:
        """For an edit whose `old` does not occur exactly once: the file's text where the model
        probably meant (or where each occurrence is), so it can copy `old` exactly next time.
        Empty when there is nothing useful to show."""
        try:
            real, rel = self._write_target(args.path)
            text = self._current_text(real, rel)
        except (SlopError, OSError):
            return ""
        if text is None or not args.old or text.count(args.old) == 1:
            return ""
        return self._mask(near_text(rel, text, args.old))

    def _read(self, args: ReadFileArgs) -> str:
        real, rel = self._resolve(args.path)
        text = _as_text(_read_regular(real, rel, self.max_read_bytes), rel)
        if args.view == "raw":
            return text
        # Imported on first use: tree-sitter is not needed by a worker that only reads raw.
        from slop_tui.memory import file_cache

        try:
            view = file_cache.get_view(real, args.view)
        except file_cache.ViewError as exc:
            raise SlopError(str(exc).replace(str(real), rel)) from None
        problem = view.syntax_problem
        if problem is None:
            return view.text
        note = (
            f"# note: {rel} does not parse (line {problem.line}, column {problem.column}: "
            f"{problem.message}); this {args.view} view is best-effort\n"
        )
        return note + view.text

    def _list(self, args: ListFilesArgs) -> str:
        real, rel = self._resolve(args.path)
        if not real.is_dir():
            raise SlopError(f"{rel}: is not a directory")
        lines: list[str] = []
        more = 0
        for dirpath, dirnames, filenames in os.walk(real):  # never follows symlinked dirs
            dirnames.sort()
            base = Path(dirpath)
            entries: list[str] = []
            for name in list(dirnames):
                full = base / name
                shown = repo_relative_lexical(self.root, full)
                if full.is_symlink():
                    entries.append(f"{shown}/ (symlink, not followed)")
                    dirnames.remove(name)
                elif name in LIST_SKIPPED_DIRS:
                    entries.append(f"{shown}/ (not listed)")
                    dirnames.remove(name)
            for name in sorted(filenames):
                full = base / name
                shown = repo_relative_lexical(self.root, full)
                entries.append(f"{shown} (symlink)" if full.is_symlink() else shown)
            for entry in sorted(entries):
                if len(lines) < MAX_LIST_ENTRIES:
                    lines.append(entry)
                else:
                    more += 1
        if more:
            lines.append(f"[… {more} more entries; list a subdirectory to see them]")
        return "\n".join(lines) if lines else f"{rel}: (empty directory)"

    async def _run(self, args: RunCommandArgs, *, network: bool) -> ToolOutcome:
        # The user's configured timeout is the ceiling; a model may ask for less, not more.
        timeout = min(args.timeout_s, self.command_timeout_s)
        result = await run_command(
            args.command,
            self.root,
            timeout_s=timeout,
            scrub_env=self.scrub_env,
            network=network,
            sandboxed=self.sandboxed,
            env_extra=self.env_extra,
        )
        # Masked before the head and tail are cut, so no cut can leave half a key behind.
        result = self._masked_result(result)
        body = head_and_tail(result.output, self.output_tokens_cap) if result.output else "(no output)"
        if result.timed_out:
            head = f"timed out after {timeout:g}s; the command and its children were killed"
        else:
            head = f"exit code {result.exit_code}"
        return ToolOutcome(ok=result.ok, output=f"{head}\n{body}", command_result=result)

    # -- writes and undo ----------------------------------------------------------------

    def _save_preimage(self, ticket_id: str, rel: str, before: bytes | None) -> str | None:
        if self.store is not None:
            return self.store.save_preimage(ticket_id, rel, before)
        self._memory.save(ticket_id, rel, before)
        return None

    async def _owned_replace(self, ticket_id: str, rel: str, text: str) -> tuple[str | None, str]:
        """`_replace` in a thread, once the ticket owns `rel` (`FileBusy` if another running
        ticket does): its fsyncs (pre-image, file, folders) would otherwise stall every other
        worker and the event bus for milliseconds each. The claim comes before the first await,
        so two tickets never write one file; a cancelled worker only loses the outcome: the
        pre-image is saved before the write, so resume and undo still restore the file."""
        took = self.owners.claim(ticket_id, rel)
        try:
            return await asyncio.to_thread(self._replace, ticket_id, rel, text)
        except Exception:
            if took:  # the atomic replace is the last step: a failure left the file as it was
                self.owners.unclaim(rel)
            raise

    def _replace(self, ticket_id: str, rel: str, text: str) -> tuple[str | None, str]:
        """Save the pre-image (durably, first), then replace the file atomically.

        Returns the pre-image's name in the store and the `content_hash` of what was written. The file keeps its mode. `rel` is where the
        write really lands (symlinks resolved); the walk refuses any symlink met on the way now,
        so a folder swapped since it was resolved can never redirect the write.
        """
        data = text.encode("utf-8")  # a lone surrogate fails here, before anything is touched
        before = read_at(self.root, rel)
        name = self._save_preimage(ticket_id, rel, before)
        # Once more before writing: a swap since the proposal is named plainly ("outside the
        # repository") rather than as the walk's bare "is a symlink".
        self._write_target(rel)
        replace_at(self.root, rel, data)
        return name, hashlib.sha256(data).hexdigest()

    def undo(self, ticket_id: str) -> list[str]:
        """Restore every file the ticket changed; delete the ones it created. Returns the paths.

        The pre-images stay in the store (undo can run again); `Store.drop_preimages` forgets
        them. Raises `SlopError` (a `PathRefused`, a `StoreError`) when it cannot restore.
        """
        items: list[tuple[str, bytes | None]]
        if self.store is not None:
            items = list(self.store.preimages(ticket_id).items())
        else:
            items = self._memory.items(ticket_id)
        # Every target is checked before any is touched: a symlink planted since the ticket ran,
        # or a planted pre-image index that names `.git/config`, refuses the whole undo rather
        # than leaving it half done.
        targets = [(self._restore_target(rel), content) for rel, content in items]
        restored: list[str] = []
        for rel, content in targets:
            # Also removes the temporary file a write of this ticket killed before its rename
            # left beside the file.
            restore_at(self.root, rel, content)
            restored.append(rel)
        return restored

    def current_hash(self, rel: str) -> str | None:
        """`content_hash` of the file at `rel` now (None: absent), read the way a restore
        writes: checked like one, through the descriptor walk, never through a symlink."""
        return content_hash(read_at(self.root, self._restore_target(rel)))

    def _restore_target(self, rel: str) -> str:
        """The pre-image path `rel` as it will be restored, with every check a write gets:
        lexical, never .git/.slop at any depth, inside the repository, no symlink on the way,
        regular files only. Touches nothing."""
        pure = check_lexical(rel).as_posix()
        if pure == ".":
            raise PathRefused(rel, "it is the repository root, not a file")
        check_writable(pure)
        real = resolve_in_repo(self.root, pure)
        check_writable(repo_relative(self.root, real))
        check_at(self.root, pure)
        return pure


def _byte_count(text: str, limit: int) -> tuple[int, str]:
    """(size in bytes, that size as shown). Over the limit in characters alone, a non-ASCII
    text is not encoded to be counted: its character count is shown as "at least"."""
    if text.isascii():
        return len(text), f"{len(text):,}"
    if len(text) > limit:
        return len(text), f"at least {len(text):,}"
    size = utf8_size(text)
    return size, f"{size:,}"


def describe_error(exc: BaseException) -> str:
    """An exception as the one line a worker or a person reads."""
    if isinstance(exc, SlopError):
        return str(exc)
    if isinstance(exc, OSError):
        name = exc.filename if isinstance(exc.filename, str) else ""
        return f"{exc.strerror or exc}{f' ({name})' if name else ''}"
    return str(exc)


def repo_relative_lexical(root: Path, path: Path) -> str:
    """A path under the root as text, without resolving symlinks (for listings)."""
    return path.relative_to(root).as_posix()
