"""The shell runner with real processes: groups, timeouts, caps, stdin, environment."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from slop_tui.tokens import estimate_tokens
from slop_tui.tools.shell_runner import (
    CommandResult,
    _within,
    head_and_tail,
    is_key_variable,
    run_command,
)


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped by init) counts as gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def _wait_gone(pids: list[int], within_s: float = 2.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.02)
    return [p for p in pids if _alive(p)]


STUBBORN = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        # The children ignore SIGTERM too (inherited), and outlive their parent's patience.
        time.sleep(60)
        os._exit(0)
    pids.append(pid)
with open(sys.argv[1], "w") as fh:
    fh.write(" ".join(str(p) for p in pids + [os.getpid()]))
time.sleep(60)
"""


async def test_timeout_kills_the_whole_group_even_children_that_ignore_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN)
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    # Unsandboxed: the group and tag belt (in the sandbox, `tests/tools/test_sandbox_bwrap.py`).
    result = await run_command(
        f"{sys.executable} {script} {pid_file}", tmp_path, timeout_s=1.0, sandboxed=False
    )
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert not result.ok
    assert result.exit_code < 0  # killed by a signal
    assert elapsed < 5
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 4
    assert _wait_gone(pids) == []


async def test_background_jobs_do_not_outlive_the_command(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run_command("sleep 30 & echo $!", tmp_path, timeout_s=10, sandboxed=False)
    assert time.monotonic() - started < 10  # the open pipe of `sleep 30` did not hold us
    assert result.exit_code == 0 and not result.timed_out
    assert _wait_gone([int(result.stdout.strip())]) == []


async def test_cancelling_the_runner_kills_the_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(
        run_command(
            f"sleep 30 & echo $! > {pid_file}; wait", tmp_path, timeout_s=60, sandboxed=False
        )
    )
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _wait_gone([int(pid_file.read_text())]) == []


async def test_a_cancel_landing_as_the_command_exits_is_not_lost() -> None:
    # What `run_command` awaits while the command runs, cancelled in the very loop turn the
    # command's exit arrives (a run stopped at a limit as `true` ends). `asyncio.wait_for`
    # (Python 3.11) returned the exit and dropped the cancel: the worker went on to its next
    # step and waited at the closed budget gate for ever, and `slop run --yes` never ended.
    exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(_within(exited, 30))
    await asyncio.sleep(0)  # it waits now
    exited.set_result(None)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert waiting.cancelled()


async def test_a_hundred_megabytes_of_output_is_capped_and_quick(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run_command(
        "yes 0123456789 | head -c 100000000; echo done-marker",
        tmp_path,
        timeout_s=30,
        output_cap_bytes=100_000,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert result.exit_code == 0 and not result.timed_out
    assert result.truncated
    assert len(result.stdout) < 101_000
    assert result.stdout.startswith("0123456789\n")
    assert result.stdout.rstrip().endswith("done-marker")  # the tail is kept
    assert "bytes of output omitted" in result.stdout


async def test_stdin_is_dev_null(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run_command(
        f"{sys.executable} -c 'import sys; data = sys.stdin.read(); print(len(data), sys.stdin.isatty())'",
        tmp_path,
        timeout_s=20,
    )
    assert time.monotonic() - started < 10
    assert result.stdout.strip() == "0 False"
    result = await run_command("cat; echo ended", tmp_path, timeout_s=20)
    assert result.stdout == "ended\n" and not result.timed_out


async def test_key_variables_never_reach_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-visible")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-never-visible")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-ds-never-visible")
    monkeypatch.setenv("SOMEVENDOR_API_KEY", "sk-vendor-never-visible")
    monkeypatch.setenv("MY_TEAM_TOKEN", "custom-key-env-never-visible")  # a configured key_env
    monkeypatch.setenv("SLOP_NOT_ALLOWED", "not-on-the-allow-list")
    probe = (
        "import os, json; print(json.dumps({k: v for k, v in os.environ.items()"
        " if ('KEY' in k.upper() or 'TOKEN' in k.upper() or k.startswith('SLOP_') and k != 'SLOP_COMMAND_ID')"
        " and not k.startswith('GIT_CONFIG_KEY_')}))"
    )
    result = await run_command(
        f"{sys.executable} -c \"{probe}\"",
        tmp_path,
        timeout_s=20,
        scrub_env=["MY_TEAM_TOKEN"],
        env_extra={"SLOP_VISIBLE_MARKER": "still-here"},  # the user's own `[run] env`
    )
    assert result.exit_code == 0, result.stderr
    seen = __import__("json").loads(result.stdout)
    assert seen == {"SLOP_VISIBLE_MARKER": "still-here"}
    assert "never-visible" not in result.stdout


def test_key_variable_names() -> None:
    assert is_key_variable("OPENAI_API_KEY")
    assert is_key_variable("groq_api_key")
    assert is_key_variable("ANTHROPIC_AUTH_TOKEN")
    assert not is_key_variable("PATH")
    assert not is_key_variable("KEYBOARD_LAYOUT")


async def test_exit_code_streams_and_working_directory(tmp_path: Path) -> None:
    result = await run_command("pwd; echo oops >&2; exit 7", tmp_path, timeout_s=20)
    assert result.exit_code == 7 and not result.ok and not result.timed_out
    assert Path(result.stdout.strip()).resolve() == tmp_path.resolve()
    assert result.stderr == "oops\n"
    assert result.output == f"{result.stdout}oops\n"
    assert not result.truncated
    assert result.duration_s >= 0


async def test_results_round_trip_as_structs(tmp_path: Path) -> None:
    import msgspec

    result = await run_command("echo hi", tmp_path, timeout_s=20)
    again = msgspec.json.decode(msgspec.json.encode(result), type=CommandResult)
    assert again == result


def test_head_and_tail_keeps_both_ends_within_the_cap() -> None:
    lines = [f"line {i:05d} " + "x" * 40 for i in range(2000)]
    text = "\n".join(lines) + "\n"
    short = head_and_tail(text, 200)
    assert estimate_tokens(short) <= 200
    assert short.startswith("line 00000")
    assert short.rstrip().endswith(lines[-1])
    assert "characters omitted" in short
    # Whole lines on both sides of the marker.
    before, _, after = short.partition("\n[…")
    assert before.splitlines()[-1] in lines
    assert after.split("…]\n", 1)[1].splitlines()[0] in lines


def test_head_and_tail_leaves_short_text_alone() -> None:
    assert head_and_tail("all fine\n", 400) == "all fine\n"
    assert head_and_tail("x" * 100, 0) == ""
