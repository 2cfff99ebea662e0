"""One writer per repository: an exclusive `flock` on `.slop/lock`, held for a slop process's
whole life once it runs, resumes or undoes.

Two runs on one repository would apply edits twice and move each other's log and pre-images
underfoot, so the second process is refused with one line naming the holder's PID. Readers
(`status`, `view`, `doctor`) never take it.

- The kernel releases a `flock` when its holder dies (`kill -9` included), so a dead holder's
  lock is simply taken over; nothing has to be cleaned up first.
- The file holds the holder's PID (first line) for the refusal and for `slop status`. A PID in
  the file is only believed while the lock is held: a crashed holder leaves its PID behind, and
  a new holder writes its own only after it has the lock, so a contender in that instant
  checks `/proc/locks` (Linux: the kernel's own list of who holds which lock) and, failing
  that, whether the PID still runs.
- `.slop/` goes through the issue-12 guard (`check_private_state`) before anything is created,
  and the file is opened with `O_NOFOLLOW` relative to a `.slop/` opened with `O_NOFOLLOW`, so
  a symlink planted after the check still cannot redirect the open. `O_CLOEXEC` keeps the lock
  out of the commands a run starts: a background job left by a command must not hold it.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from slop_tui.display import sanitize
from slop_tui.store.atomic import fsync_dir, process_alive
from slop_tui.store.guard import check_private_state
from slop_tui.store.layout import SLOP_DIR, StoreError, exclude_from_git

LOCK_FILE = "lock"
_PROC_LOCKS = "/proc/locks"
_TAKEOVER_TRIES = 5  # a holder exiting while we look: try again before refusing
_TAKEOVER_PAUSE_S = 0.01


class RunLockHeld(StoreError):
    """Another live process holds the repository's lock; `pid` is None when it cannot be told."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def _shown(path: Path) -> str:
    return sanitize(str(path), one_line=True)


def _read_pid(fd: int) -> int | None:
    """The PID on the file's first line, or None (empty, being written, not a number)."""
    try:
        data = os.pread(fd, 32, 0)
    except OSError:
        return None
    first = data.split(b"\n", 1)[0].strip()
    if not first.isdigit() or len(first) > 10:
        return None
    pid = int(first)
    return pid if pid > 0 else None


def _flock_holder(st: os.stat_result) -> tuple[bool, int | None]:
    """(known, pid): whether `/proc/locks` could be read, and the PID holding a `flock` on the
    file `st` describes (None when nobody does)."""
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open(_PROC_LOCKS, encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False, None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146562 0 EOF"; "1: -> FLOCK ..." is a waiter.
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[5] != device:
            continue
        try:
            return True, int(fields[4])
        except ValueError:
            return True, None
    return True, None


def _holder(fd: int) -> int | None:
    """Who holds the lock on `fd`'s file, as well as it can be told; None when unknown."""
    written = _read_pid(fd)
    try:
        known, held_by = _flock_holder(os.fstat(fd))
    except OSError:
        known, held_by = False, None
    if known and held_by is None:
        return None  # the kernel says nobody holds it: a PID in the file is a dead holder's
    if held_by is not None and held_by > 0:
        return held_by
    # No /proc/locks, or a holder it shows as 0 (another PID namespace): the file's word,
    # while that process lives.
    return written if written is not None and process_alive(written) else None


class RepoLock:
    """The one-writer lock of the repository at `repo_root`.

    `acquire()` raises `RunLockHeld` (one line, naming the holder's PID) when another process
    holds it, and `StoreError` when `.slop/` is refused by the guard or cannot be written.
    Use as a context manager (`with RepoLock(repo):`) for a command's whole body.
    """

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = Path(repo_root)
        self.root = self.repo_root / SLOP_DIR
        self.path = self.root / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> Self:
        if self._fd is not None:
            return self
        check_private_state(self.repo_root)  # a planted .slop/ is refused before it is touched
        fd = self._open()
        try:
            self._lock(fd)
            pid = str(os.getpid()).encode() + b"\n"
            os.pwrite(fd, pid, 0)  # one write: a reader sees the old line or the new one
            os.ftruncate(fd, len(pid))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Clear the PID (so nobody reads a finished process as the holder) and unlock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the lock still goes with the close; a leftover PID is not believed
        os.close(fd)

    def _open(self) -> int:
        created = False
        try:
            os.mkdir(self.root)
            created = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"{_shown(self.root)}: cannot create: {exc.strerror or exc}") from None
        if created:
            fsync_dir(self.repo_root)
            try:
                exclude_from_git(self.repo_root)
            except StoreError:
                pass  # the store says so in its warnings when it prepares the folder
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            dir_fd = os.open(self.root, flags)
        except OSError as exc:
            raise StoreError(f"{_shown(self.root)}: cannot open: {exc.strerror or exc}") from None
        try:
            # O_NONBLOCK: a FIFO planted after the guard must not hang the open.
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            fd = os.open(LOCK_FILE, flags, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            raise StoreError(f"{_shown(self.path)}: cannot open: {exc.strerror or exc}") from None
        finally:
            os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError(f"{_shown(self.path)}: refused: not a regular file; {SLOP_DIR}/ holds "
                             "slop's private state: move it aside and run slop again")
        return fd

    def _lock(self, fd: int) -> None:
        pid: int | None = None
        for attempt in range(_TAKEOVER_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pid = _holder(fd)
            except OSError as exc:
                raise StoreError(f"{_shown(self.path)}: cannot lock: {exc.strerror or exc}") from None
            if pid is not None:
                break
            # Nobody to name: the holder is exiting (its lock is about to go) or has not
            # written its PID yet. Look again in a moment rather than refuse blind.
            time.sleep(_TAKEOVER_PAUSE_S * (attempt + 1))
        who = f"another slop (pid {pid})" if pid is not None else "another slop"
        raise RunLockHeld(
            f"{_shown(self.repo_root)}: {who} is running on this repository; wait for it or stop it",
            pid,
        )

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


_process_locks: dict[Path, RepoLock] = {}
_process_locks_guard = threading.Lock()


def hold_for_process(repo_root: Path) -> RepoLock:
    """Take the lock of `repo_root` for the rest of this process's life (the TUI, once it
    starts a run); taking it again in the same process is a no-op."""
    key = Path(repo_root).resolve()
    with _process_locks_guard:
        lock = _process_locks.get(key)
        if lock is None:
            lock = RepoLock(key)
        lock.acquire()
        _process_locks[key] = lock
        return lock


def lock_holder(repo_root: Path) -> int | None:
    """The PID of the live process holding `repo_root`'s lock, or None. Reads only: it never
    creates, locks (a probe could make a starting run lose its lock) or follows a symlink."""
    path = Path(repo_root) / SLOP_DIR / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _holder(fd)
    finally:
        os.close(fd)
