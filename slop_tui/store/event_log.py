"""The append-only event log: write-ahead, group commit, torn lines and quarantine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgspec

from slop_tui.models import AnyEvent, clip_message
from slop_tui.store.atomic import _CLOEXEC, _NOFOLLOW, read_private, write_private
from slop_tui.store.base import StoreBase
from slop_tui.store.crash_points import _CRASH, _crash_in_batch, _write_all
from slop_tui.store.layout import _PRIVATE, EVENTS_FILE, StoreError, _timestamp
from slop_tui.store.log_digest import bounded_for_log
from slop_tui.words import counted


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


class _SeqProbe(msgspec.Struct):
    seq: int = 0


_EVENT_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)

def _own_handle(fd: int, path: Path) -> int:
    """A new handle (not a duplicate: its own write-back error state) on `fd`'s file."""
    try:
        return os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_APPEND)
    except OSError:
        pass
    other = os.open(path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW)  # no /proc: by name, if it is that file
    mine, theirs = os.fstat(fd), os.fstat(other)
    if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
        return other
    os.close(other)
    return os.dup(fd)


def _restore_seqs(events: Sequence[AnyEvent], seqs: list[int]) -> None:
    for event, seq in zip(events, seqs):
        event.seq = seq


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


class EventLog(StoreBase):
    """The event log of `.slop/` (`events.jsonl`): appended, fsynced, read back."""

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
            fd = os.open(
                self.events_path,
                os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC,
                _PRIVATE,
            )
        except OSError as exc:
            raise StoreError(f"{self.events_path}: cannot open: {exc.strerror or exc}") from None
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                aside = self.root / f"{EVENTS_FILE}.torn-{_timestamp()}"
                write_private(aside, data[keep:], mode=_PRIVATE)
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
                self._guard()
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
                    lines.append(self._encode(bounded_for_log(event)) + b"\n")
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
        self._guard()
        try:
            data = read_private(self.events_path)
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
        write_private(aside, data, mode=_PRIVATE)
        lines = data.split(b"\n")[:-1]
        kept = b"".join(
            line + b"\n"
            for number, line in enumerate(lines, start=1)
            if number not in bad and line.strip()
        )
        self.close()  # the open descriptor points at the file being replaced
        write_private(self.events_path, kept, mode=_PRIVATE)
        self._last_seq = None
        shown = ", ".join(f"{n} ({clip_message(reason, 80)})" for n, reason in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        self.warnings.append(
            f"{self.events_path}: dropped {counted(len(bad), 'corrupt line')}: {shown}{more}; the whole "
            f"log was kept as {aside.name}"
        )

