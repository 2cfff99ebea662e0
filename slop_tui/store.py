"""Persistence in a repository's `.slop/`: session state, the event log, and pre-images.

- `state.json`: the session (tracks, tickets, states, usage), with a format `version`, always
  replaced atomically (temporary file, fsync, rename, fsync of the directory).
- `events.jsonl`: every event, one JSON line each, appended and fsynced before `append()`
  returns (write-ahead): what a caller was told is written survives a `kill -9`.
- `preimages/<ticket>/`: the content of every file before a ticket first touched it, so the
  ticket can be undone.

The log is the truth and `state.json` a checkpoint: loading rolls the checkpoint forward with
the events logged after it, and a corrupt checkpoint is moved aside and rebuilt by `replay`.
Everything is encoded with `models.enc_hook`, so a `Secret` can only ever be written as a mask,
and the values registered with `add_secrets` are redacted from every byte written here.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models import (
    AnyEvent,
    ErrorRaised,
    FileChanged,
    PlanAccepted,
    RunFinished,
    RunStarted,
    Secret,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
    Usage,
    UsageUpdated,
    clip_message,
    enc_hook,
)

STATE_VERSION = 1
SLOP_DIR = ".slop"
STATE_FILE = "state.json"
EVENTS_FILE = "events.jsonl"
PREIMAGES_DIR = "preimages"
RUNS_DIR = "runs"
_PREIMAGE_INDEX = "index.json"
_PRIVATE = 0o600  # the log holds raw command output: readable by its owner only
_MIN_SECRET = 8  # shorter "secrets" are not keys, and redacting them would maul the log


class LogWrite:
    """A batch written to the event log, not yet known durable (`Store.write_batch`)."""

    __slots__ = ("events", "previous", "fd", "start", "number", "failed")

    def __init__(
        self, events: list[AnyEvent], previous: list[int], fd: int, start: int, number: int
    ) -> None:
        self.events = events
        self.previous = previous  # the seqs they had: restored if the batch fails
        # A handle of its own, opened before the batch was written: the kernel reports a
        # failed write-back to every handle opened before it, so its fsync tells the truth
        # about this batch whatever other syncs ran beside it.
        self.fd = fd
        self.start = start  # where the batch begins in the log
        self.number = number
        self.failed = False


class StoreError(SlopError):
    """`.slop/` cannot be read or written as asked; the message names the file."""


class SessionState(msgspec.Struct, kw_only=True):
    """One run as a checkpoint: what `slop status` shows and `slop resume` continues."""

    version: int = STATE_VERSION
    run_id: str
    prompt: str
    tracks: list[Track] = msgspec.field(default_factory=list)
    last_seq: int = 0  # the seq of the last event this state includes
    finished: bool = False
    ok: bool | None = None  # set with `finished`
    message: str = ""  # RunFinished's message
    last_error: str | None = None
    started_at: float = 0.0
    updated_at: float = 0.0
    usage: Usage = msgspec.field(default_factory=Usage)  # every tier, every call
    usage_by_tier: dict[Tier, Usage] = msgspec.field(default_factory=dict)

    def tickets(self) -> list[tuple[Track, Ticket]]:
        """Every ticket with its track, tracks in plan order."""
        return [(track, ticket) for track in self.tracks for ticket in track.tickets]

    def find_ticket(self, ticket_id: str, track_id: str | None = None) -> tuple[Track, Ticket]:
        """The ticket named `ticket_id` (in `track_id` when given); `KeyError` if absent.

        Ticket ids are unique within a track only, so without a track an id that two tracks
        share is ambiguous and raises `KeyError` too.
        """
        found = [
            (track, ticket)
            for track, ticket in self.tickets()
            if ticket.id == ticket_id and (track_id is None or track.id == track_id)
        ]
        if len(found) != 1:
            raise KeyError(ticket_id)
        return found[0]


class _VersionProbe(msgspec.Struct):
    """Read before the whole state, so a newer format is reported, never misread."""

    version: int


class _SeqProbe(msgspec.Struct):
    seq: int = 0


class _PreimageIndex(msgspec.Struct, kw_only=True):
    ticket_id: str
    files: dict[str, str | None] = msgspec.field(default_factory=dict)  # rel_path -> blob


_EVENT_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_STATE_DECODER = msgspec.json.Decoder(SessionState)
_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook)


# ---------------------------------------------------------------------------
# Test-only crash points
# ---------------------------------------------------------------------------

# `SLOP_TEST_CRASH_AT=<point>:<n>` or `<point>:<kind>:<n>` makes this process SIGKILL itself
# (a `kill -9` at an exact moment) the n-th time it reaches <point>, counting only <kind>:
#   append       an event (kind: its tag, e.g. file_changed) about to be written;
#   append-half  half of that event's line written, the rest never;
#   append-done  the line written and fsynced, `append` not yet returned;
#   rename       an atomic write's temporary file complete, not yet renamed over its target
#                (kind: `slop` for files in .slop/, `repo` for the repository's files).
# In a batch (`write_batch`, the bus's group commit) each event reaches the append points in
# turn, and the kill leaves the log as a kill during the batch's one write can: the lines
# before the event (append), those and half of its line (append-half), or those and its whole
# line (append-done), fsynced; nothing after it.
# The reliability suite (tests/reliability/test_crashes.py) kills runs there and resumes them.
# Unset (always, outside that suite) each point costs one comparison.
CRASH_ENV = "SLOP_TEST_CRASH_AT"


def _crash_spec(text: str) -> tuple[str, str | None, int] | None:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[-1].isdigit():
        return None
    return parts[0], (parts[1] if len(parts) == 3 else None), int(parts[-1])


_CRASH = _crash_spec(os.environ.get(CRASH_ENV, ""))
_crash_reached = 0


def _crash_here(point: str, kind: str) -> bool:
    """True the n-th time `point` is reached for the configured kind (test runs only)."""
    global _crash_reached
    if _CRASH is None or _CRASH[0] != point or _CRASH[1] not in (None, kind):
        return False
    _crash_reached += 1
    return _crash_reached == _CRASH[2]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _crash_in_batch(fd: int, events: Sequence[AnyEvent], lines: list[bytes]) -> None:
    """Die at the configured append point if an event of this batch reaches it (see above)."""
    assert _CRASH is not None
    point = _CRASH[0]
    if point not in ("append", "append-half", "append-done"):
        return
    for index, (event, line) in enumerate(zip(events, lines)):
        if not _crash_here(point, str(type(event).__struct_config__.tag)):
            continue
        before = b"".join(lines[:index])
        if point == "append-half":
            before += line[: len(line) // 2]
        elif point == "append-done":
            before += line
        _write_all(fd, before)
        os.fsync(fd)
        _die()


def _own_handle(fd: int, path: Path) -> int:
    """A new handle (not a duplicate: its own write-back error state) on `fd`'s file."""
    try:
        return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_APPEND)
    except OSError:
        pass
    other = os.open(path, os.O_WRONLY | os.O_APPEND)  # no /proc: by name, if it is that file
    mine, theirs = os.fstat(fd), os.fstat(other)
    if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
        return other
    os.close(other)
    return os.dup(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _restore_seqs(events: Sequence[AnyEvent], seqs: list[int]) -> None:
    for event, seq in zip(events, seqs):
        event.seq = seq


# ---------------------------------------------------------------------------
# Atomic files
# ---------------------------------------------------------------------------


def _current_umask() -> int:
    # /proc avoids os.umask()'s set-and-restore, which races with other threads.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` so a reader sees the old or the new file, never half of one.

    A temporary file in the same directory is written, fsynced, renamed over `path`, and the
    directory fsynced. The file keeps the permissions of the one it replaces (an executable
    script stays executable); a new file gets `mode`, or the usual 0o666 less the umask. A
    symlink is written through (its target is replaced) rather than replaced by a file.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    directory = target.parent
    try:
        existing = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise StoreError(f"{path}: cannot write: {exc.strerror or exc}") from None
    final_mode = existing if existing is not None else (
        mode if mode is not None else 0o666 & ~_current_umask()
    )
    tmp = directory / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, final_mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if _CRASH is not None and _crash_here("rename", "slop" if SLOP_DIR in target.parts else "repo"):
            _die()
        os.replace(tmp, target)
        fsync_dir(directory)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreError(f"{path}: cannot write: {exc.strerror or exc}") from None


_TEMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.\d+\.tmp$")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_temps(directory: Path, name: str | None = None) -> list[Path]:
    """Delete the temporary files (of `name`, or of any file) that `atomic_write`s killed
    between their write and their rename left in `directory`; a live writer's are kept."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or (name is not None and entry.name.rsplit(".", 3)[0] != f".{name}"):
            continue
        # A live process (another slop showing status, say) may be about to rename it.
        if _process_alive(int(match["pid"])) or entry.is_symlink() or not entry.is_file():
            continue
        try:
            entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


def remove_stale_temp_files(path: Path) -> list[Path]:
    """The leftovers of an `atomic_write(path, ...)` that a crash (`kill -9`, power loss)
    stopped before its rename: `.<name>.<pid>.<thread>.tmp` beside `path`, writer dead.

    A resumed run calls this for every file it restores, so a crash never leaves a stray
    temporary file in the repository. Returns what was removed.
    """
    return _remove_dead_temps(Path(path).parent, Path(path).name)


# ---------------------------------------------------------------------------
# Replay: the state is a fold of the event log
# ---------------------------------------------------------------------------


def apply_event(
    state: SessionState | None, event: AnyEvent, warnings: list[str] | None = None
) -> SessionState | None:
    """Apply one event to `state` in place (or start a new one) and return the state.

    The log is the truth, so a state change is set, not checked against the state machine.
    Events before the first `RunStarted` belong to no run and are ignored.
    """
    if isinstance(event, RunStarted):
        return SessionState(
            run_id=event.run_id,
            prompt=event.prompt,
            last_seq=event.seq,
            started_at=event.at,
            updated_at=event.at,
        )
    if state is None:
        return None
    if isinstance(event, PlanAccepted):
        # Tier 2 may answer track by track: a track replaces the one with its id or is added.
        # A copy, so the state never shares (and later mutates) the event's objects.
        index = {track.id: i for i, track in enumerate(state.tracks)}
        for track in copy.deepcopy(event.tracks):
            if track.id in index:
                state.tracks[index[track.id]] = track
            else:
                index[track.id] = len(state.tracks)
                state.tracks.append(track)
    elif isinstance(event, TicketStateChanged):
        try:
            _, ticket = state.find_ticket(event.ticket_id, event.track_id)
        except KeyError:
            if warnings is not None:
                warnings.append(
                    f"event {event.seq}: state change of unknown or ambiguous ticket "
                    f"{event.ticket_id!r} ignored"
                )
        else:
            was_done = ticket.state is TicketState.DONE
            ticket.state = event.new
            ticket.blocked_reason = event.reason if event.new is TicketState.BLOCKED else None
            if event.summary is not None:
                ticket.result_summary = event.summary
            elif was_done and event.new is TicketState.TODO:
                ticket.result_summary = None  # reverted by undo
            if event.model is not None:
                ticket.assigned_model = event.model
    elif isinstance(event, UsageUpdated):
        state.usage = state.usage + event.usage
        state.usage_by_tier[event.tier] = state.usage_by_tier.get(event.tier, Usage()) + event.usage
        if event.ticket_id is not None:
            try:
                _, ticket = state.find_ticket(event.ticket_id, event.track_id)
            except KeyError:
                pass  # usage before the plan exists (or of a shared id) counts for the run only
            else:
                ticket.usage = ticket.usage + event.usage
                if event.tier is Tier.WORKER:
                    ticket.assigned_model = event.model
    elif isinstance(event, ErrorRaised):
        state.last_error = event.message
    elif isinstance(event, RunFinished):
        state.finished = True
        state.ok = event.ok
        state.message = event.message
    state.last_seq = max(state.last_seq, event.seq)
    state.updated_at = max(state.updated_at, event.at)
    return state


def replay(
    events: Iterable[AnyEvent],
    base: SessionState | None = None,
    warnings: list[str] | None = None,
) -> SessionState | None:
    """Rebuild a run's state from its events (onto `base`, a checkpoint, when given).

    Uses `RunStarted`, `PlanAccepted`, `TicketStateChanged`, `UsageUpdated`, `ErrorRaised`
    and `RunFinished`; every event advances `last_seq`. None when no run has started.
    """
    state = base
    for event in events:
        state = apply_event(state, event, warnings)
    return state


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------


def _safe_name(text: str) -> str:
    """A file name for any string: a readable prefix plus a hash, so `../x` or `a/b` is safe."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:40].lstrip(".") or "_"
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _timestamp() -> str:
    now = time.time()
    micro = int(now * 1e6) % 1_000_000
    return time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{micro:06d}"


def _git_exclude_file(start: Path) -> Path | None:
    """`info/exclude` of the git repository holding `start`, worktrees included."""
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        if dot_git.is_dir():
            return dot_git / "info" / "exclude"
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            try:
                line = dot_git.read_text().strip()
            except OSError:
                return None
            if not line.startswith("gitdir:"):
                return None
            git_dir = (directory / line.removeprefix("gitdir:").strip()).resolve()
            common = git_dir / "commondir"  # worktrees share the main repository's info/
            if common.is_file():
                git_dir = (git_dir / common.read_text().strip()).resolve()
            return git_dir / "info" / "exclude"
    return None


def exclude_from_git(repo_root: Path) -> bool:
    """Add `.slop/` to the repository's `.git/info/exclude` once; False when not in git."""
    exclude = _git_exclude_file(repo_root.resolve())
    if exclude is None:
        return False
    pattern = f"{SLOP_DIR}/"
    try:
        current = exclude.read_text() if exclude.exists() else ""
        if any(line.strip() in (pattern, f"/{pattern}", SLOP_DIR) for line in current.splitlines()):
            return True
        exclude.parent.mkdir(parents=True, exist_ok=True)
        separator = "" if not current or current.endswith("\n") else "\n"
        with open(exclude, "a", encoding="utf-8") as fh:
            fh.write(f"{separator}# slop-tui's run state\n{pattern}\n")
    except OSError as exc:
        raise StoreError(f"{exclude}: cannot add {pattern}: {exc.strerror or exc}") from None
    return True


def _decode_lines(data: bytes) -> tuple[list[AnyEvent], dict[int, str]]:
    """The events of a log's complete lines, and the corrupt ones: line number -> why.

    The piece after the last newline is empty, or a line that was never acknowledged.
    """
    result: list[AnyEvent] = []
    bad: dict[int, str] = {}
    for lineno, line in enumerate(data.split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            result.append(_EVENT_DECODER.decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            bad[lineno] = str(exc)
    return result, bad


class Store:
    """The `.slop/` directory of one repository. Cheap to create: nothing is touched until used.

    `secrets` (and `add_secrets`) are credential values redacted from everything written, a
    second line of defence behind `Secret`'s mask: a command's output that printed a key
    still never reaches the disk.
    """

    def __init__(self, repo_root: Path, *, secrets: Iterable[Secret | str] = ()) -> None:
        self.repo_root = Path(repo_root)
        self.root = self.repo_root / SLOP_DIR
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        # Pre-images have a lock of their own (taken before `_lock` when both are): their
        # atomic writes (fsyncs) never hold up the event log's writer.
        self._preimage_lock = threading.RLock()
        self._fd: int | None = None
        self._last_seq: int | None = None
        # The seq of the loaded checkpoint: a log that lost its tail (emptied, cut back,
        # removed) must not number new events below it, or the next load would skip them.
        self._seq_floor = 0
        self._prepared = False
        # fsyncs of the event log so far: what the bus's group commit saves is counted here.
        self.log_fsyncs = 0
        # Batches written and not yet settled (`write_batch` / `sync_batch`), in write order.
        self._settled = threading.Condition(self._lock)
        self._unsettled: collections.deque[LogWrite] = collections.deque()
        self._writes = 0
        self._secrets: list[tuple[bytes, bytes]] = []
        self.add_secrets(*secrets)

    # -- paths ---------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS_FILE

    def _preimage_dir(self, ticket_id: str) -> Path:
        return self.root / PREIMAGES_DIR / _safe_name(ticket_id)

    # -- secrets -------------------------------------------------------------

    def add_secrets(self, *secrets: Secret | str | None) -> None:
        """Register credential values that must never be written (as text or JSON-escaped)."""
        for secret in secrets:
            if secret is None:
                continue
            value = secret.reveal() if isinstance(secret, Secret) else secret
            if len(value) < _MIN_SECRET:
                continue
            escaped = msgspec.json.encode(value)[1:-1]
            pair = (escaped, value.encode())
            if pair not in self._secrets:
                self._secrets.append(pair)

    @property
    def secret_values(self) -> list[str]:
        """The registered credential values (for callers that must mask them in text they pass
        on, such as a command's output on its way to a model). Never print this list."""
        return [raw.decode("utf-8", "replace") for _, raw in self._secrets]

    def _redact(self, data: bytes) -> bytes:
        for escaped, raw in self._secrets:
            data = data.replace(escaped, b"***").replace(raw, b"***")
        return data

    def _encode(self, obj: object) -> bytes:
        return self._redact(_ENCODER.encode(obj))

    # -- setup ---------------------------------------------------------------

    def _prepare(self) -> None:
        """Create `.slop/` and keep it out of git, once, before the first write."""
        if self._prepared:
            return
        try:
            created = not self.root.is_dir()
            self.root.mkdir(parents=True, exist_ok=True)
            if created:
                fsync_dir(self.root.parent)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create: {exc.strerror or exc}") from None
        try:
            exclude_from_git(self.repo_root)
        except StoreError as exc:  # a read-only .git must not stop the run: say so instead
            self.warnings.append(str(exc))
        self._prepared = True

    def close(self) -> None:
        """Close the log's file handle (appending again reopens it)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the event log -------------------------------------------------------

    def _open_log(self) -> int:
        """Open the log for appending, first cutting off a torn last line.

        A line without its newline was never acknowledged (`append` returns after the newline
        is fsynced); appending after it would glue two events into one corrupt line. The torn
        bytes are kept beside the log.
        """
        if self._fd is not None:
            return self._fd
        self._prepare()
        try:
            fd = os.open(self.events_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, _PRIVATE)
        except OSError as exc:
            raise StoreError(f"{self.events_path}: cannot open: {exc.strerror or exc}") from None
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                aside = self.root / f"{EVENTS_FILE}.torn-{_timestamp()}"
                atomic_write(aside, data[keep:], mode=_PRIVATE)
                os.ftruncate(fd, keep)
                os.fsync(fd)
                self.log_fsyncs += 1
                self.warnings.append(
                    f"{self.events_path}: cut an unfinished last line ({size - keep} bytes, "
                    f"never acknowledged) and kept it as {aside.name}"
                )
                data = data[:keep]
            try:
                self._last_seq = self._last_seq_in(data)
            except StoreError:
                os.close(fd)
                self._quarantine_log(data)
                return self._open_log()
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            raise
        self._fd = fd
        return fd

    def _last_seq_in(self, data: bytes) -> int:
        end = len(data)
        while end > 0:
            start = data.rfind(b"\n", 0, end - 1) + 1
            line = data[start:end].strip()
            if line:
                try:
                    return msgspec.json.decode(line, type=_SeqProbe).seq
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    lineno = data.count(b"\n", 0, start) + 1
                    raise StoreError(
                        f"{self.events_path}:{lineno}: corrupt event ({exc}); move "
                        f"{self.root} aside to start afresh"
                    ) from None
            end = start
        return 0

    @property
    def last_seq(self) -> int:
        """The seq of the last event in the log (0 when it is empty)."""
        with self._lock:
            if self._last_seq is None:
                if not self.events_path.exists():
                    return 0
                self._open_log()
            assert self._last_seq is not None
            return self._last_seq

    def append(self, event: AnyEvent) -> AnyEvent:
        """Give `event` the next seq, write it as one JSON line, fsync, and only then return it.

        The event is updated in place (and returned). On failure nothing is logged, the seq is
        not used and `StoreError` is raised. (The bus batches with `append_batch` instead.)
        """
        return self.append_batch([event])[0]

    def append_batch(self, events: Sequence[AnyEvent]) -> list[AnyEvent]:
        """Append `events` with consecutive seqs, in order: one write and one fsync for all.

        Each event is updated in place; the list is returned once the whole batch is
        fsynced. All or nothing: if an event cannot be encoded or the write or the fsync
        fails, no seq is used, the events keep their old seqs, the log is cut back to where
        it ended, and `StoreError` is raised.
        """
        if not events:
            return []
        return self.sync_batch(self.write_batch(events))

    def write_batch(self, events: Sequence[AnyEvent]) -> LogWrite:
        """The first half of `append_batch`: number, encode and write `events`, not yet
        durable. Every `LogWrite` must then go to `sync_batch`, once.

        Group commit: the bus's writer thread writes the next batch while earlier ones are
        still being synced (`sync_batch` runs outside the store's lock), so a batch does not
        wait for the sync before it to end before its own begins.
        """
        if not events:
            raise ValueError("write_batch() needs at least one event")
        with self._lock:
            fd = self._open_log()
            assert self._last_seq is not None
            first = max(self._last_seq, self._seq_floor) + 1
            previous = [event.seq for event in events]
            lines: list[bytes] = []
            for offset, event in enumerate(events):
                event.seq = first + offset
                try:
                    lines.append(self._encode(event) + b"\n")
                except (TypeError, NotImplementedError) as exc:
                    _restore_seqs(events, previous)
                    raise StoreError(
                        f"{self.events_path}: cannot encode {type(event).__name__}: {exc}"
                    ) from None
            try:
                size = os.fstat(fd).st_size
                sync_fd = _own_handle(fd, self.events_path)
            except OSError as exc:
                _restore_seqs(events, previous)
                raise StoreError(
                    f"{self.events_path}: cannot append: {exc.strerror or exc}"
                ) from None
            if _CRASH is not None:
                _crash_in_batch(fd, events, lines)
            try:
                _write_all(fd, b"".join(lines))
            except OSError as exc:
                os.close(sync_fd)
                _restore_seqs(events, previous)
                try:  # leave no torn line behind for the next append to glue onto
                    os.ftruncate(fd, size)
                except OSError:
                    pass
                # Reopened on the next append, which re-reads where the log ends (and cuts
                # whatever of this batch the truncation could not take back).
                self.close()
                raise StoreError(
                    f"{self.events_path}: cannot append: {exc.strerror or exc}"
                ) from None
            self._last_seq = events[-1].seq
            self._writes += 1
            write = LogWrite(list(events), previous, sync_fd, size, self._writes)
            self._unsettled.append(write)
            return write

    def sync_batch(self, write: LogWrite) -> list[AnyEvent]:
        """The second half of `append_batch`: fsync (outside the lock), then settle in write
        order: a batch is durable once its fsync and every earlier batch's succeeded.

        A failed fsync fails its batch and every batch written after it (the log is cut back
        to where the failed one began), and `StoreError` is raised for each.
        """
        error: OSError | None = None
        try:
            os.fsync(write.fd)
        except OSError as exc:
            error = exc
        with self._settled:
            self.log_fsyncs += 1
            if error is not None and not write.failed:
                self._fail_from(write)
            while not write.failed and self._unsettled[0] is not write:
                self._settled.wait()
            try:
                os.close(write.fd)
            except OSError:
                pass
            self._unsettled.remove(write)
            self._settled.notify_all()
            if write.failed:
                _restore_seqs(write.events, write.previous)
                why = (error.strerror or str(error)) if error is not None else (
                    "an earlier batch could not be synced"
                )
                raise StoreError(f"{self.events_path}: cannot append: {why}")
            return write.events

    def _fail_from(self, failed: LogWrite) -> None:
        """`failed` and every batch written after it fail; the log is cut back (held)."""
        for write in self._unsettled:
            if write.number >= failed.number:
                write.failed = True
        try:  # through its own handle: the file it was written to, even if since renamed
            os.ftruncate(failed.fd, failed.start)
        except OSError:
            pass
        self._settled.notify_all()
        self.close()  # reopened by the next append, which re-reads where the log ends

    def events(self) -> list[AnyEvent]:
        """Every event in the log, in order. An unfinished last line (a crash mid-write) is
        skipped; a corrupt line anywhere else raises `StoreError` naming its line."""
        try:
            data = self.events_path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"{self.events_path}: cannot read: {exc.strerror or exc}") from None
        result, bad = _decode_lines(data)
        if bad:
            with self._lock:
                self._quarantine_log(data)
        return result

    def _quarantine_log(self, data: bytes) -> None:
        """Keep the whole log aside, then rewrite it with only the events that still decode.

        A corrupt line (a disk error, an editor, a format this version does not know) must not
        make the rest of the run unreadable: the events around it are still the truth. The
        unfinished piece after the last newline is dropped too (it was never acknowledged; the
        copy kept aside still has it).
        """
        _, bad = _decode_lines(data)
        aside = self.root / f"{EVENTS_FILE}.corrupt-{_timestamp()}"
        atomic_write(aside, data, mode=_PRIVATE)
        lines = data.split(b"\n")[:-1]
        kept = b"".join(
            line + b"\n"
            for number, line in enumerate(lines, start=1)
            if number not in bad and line.strip()
        )
        self.close()  # the open descriptor points at the file being replaced
        atomic_write(self.events_path, kept, mode=_PRIVATE)
        self._last_seq = None
        shown = ", ".join(f"{n} ({clip_message(reason, 80)})" for n, reason in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        self.warnings.append(
            f"{self.events_path}: dropped {len(bad)} corrupt line(s): {shown}{more}; the whole "
            f"log was kept as {aside.name}"
        )

    # -- the state checkpoint ------------------------------------------------

    def save_state(self, state: SessionState) -> None:
        """Write the state atomically; `last_seq` should be the seq of its last event."""
        with self._lock:
            self._prepare()
            atomic_write(self.state_path, self._encode(state), mode=_PRIVATE)

    def record(self, state: SessionState, event: AnyEvent) -> AnyEvent:
        """Append `event`, apply it to `state` (see `apply_event`), and save the state.

        For callers that keep the state only through events: `state` must then not be changed
        by hand for what the event says (usage would be counted twice). A `RunStarted` makes a
        new state rather than changing one: append it and `replay` it instead.
        """
        if isinstance(event, RunStarted):
            raise TypeError("record() cannot apply RunStarted to an existing state")
        with self._lock:
            logged = self.append(event)
            apply_event(state, logged, self.warnings)
            self.save_state(state)
            return logged

    def load_state(self) -> SessionState | None:
        """The last run's state, rolled forward with events logged after its checkpoint.

        None when there is no run. A newer format `version` raises `StoreError`. A corrupt or
        truncated state file is moved aside (`state.json.corrupt-<time>`, never deleted), and
        the state is rebuilt from the event log; `warnings` says so.
        """
        with self._lock:
            self._remove_temp_files()
            try:
                raw = self.state_path.read_bytes()
            except FileNotFoundError:
                raw = None
            except OSError as exc:
                raise StoreError(f"{self.state_path}: cannot read: {exc.strerror or exc}") from None
            if raw is None:
                state = replay(self.events(), warnings=self.warnings)
                if state is not None:
                    self.warnings.append(
                        f"{self.state_path} is missing; state rebuilt from {self.events_path.name}"
                    )
                return state
            try:
                probe = msgspec.json.decode(raw, type=_VersionProbe)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return self._recover(str(exc))
            if probe.version != STATE_VERSION:
                raise StoreError(
                    f"{self.state_path}: format version {probe.version} is not supported "
                    f"(this slop-tui reads version {STATE_VERSION}); nothing was changed"
                )
            try:
                state = _STATE_DECODER.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return self._recover(str(exc))
            events = self.events()
            self._seq_floor = max(self._seq_floor, state.last_seq)
            logged_to = events[-1].seq if events else 0
            if logged_to < state.last_seq:
                what = "is missing" if not self.events_path.exists() else (
                    f"ends at event {logged_to}"
                )
                self.warnings.append(
                    f"{self.events_path} {what} but {self.state_path.name} was saved at event "
                    f"{state.last_seq}; continuing from the saved state"
                )
            newer = [e for e in events if e.seq > state.last_seq]
            return replay(newer, state, self.warnings)

    def _recover(self, reason: str) -> SessionState | None:
        reason = clip_message(reason, 160)
        aside = self.root / f"{STATE_FILE}.corrupt-{_timestamp()}"
        try:
            os.replace(self.state_path, aside)
            fsync_dir(self.root)
        except OSError as exc:
            raise StoreError(
                f"{self.state_path}: corrupt ({reason}) and cannot be moved aside: "
                f"{exc.strerror or exc}"
            ) from None
        try:
            events = self.events()
        except StoreError as exc:
            raise StoreError(
                f"{self.state_path} was corrupt ({reason}), kept as {aside.name}; it cannot be "
                f"rebuilt because {exc}"
            ) from None
        state = replay(events, warnings=self.warnings)
        if state is None:
            self.warnings.append(
                f"{self.state_path} was corrupt ({reason}); kept as {aside.name}; the event log "
                "has no run to rebuild it from"
            )
            return None
        self.save_state(state)
        self.warnings.append(
            f"{self.state_path} was corrupt ({reason}); kept as {aside.name}; state rebuilt "
            f"from {len(events)} events in {self.events_path.name}"
        )
        return state

    def _remove_temp_files(self) -> None:
        """Temporary files of an `atomic_write` a crash interrupted: never the truth.

        In `.slop/` itself (state, log pieces) and in each ticket's pre-image folder.
        """
        if not self.root.is_dir():
            return
        _remove_dead_temps(self.root)
        preimages = self.root / PREIMAGES_DIR
        if preimages.is_dir():
            for folder in preimages.iterdir():
                if folder.is_dir() and not folder.is_symlink():
                    _remove_dead_temps(folder)

    # -- pre-images ----------------------------------------------------------

    @staticmethod
    def _normalise(rel_path: str) -> str:
        path = PurePosixPath(rel_path.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or not path.parts or str(path) == ".":
            raise StoreError(f"pre-image path {rel_path!r} is not a path inside the repository")
        return path.as_posix()

    def _read_index(self, ticket_id: str) -> _PreimageIndex | None:
        index_path = self._preimage_dir(ticket_id) / _PREIMAGE_INDEX
        try:
            index = msgspec.json.decode(index_path.read_bytes(), type=_PreimageIndex)
        except FileNotFoundError:
            return None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._recover_index(ticket_id, index_path, str(exc))
        except OSError as exc:
            raise StoreError(f"{index_path}: cannot read: {exc.strerror or exc}") from None
        if index.ticket_id != ticket_id:
            return self._recover_index(ticket_id, index_path, f"it names ticket {index.ticket_id!r}")
        return index

    def _recover_index(self, ticket_id: str, index_path: Path, reason: str) -> _PreimageIndex:
        """Keep a corrupt index aside and rebuild it from the log's `FileChanged` events.

        Each event names the path and its blob (None: the file was new); a blob's name is a
        hash of the path, so every incarnation of the ticket points at the same blob.
        """
        aside = index_path.with_name(f"{_PREIMAGE_INDEX}.corrupt-{_timestamp()}")
        try:
            os.replace(index_path, aside)
        except OSError as exc:
            raise StoreError(
                f"{index_path}: corrupt pre-image index ({clip_message(reason, 160)}) and cannot "
                f"be moved aside: {exc.strerror or exc}"
            ) from None
        index = _PreimageIndex(ticket_id=ticket_id)
        missing: list[str] = []
        for event in self.events():
            if not isinstance(event, FileChanged) or event.ticket_id != ticket_id:
                continue
            if event.preimage is None:
                index.files[event.path] = None
                continue
            blob = PurePosixPath(event.preimage).name
            if (index_path.parent / blob).is_file():
                index.files[event.path] = blob
            else:
                missing.append(event.path)
        atomic_write(index_path, self._encode(index), mode=_PRIVATE)
        lost = f"; no pre-image found for {', '.join(sorted(set(missing)))}" if missing else ""
        self.warnings.append(
            f"{index_path}: corrupt pre-image index ({clip_message(reason, 120)}); kept as "
            f"{aside.name}; rebuilt from {EVENTS_FILE} with {len(index.files)} file(s){lost}"
        )
        return index

    def save_preimage(self, ticket_id: str, rel_path: str, content: bytes | None) -> str | None:
        """Keep `rel_path`'s content from before `ticket_id` first changed it (None: absent).

        Only the first call per (ticket, path) counts: later ones are no-ops. Returns the
        blob's name relative to `.slop/` (for `FileChanged.preimage`), None for an absent file.
        """
        key = self._normalise(rel_path)
        with self._lock:
            self._prepare()
        with self._preimage_lock:
            directory = self._preimage_dir(ticket_id)
            index = self._read_index(ticket_id) or _PreimageIndex(ticket_id=ticket_id)
            if key in index.files:
                blob = index.files[key]
                return None if blob is None else f"{PREIMAGES_DIR}/{directory.name}/{blob}"
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{directory}: cannot create: {exc.strerror or exc}") from None
            blob_name: str | None = None
            if content is not None:
                # Blob first, index second: an index entry always has its blob on disk.
                blob_name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".bin"
                atomic_write(directory / blob_name, content, mode=_PRIVATE)
            index.files[key] = blob_name
            atomic_write(directory / _PREIMAGE_INDEX, self._encode(index), mode=_PRIVATE)
            return None if blob_name is None else f"{PREIMAGES_DIR}/{directory.name}/{blob_name}"

    def preimages(self, ticket_id: str) -> dict[str, bytes | None]:
        """rel_path -> content before `ticket_id` touched it (None: the file did not exist)."""
        with self._preimage_lock:
            index = self._read_index(ticket_id)
            if index is None:
                return {}
            directory = self._preimage_dir(ticket_id)
            result: dict[str, bytes | None] = {}
            for rel_path, blob in index.files.items():
                if blob is None:
                    result[rel_path] = None
                    continue
                try:
                    result[rel_path] = (directory / blob).read_bytes()
                except OSError as exc:
                    raise StoreError(
                        f"{directory / blob}: pre-image of {rel_path!r} for ticket {ticket_id!r} "
                        f"cannot be read: {exc.strerror or exc}"
                    ) from None
            return result

    def drop_preimages(self, ticket_id: str) -> None:
        """Forget a ticket's pre-images (after an undo, or once they are no longer wanted)."""
        with self._preimage_lock:
            directory = self._preimage_dir(ticket_id)
            if not directory.exists():
                return
            try:
                shutil.rmtree(directory)
                fsync_dir(directory.parent)
            except OSError as exc:
                raise StoreError(f"{directory}: cannot remove: {exc.strerror or exc}") from None

    # -- runs ----------------------------------------------------------------

    def archive_run(self) -> Path | None:
        """Move the current run (state, log, pre-images) to `.slop/runs/<time>-<run id>/`.

        For starting a new run with a clean log and no pre-images shared by ticket ids of the
        old one. Returns the archive folder, or None when there was nothing to archive.
        """
        with self._preimage_lock, self._lock:
            names = [STATE_FILE, EVENTS_FILE, PREIMAGES_DIR]
            present = [n for n in names if (self.root / n).exists()]
            if not present:
                return None
            try:
                state = self.load_state()
            except StoreError:
                state = None
            self.close()
            label = _safe_name(state.run_id) if state is not None else "unknown"
            archive = self.root / RUNS_DIR / f"{_timestamp()}-{label}"
            try:
                archive.mkdir(parents=True)
                for name in present:
                    os.replace(self.root / name, archive / name)
                fsync_dir(archive)
                fsync_dir(self.root)
            except OSError as exc:
                raise StoreError(
                    f"{archive}: cannot archive the run: {exc.strerror or exc}"
                ) from None
            self._last_seq = None
            self._seq_floor = 0
            return archive
