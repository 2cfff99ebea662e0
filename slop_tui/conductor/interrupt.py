"""Ctrl+C for the headless commands: a clean stop, bounded in time, and a way out at once.

- The first Ctrl+C cancels the command's main task from an event-loop signal handler (never a
  `KeyboardInterrupt` raised in the middle of whatever code runs): running commands are
  killed with their process groups, interrupted tickets recorded, the state saved, and the
  command exits with status 130.
- That clean stop has a deadline. A daemon thread, armed by the first Ctrl+C, exits the
  process once the deadline passes, whatever the main thread is blocked in (a thread join at
  shutdown, a disk that does not answer): the user's Ctrl+C always ends the program.
- A second Ctrl+C quits at once, the same way.

Quitting at once is `kill -9` as far as the state goes, which the store survives (the event
log is written ahead; `slop resume` moves interrupted tickets back), plus one thing `kill -9`
would not do: the process group of every command this process started is killed first, so no
command outlives the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import NoReturn

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped by Ctrl+C
SHUTDOWN_DEADLINE_S = 5.0  # a clean stop takes ~0.1 s; this is for a stop that hangs

_PROC = "/proc"


def kill_command_groups() -> int:
    """SIGKILL the process group of every child of this process that leads a group of its own.

    The shell runner starts each command in a new session, so its shell is our child and the
    leader of the command's group; an editor started from the clutch shares our group and is
    spared. Linux only (no /proc: nothing is found). Returns how many groups were signalled.
    """
    me = os.getpid()
    mine = os.getpgid(0)
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return 0
    killed = 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{_PROC}/{entry}/stat", "rb") as handle:
                stat = handle.read()
            # The command name (in parentheses) may hold spaces: split after its last ')'.
            fields = stat.rsplit(b")", 1)[1].split()
            ppid, pgid = int(fields[1]), int(fields[2])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or unreadable
        if ppid != me or pgid == mine or pgid <= 0:
            continue
        try:
            os.killpg(pgid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass  # already gone
    return killed


def quit_now(message: str) -> NoReturn:
    """Kill every command's group, say why on stderr, exit 130 without any clean-up.

    Callable from any thread: it takes no lock (stderr is written with `os.write`, not through
    `sys.stderr`, whose buffer the blocked main thread may hold).
    """
    # The message goes first: killing a command can let a stubborn main thread finish and end
    # the interpreter (and this daemon thread with it) before a later write.
    try:
        os.write(2, f"\n{message}\n".encode("utf-8", "replace"))
    except OSError:
        pass
    try:
        kill_command_groups()
    finally:
        os._exit(EXIT_INTERRUPTED)


class InterruptGuard:
    """Runs one main coroutine; Ctrl+C cancels it, with a deadline, and twice quits at once."""

    def __init__(self, *, deadline_s: float = SHUTDOWN_DEADLINE_S) -> None:
        self.deadline_s = deadline_s
        self.interrupts = 0
        self._task: asyncio.Task[int] | None = None
        self._watchdog: threading.Thread | None = None
        self._stopped = threading.Event()  # set once the run is over: the watchdog stands down

    @property
    def interrupted(self) -> bool:
        return self.interrupts > 0

    async def supervise(self, main: Callable[[], Awaitable[int]]) -> int:
        """`main()`'s exit status, or 130 once Ctrl+C has stopped it."""
        loop = asyncio.get_running_loop()
        task: asyncio.Task[int] = loop.create_task(_as_coroutine(main), name="slop main")
        self._task = task
        handled = True
        try:
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
        except (NotImplementedError, RuntimeError, ValueError):
            handled = False  # no loop signal handlers here: asyncio.run's own handler stays
        try:
            try:
                code = await task
            except asyncio.CancelledError:
                if not self.interrupted or not task.cancelled():
                    raise  # this supervisor was cancelled, not the main task by Ctrl+C
                return EXIT_INTERRUPTED
            except Exception as exc:
                if not self.interrupted:
                    raise
                # Stopping failed somewhere (a state file that cannot be written): say so,
                # and still report the interrupt the user asked for.
                _say(f"slop: while stopping: {type(exc).__name__}: {exc}")
                return EXIT_INTERRUPTED
            return EXIT_INTERRUPTED if self.interrupted else code
        finally:
            if handled:
                # From here to the end of asyncio.run a Ctrl+C is a KeyboardInterrupt again,
                # which `slop_tui.cli` turns into 130; the watchdog, if armed, still bounds it.
                loop.remove_signal_handler(signal.SIGINT)

    def stand_down(self) -> None:
        """The run is over: an armed deadline no longer applies."""
        self._stopped.set()

    def _on_sigint(self) -> None:
        """In the event loop, between callbacks: never inside the code it interrupts."""
        self.interrupts += 1
        if self.interrupts > 1:
            with suppress(OSError, ValueError):
                sys.stdout.flush()  # the progress lines so far (this is the loop's own thread)
            quit_now("slop: interrupted again: quitting at once; `slop resume` continues the run")
        _say("slop: stopping: killing running commands and saving the run (Ctrl+C again quits at once)")
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._arm_watchdog()

    def _arm_watchdog(self) -> None:
        if self._watchdog is not None:
            return
        deadline = self.deadline_s

        def watch() -> None:
            # Stands down only when `run_interruptible` returns: whatever the process blocks
            # in after the main task (asyncio.run joining executor threads) is bounded too.
            if self._stopped.wait(deadline):
                return
            quit_now(
                f"slop: the run did not stop within {deadline:g} s of Ctrl+C: quitting at once; "
                "`slop resume` continues the run"
            )

        self._watchdog = threading.Thread(target=watch, name="slop-interrupt-deadline", daemon=True)
        self._watchdog.start()


async def _as_coroutine(main: Callable[[], Awaitable[int]]) -> int:
    return await main()


def _say(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr closed: the exit status still tells


def run_interruptible(
    main: Callable[[], Awaitable[int]], *, deadline_s: float = SHUTDOWN_DEADLINE_S
) -> int:
    """`asyncio.run` for a command's main coroutine with the Ctrl+C handling above.

    `main` is a factory, so a Ctrl+C before the loop starts never leaves a coroutine that was
    created and not awaited.
    """
    guard = InterruptGuard(deadline_s=deadline_s)
    try:
        return asyncio.run(guard.supervise(main))
    finally:
        guard.stand_down()
