"""Atomic file replacement (temporary file, fsync, rename, fsync of the folder) and the
clean-up of the temporary files a crash left behind."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

from slop_tui.store.crash_points import _CRASH, _crash_here, _die
from slop_tui.store.layout import SLOP_DIR, StoreError


def current_umask() -> int:
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
        mode if mode is not None else 0o666 & ~current_umask()
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



# Files in `.slop/` are never reached through a symlink: the `.slop/` check refuses one first
# (`guard.py`), and these refuse one planted after it.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _not_followed(path: Path, exc: OSError, doing: str) -> StoreError:
    if os.path.islink(path):
        return StoreError(f"{path}: refused to {doing}: it is a symlink (slop's private state "
                          "is never reached through one)")
    return StoreError(f"{path}: cannot {doing}: {exc.strerror or exc}")


def read_private(path: Path) -> bytes:
    """The bytes of a regular file in `.slop/`, never through a symlink (`StoreError`);
    `FileNotFoundError` when it is absent. A FIFO or device is refused, not waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _not_followed(path, exc, "read") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"{path}: refused to read: not a regular file")
        chunks: list[bytes] = []
        while chunk := os.read(fd, max(info.st_size, 1 << 16)):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes, *, mode: int) -> None:
    """`atomic_write` for a file in `.slop/`: never through a symlink, always `mode`.

    The temporary file is made with `O_EXCL | O_NOFOLLOW` and renamed over `path` itself, so a
    symlink at `path` is replaced (its target untouched), and the folder is opened without
    following a symlink either.
    """
    directory, name = Path(path).parent, Path(path).name
    tmp = f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW)
    except OSError as exc:
        raise _not_followed(directory, exc, "write") from None
    try:
        try:
            os.unlink(tmp, dir_fd=dir_fd)  # a leftover of this very thread (a failed write)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600,
                     dir_fd=dir_fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if _CRASH is not None and _crash_here("rename", "slop"):
            _die()
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)
    except OSError as exc:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise StoreError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(dir_fd)

TEMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.\d+\.tmp$")


def process_alive(pid: int) -> bool:
    """True when `pid` runs (or exists under another user)."""
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
        match = TEMP_NAME.match(entry.name)
        if match is None or (name is not None and entry.name.rsplit(".", 3)[0] != f".{name}"):
            continue
        # A live process (another slop showing status, say) may be about to rename it.
        if process_alive(int(match["pid"])) or entry.is_symlink() or not entry.is_file():
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

