"""Run one shell command for the worker: OS sandbox, own process group, timeout, capped output,
allow-listed environment.

The command runs through `/bin/sh -c` under bubblewrap (`slop_tui.sandbox`: what it sees is the
table there) when `sandboxed` and a working `bwrap` exists; `CommandResult.sandboxed` and
`.network` say what really happened, and callers decide whether an unsandboxed run is allowed.
Its environment is built from an allow-list (`sandbox.mounts.ALLOWED_VARIABLES`, `LC_*`) plus
`env_extra` (the user's own `[run] env`), never slop's environment minus a deny-list; inside the
sandbox `HOME` is a private empty folder. The shell (or `bwrap`) starts in a new session (so its
process group is its own and a terminal's Ctrl+C does not reach it twice), with stdin from
/dev/null. Inside the sandbox the PID namespace and `--die-with-parent` make leftovers
impossible: when `bwrap` dies, everything in the namespace dies; what follows is the belt for
unsandboxed runs. When it overruns its timeout the whole group gets
SIGTERM and, after a short grace, SIGKILL: children that ignore SIGTERM die too. When the shell
itself ends, anything it left running in its group is killed as well, so no command leaves a
daemon behind and the pipes close. A process that left the group (`setsid`, a daemonising
server) is still found: every command's environment carries its own `SLOP_COMMAND_ID`, which
descendants inherit, and on Linux the processes that carry it are killed too. The id starts
with the repository's tag (`repository_tag`), so a slop that was killed (`kill -9`, a crash)
before its command ended leaves a trace the next run or resume of that repository finds and
kills (`kill_repository_commands`), and no other repository's commands are touched.

Every command's git runs without the repository's hooks and fsmonitor (`GIT_CONFIG_COUNT`
entries, after any the environment already has): `pytest` may call `git describe`, and a cloned
repository's `.git/config` is code.

Output is drained to the end (a command is never stopped for being chatty) but only the first
and last `output_cap_bytes / 2` bytes of each stream are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from slop_tui import sandbox
from slop_tui.config.spec import config_dir
from slop_tui.tokens import estimate_tokens

# Variables no command ever sees, whatever the configuration says: the providers' usual key
# variables, and anything that looks like one.
KNOWN_KEY_VARIABLES: frozenset[str] = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "DEEPSEEK_API_KEY",
        "OPENROUTER_API_KEY",
    }
)
KEY_SUFFIXES: tuple[str, ...] = ("_API_KEY", "_AUTH_TOKEN", "_ACCESS_KEY", "_SECRET_KEY")

TERM_GRACE_S = 0.5  # between SIGTERM and SIGKILL on a timeout
COMMAND_ID_VARIABLE = "SLOP_COMMAND_ID"
# Appended to every command's `GIT_CONFIG_*` entries; later entries win.
GIT_SAFETY: tuple[tuple[str, str], ...] = (("core.hooksPath", "/dev/null"), ("core.fsmonitor", "false"))
_PROC = "/proc"
_CHUNK = 64 * 1024


class CommandResult(msgspec.Struct, kw_only=True):
    """What one command did. `stdout`/`stderr` are capped (see `truncated`)."""

    command: str
    exit_code: int  # negative: killed by that signal (as `subprocess` reports it)
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    duration_s: float
    sandboxed: bool = False  # ran under bwrap
    network: bool = False  # had the network (always true unsandboxed)

    @property
    def output(self) -> str:
        """Both streams as one text, for QA and for the worker: stdout, then stderr."""
        if self.stdout and self.stderr:
            sep = "" if self.stdout.endswith("\n") else "\n"
            return f"{self.stdout}{sep}{self.stderr}"
        return self.stdout or self.stderr

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def is_key_variable(name: str) -> bool:
    upper = name.upper()
    return upper in KNOWN_KEY_VARIABLES or upper.endswith(KEY_SUFFIXES)


def scrubbed_environment(
    scrub_env: Iterable[str] = (), base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A copy of `base` (default `os.environ`) without key variables and without `scrub_env`."""
    extra = {name for name in scrub_env if name}
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if k not in extra and not is_key_variable(k)}


class _CappedBuffer:
    """Keeps the first and last `cap // 2` bytes of a stream and counts what it dropped."""

    def __init__(self, cap: int) -> None:
        self._head_cap = max(cap // 2, 0)
        self._tail_cap = max(cap - self._head_cap, 0)
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        excess = len(self._tail) - self._tail_cap
        if excess > 0:
            # Trimming a bytearray from the front is O(len); doing it once per 64 KB chunk keeps
            # a 100 MB stream well under a second.
            del self._tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.dropped:
            return f"{head}\n[… {self.dropped} bytes of output omitted …]\n{tail}"
        return head + tail


class _Collector(asyncio.SubprocessProtocol):
    """Feeds both pipes into capped buffers and tells exit and pipe closure apart.

    `Process.wait()` would not do: on this Python it also waits for the pipes to close, and a
    background job that inherited them would then hold a finished command until its timeout.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, cap: int) -> None:
        self.stdout = _CappedBuffer(cap)
        self.stderr = _CappedBuffer(cap)
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        chunk = data.encode() if isinstance(data, str) else data
        (self.stdout if fd == 1 else self.stderr).feed(chunk)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        # Called once the process has exited and every pipe is closed.
        if not self.closed.done():
            self.closed.set_result(None)


def command_environment(
    *,
    home: str | None,
    env_extra: Mapping[str, str] | None = None,
    scrub_env: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A command's environment: the allow-listed part of `base` (default `os.environ`), `HOME`
    = `home` (the real one when None), then `env_extra`; `scrub_env` names and key-looking
    variables removed from the allow-listed part all the same (a `LC_*` named like a key)."""
    source = os.environ if base is None else base
    real_home = source.get("HOME", "")
    env = sandbox.allowed_environment(source, home if home is not None else real_home)
    if home is None and not real_home:
        del env["HOME"]
    extra = {name for name in scrub_env if name}
    env = {k: v for k, v in env.items() if k not in extra and not is_key_variable(k)}
    env.update(env_extra or {})
    return env


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def with_git_safety(env: dict[str, str]) -> dict[str, str]:
    """`env` with `GIT_SAFETY` appended to its `GIT_CONFIG_COUNT` entries (a count git would
    reject is started over, as git would refuse every command with it anyway)."""
    raw = env.get("GIT_CONFIG_COUNT", "0")
    count = int(raw) if raw.strip().isdigit() else 0
    for key, value in GIT_SAFETY:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


def repository_tag(repo_root: Path) -> str:
    """What every command id of this repository starts with: its real path, hashed. A path,
    not a token kept in `.slop/`: a copied repository must never claim the original's commands."""
    real = os.path.realpath(repo_root)
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _ancestors() -> set[int]:
    """This process and its parents: a slop started by a leftover command never kills the
    shell it runs in."""
    chain = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            stat_line = Path(f"{_PROC}/{pid}/stat").read_text()
            pid = int(stat_line.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def _tagged(needle: bytes, *, prefix: bool = False) -> list[int]:
    """Live processes whose environment holds `needle`: a whole `NAME=value` entry, or with
    `prefix` an entry that starts with it."""
    spared = _ancestors() if prefix else {os.getpid()}
    found = []
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return []  # no /proc (not Linux): the process group is all we can reach
    for entry in entries:
        if not entry.isdigit() or int(entry) in spared:
            continue
        try:
            with open(f"{_PROC}/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue  # gone, or another user's
        tail = b"" if prefix else b"\0"
        if b"\0" + needle + tail in b"\0" + environ:
            found.append(int(entry))
    return found


def kill_tagged(command_id: str) -> int:
    """SIGKILL every process carrying this command's id, including ones that left its group;
    repeated while a dying daemon's children still appear. Returns how many were killed."""
    return _kill_all(f"{COMMAND_ID_VARIABLE}={command_id}".encode())


def kill_repository_commands(repo_root: Path) -> int:
    """SIGKILL every process on this machine (of this user) left by a command of this
    repository: what a killed slop could not stop. Call it holding the repository's lock, so
    no live slop's command is among them. Returns how many were killed."""
    return _kill_all(f"{COMMAND_ID_VARIABLE}={repository_tag(repo_root)}.".encode(), prefix=True)


def _kill_all(needle: bytes, *, prefix: bool = False) -> int:
    killed = 0
    for _ in range(10):
        found = _tagged(needle, prefix=prefix)
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


async def run_command(
    command: str,
    cwd: Path,
    *,
    timeout_s: float,
    scrub_env: Iterable[str] = (),
    output_cap_bytes: int = 1_000_000,
    repo_root: Path | None = None,
    network: bool = False,
    sandboxed: bool = True,
    env_extra: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run `command` with `/bin/sh -c` in `cwd`; never raises for what the command does.
    Its id is tagged with `repo_root` (default `cwd`), the repository it works for. Under the
    sandbox when `sandboxed` and one is available (`sandbox.detect()`), with the network only
    when `network`; without a sandbox, as the user (the caller's policy allowed it)."""
    root = repo_root if repo_root is not None else cwd
    info = sandbox.detect() if sandboxed else None
    use_sandbox = info is not None and info.available and info.bwrap is not None
    real_home = os.environ.get("HOME")
    private_home = sandbox.sandbox_home(real_home, os.path.realpath(root)) if use_sandbox else None
    env = with_git_safety(
        command_environment(home=private_home, env_extra=env_extra or {}, scrub_env=scrub_env)
    )
    command_id = f"{repository_tag(root)}.{uuid.uuid4().hex}"
    env[COMMAND_ID_VARIABLE] = command_id
    argv: list[str] = ["/bin/sh", "-c", command]
    if use_sandbox and info is not None and info.bwrap is not None:
        argv = sandbox.bwrap_argv(
            info.bwrap,
            argv,
            repo_root=root,
            cwd=cwd,
            env=env,
            network=network,
            real_home=real_home,
            hidden=[config_dir()],
        )
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    spawn = asyncio.ensure_future(
        loop.subprocess_exec(
            lambda: _Collector(loop, output_cap_bytes),
            *argv,
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    )
    try:
        # Shielded: the shell already runs while asyncio connects its pipes, and a cancel
        # (Ctrl+C) landing there makes asyncio kill the shell alone, then wait until the pipes
        # close, which the shell's children (`sleep 30 && ...`) keep open: Ctrl+C hung for as
        # long as they lived, and they outlived the run.
        transport, collector = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        kill_tagged(command_id)  # the tag is there from the shell's exec on
        started_shell = await _spawned(spawn, command_id)
        if started_shell is not None:
            _kill_group(started_shell.get_pid(), signal.SIGKILL)
            kill_tagged(command_id)
            started_shell.close()
        raise
    pgid = transport.get_pid()  # start_new_session: the shell leads its own session and group
    timed_out = False
    try:
        if not await _within(collector.exited, timeout_s):
            timed_out = True
            _kill_group(pgid, signal.SIGTERM)
            await _within(collector.exited, TERM_GRACE_S)
        # Whatever is left in the group (children that ignore SIGTERM, background jobs that
        # would keep the pipes open) dies now, and so does anything that left the group.
        _kill_group(pgid, signal.SIGKILL)
        kill_tagged(command_id)
        await collector.exited
        # False: a process outside the group (it called setsid) holds a pipe: stop reading.
        await _within(collector.closed, 5.0)
    except BaseException:
        # Cancelled (Ctrl+C, a shutdown): never leave the group running behind us.
        _kill_group(pgid, signal.SIGKILL)
        kill_tagged(command_id)
        raise
    finally:
        returncode = transport.get_returncode()
        transport.close()
    return CommandResult(
        command=command,
        exit_code=returncode if returncode is not None else -int(signal.SIGKILL),
        stdout=collector.stdout.text(),
        stderr=collector.stderr.text(),
        timed_out=timed_out,
        truncated=bool(collector.stdout.dropped or collector.stderr.dropped),
        duration_s=round(time.monotonic() - started, 3),
        sandboxed=use_sandbox,
        network=network or not use_sandbox,
    )


async def _within(done: asyncio.Future[None], timeout_s: float) -> bool:
    """Whether `done` completes within `timeout_s` (it is not cancelled either way). A cancel
    of the caller is never lost: `asyncio.wait_for` on Python 3.11 drops one that lands as
    `done` completes (a command that exits as the run stops), and the worker then went on
    to its next step while its ticket was being stopped."""
    try:
        async with asyncio.timeout(max(timeout_s, 0.0)):
            await asyncio.shield(done)
    except TimeoutError:
        return False
    return True


async def _spawned(
    spawn: asyncio.Future[tuple[asyncio.SubprocessTransport, _Collector]], command_id: str
) -> asyncio.SubprocessTransport | None:
    """The transport of a spawn whose waiter was cancelled, once it has its pipes (None if
    it failed or was cancelled itself). Waited for through further cancellations: connecting
    pipes takes a few loop turns and depends on nothing the command does, and leaving early
    would leave the command running. If the spawn itself is cancelled (an event loop shutting
    down cancels every task), asyncio waits for the pipes to close: killing the command's
    processes again closes them."""
    while not spawn.done():
        try:
            await asyncio.shield(spawn)
        except asyncio.CancelledError:
            kill_tagged(command_id)
            continue
        except Exception:
            return None
    if spawn.cancelled() or spawn.exception() is not None:
        return None
    return spawn.result()[0]


def head_and_tail(text: str, max_tokens: int) -> str:
    """`text` if it fits in `max_tokens`, else its head and tail around an omission marker."""
    if max_tokens <= 0:
        return ""
    if estimate_tokens(text) <= max_tokens:
        return text
    # Start from the chars-per-token ratio of this very text, then shrink until it fits.
    ratio = max(len(text) / max(estimate_tokens(text), 1), 1.0)
    budget = int(max_tokens * ratio)
    while budget > 0:
        head_len = budget // 2
        tail_len = budget - head_len
        head = text[:head_len]
        tail = text[len(text) - tail_len :] if tail_len else ""
        # Cut at line boundaries where one is near, so the worker sees whole lines.
        cut = head.rfind("\n")
        if cut > head_len // 2:
            head = head[: cut + 1]
        cut = tail.find("\n")
        if 0 <= cut < tail_len // 2:
            tail = tail[cut + 1 :]
        omitted = len(text) - len(head) - len(tail)
        marker = f"\n[… {omitted} characters omitted …]\n"
        candidate = head + marker + tail
        if estimate_tokens(candidate) <= max_tokens:
            return candidate
        budget = int(budget * 0.9) - 1
    return f"[… {len(text)} characters omitted …]"[: max_tokens * 4]
