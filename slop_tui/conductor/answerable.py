"""Whether anyone can answer `slop run`'s questions (the plan review, the clutch) on stdin.

Without `--yes` a run asks; with stdin closed, /dev/null, an empty file or a pipe at its end,
nobody will, and finding that out after planning wastes the planner's and the lead's tokens
and leaves a run in `.slop/`. Light to import: `slop run` asks before its heavy imports.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from typing import TextIO



def nobody_can_answer(stdin: TextIO | None) -> str | None:
    """Why nobody could answer the plan review or the clutch on `stdin` (closed, /dev/null,
    an empty file, a pipe at its end), or None when someone may: a terminal, a pipe still open,
    a file with lines in it. Looked at without reading, so piped answers stay for the run."""
    import fcntl
    import os
    import select
    import stat
    import termios

    if stdin is None or stdin.closed:
        return "stdin is closed"
    with suppress(AttributeError, ValueError):
        if stdin.isatty():
            return None
    try:
        fd = stdin.fileno()
        info = os.fstat(fd)
    except (OSError, ValueError):
        return None  # not a file descriptor (a test's StringIO): it can hold answers
    if stat.S_ISCHR(info.st_mode):
        with suppress(OSError):
            if info.st_rdev == os.stat(os.devnull).st_rdev:
                return "stdin is /dev/null"
        return None
    if stat.S_ISREG(info.st_mode):
        with suppress(OSError):
            if os.lseek(fd, 0, os.SEEK_CUR) >= info.st_size:
                return "stdin is an empty file"
        return None
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        # Readable with no byte waiting means the writer has gone: the pipe is at its end.
        with suppress(OSError, ValueError):
            readable, _, _ = select.select([fd], [], [], 0)
            if readable:
                waiting = bytearray(4)
                fcntl.ioctl(fd, termios.FIONREAD, waiting)
                if int.from_bytes(waiting, sys.byteorder) == 0:
                    # Nothing in the pipe; nothing already read into Python's buffer either
                    # (a peek at a pipe at its end returns at once, empty).
                    buffer = getattr(stdin, "buffer", None)
                    peek = getattr(buffer, "peek", None)
                    if peek is not None and not peek(1):
                        return "stdin is a pipe at its end"
    return None


def refuse_if_nobody_can_answer(stdin: TextIO | None = None, *, plan: bool = True) -> None:
    """Without `--yes`, a run needs someone to answer the plan review (`plan`: `slop run`; a
    resume has no plan to review) and the clutch: where nobody can, it is refused before a
    model token is spent or `.slop/` is touched."""
    from slop_tui.errors import SlopError

    why = nobody_can_answer(stdin if stdin is not None else sys.stdin)
    if why is not None:
        asked, accept = ("the plan review or the clutch", "accept the plan and ") if plan else ("the clutch", "")
        raise SlopError(
            f"nobody can answer {asked} ({why}): add --yes to {accept}approve every call, "
            "run it in a terminal, or start `slop` for the TUI"
        )
