"""Write, read and remove repository files relative to directory descriptors (an openat walk).

A path that was checked is not a path that is used: between `resolve_in_repo` and the write,
a command running for another ticket can swap a folder for a symlink to outside, and a write by
name then lands outside the repository. Here every folder is opened one name at a time from
the repository root with `O_NOFOLLOW | O_DIRECTORY`, and the file is created, renamed and
removed relative to the last folder's descriptor. A symlink anywhere on the way is refused, a
folder swapped after it was opened is the folder that was checked (the write follows the
inode, not the name), and the temporary file lives in that same folder, so no failure leaves
it behind.

Each write is atomic and durable like the store's `atomic_write`: the temporary file
`.<name>.<pid>.<thread>.tmp` is written, fsynced and renamed over the target, then the folder
is fsynced. The file keeps its mode; a new one gets 0o666 less the umask. The temporary name is
the store's, so a crash between write and rename leaves a file that `restore_at` (and the
store's `remove_stale_temp_files`) recognise and remove.

Callers pass a repository-relative path that has passed the sandbox's lexical checks.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from slop_tui.errors import SlopError
from slop_tui.store.atomic import TEMP_NAME, current_umask, process_alive
from slop_tui.store.crash_points import die_at
from slop_tui.tools.sandbox import PathRefused

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
def _parts(rel: str) -> tuple[str, ...]:
    parts = PurePosixPath(rel).parts
    if not parts or any(p in (".", "..", "/") for p in parts):
        raise PathRefused(rel, "it is not a file path inside the repository")
    return parts


def _not_a_folder(dir_fd: int, name: str, rel: str, shown: str, exc: OSError) -> SlopError:
    """Why `name` in `dir_fd` could not be opened as a folder, as the error to raise."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return SlopError(f"{rel}: cannot open {shown} ({exc.strerror or exc})")
    if stat.S_ISLNK(mode):
        return PathRefused(rel, f"{shown} is a symlink; the file tools write only through real folders")
    if not stat.S_ISDIR(mode):
        return SlopError(f"{rel}: cannot be created, {shown} is a file, not a directory")
    return SlopError(f"{rel}: cannot open {shown} ({exc.strerror or exc})")


@contextmanager
def _parent_fd(root: Path, rel: str, *, create: bool) -> Iterator[int | None]:
    """The descriptor of `rel`'s folder, opened name by name from `root` without following a
    symlink; missing folders are made when `create`, else the descriptor is None."""
    parts = _parts(rel)
    fd = os.open(root, _DIR_FLAGS)
    try:
        for depth, name in enumerate(parts[:-1]):
            shown = "/".join(parts[: depth + 1])
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    yield None
                    return
                try:
                    os.mkdir(name, 0o777, dir_fd=fd)
                    os.fsync(fd)  # the new folder's entry survives a crash with the file
                except FileExistsError:
                    pass  # made meanwhile; opened (and checked) below like any other
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise _not_a_folder(fd, name, rel, shown, exc) from None
            except OSError as exc:
                raise _not_a_folder(fd, name, rel, shown, exc) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _existing_mode(dir_fd: int, name: str, rel: str) -> int | None:
    """The permission bits of the regular file `name`, None when it is absent; refuses the rest."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        raise PathRefused(rel, "it is a symlink; the file tools write only regular files")
    if stat.S_ISDIR(mode):
        raise PathRefused(rel, "it is a directory")
    if not stat.S_ISREG(mode):
        raise PathRefused(rel, "it is not a regular file (a FIFO, socket or device)")
    return stat.S_IMODE(mode)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _replace_in(dir_fd: int, name: str, rel: str, data: bytes) -> None:
    existing = _existing_mode(dir_fd, name, rel)
    final_mode = existing if existing is not None else 0o666 & ~current_umask()
    tmp = f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
    except FileExistsError:
        # This process and thread's name: a leftover (or a planted entry, even a symlink,
        # which unlink removes without following). O_EXCL never writes through it.
        os.unlink(tmp, dir_fd=dir_fd)
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
    renamed = False
    try:
        try:
            _write_all(fd, data)
            os.fchmod(fd, final_mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        die_at("rename", "repo")
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        renamed = True
        os.fsync(dir_fd)
    finally:
        if not renamed:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass


def _os_error(rel: str, action: str, exc: OSError) -> SlopError:
    if exc.errno == errno.ELOOP:
        return PathRefused(rel, "a name in it became a symlink while it was used")
    return SlopError(f"{rel}: cannot {action} ({exc.strerror or exc})")


def replace_at(root: Path, rel: str, data: bytes) -> None:
    """Replace (or create) the regular file `rel` under the real folder `root` with `data`,
    atomically, making missing folders; raises `PathRefused` / `SlopError`, leaving nothing."""
    try:
        with _parent_fd(root, rel, create=True) as dir_fd:
            assert dir_fd is not None
            _replace_in(dir_fd, _parts(rel)[-1], rel, data)
    except OSError as exc:
        raise _os_error(rel, "write", exc) from None


def read_at(root: Path, rel: str) -> bytes | None:
    """The bytes of the regular file `rel`, None when it (or a folder on its way) is absent."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | _CLOEXEC
    try:
        with _parent_fd(root, rel, create=False) as dir_fd:
            if dir_fd is None:
                return None
            name = _parts(rel)[-1]
            if _existing_mode(dir_fd, name, rel) is None:
                return None
            fd = os.open(name, flags, dir_fd=dir_fd)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise PathRefused(rel, "it is not a regular file (a FIFO, socket or device)")
                chunks: list[bytes] = []
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                os.close(fd)
    except OSError as exc:
        raise _os_error(rel, "read", exc) from None


def check_at(root: Path, rel: str) -> None:
    """Refuse now what `replace_at` / `restore_at` would refuse: a symlink or a file on the way,
    or a target that is not a regular file. Touches nothing."""
    try:
        with _parent_fd(root, rel, create=False) as dir_fd:
            if dir_fd is not None:
                _existing_mode(dir_fd, _parts(rel)[-1], rel)
    except OSError as exc:
        raise _os_error(rel, "check", exc) from None


def _remove_dead_temps(dir_fd: int, name: str) -> None:
    """Delete the temporary files of `name` that a writer killed before its rename left here;
    a live writer's are kept."""
    for entry in os.listdir(dir_fd):
        match = TEMP_NAME.match(entry)
        if match is None or entry.rsplit(".", 3)[0] != f".{name}":
            continue
        if process_alive(int(match["pid"])):
            continue
        try:
            if stat.S_ISREG(os.stat(entry, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                os.unlink(entry, dir_fd=dir_fd)
        except OSError:
            continue


def restore_at(root: Path, rel: str, content: bytes | None) -> None:
    """Put `rel` back as `content` (None: remove the file), with the same checks and walk as a
    write, and remove the temporary files a killed write of it left behind."""
    try:
        with _parent_fd(root, rel, create=content is not None) as dir_fd:
            if dir_fd is None:
                return  # its folder is gone, so is the file: nothing to remove
            name = _parts(rel)[-1]
            _remove_dead_temps(dir_fd, name)
            if content is not None:
                _replace_in(dir_fd, name, rel, content)
            elif _existing_mode(dir_fd, name, rel) is not None:
                os.unlink(name, dir_fd=dir_fd)
                os.fsync(dir_fd)
    except OSError as exc:
        raise _os_error(rel, "restore", exc) from None
