"""The sandbox's cost per command: `true` and `python -c pass`, with and without bubblewrap.

Every command goes through the real `run_command` (environment built, `bwrap` argument list
built from the PATH and the repository, process spawned, output drained), in a temporary git
repository. Rounds are interleaved (plain, sandboxed, plain, sandboxed, ...) in the same run, so
a busy machine slows both alike. Printed: the median per command in ms for each, and the ratio
sandboxed / plain. Target: <= 1.5 x for `python -c pass` (the interpreter is `sys.executable`,
as a project's `.venv/bin/python` would be).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slop_tui import sandbox  # noqa: E402
from slop_tui.tools.shell_runner import run_command  # noqa: E402

TARGET_PYTHON_RATIO = 1.5


async def _time(command: str, repo: Path, sandboxed: bool) -> float:
    started = time.perf_counter()
    result = await run_command(command, repo, timeout_s=30, sandboxed=sandboxed)
    elapsed = time.perf_counter() - started
    if not result.ok or result.sandboxed != sandboxed:
        raise SystemExit(f"{command!r} (sandboxed={sandboxed}) failed: {result.output[:300]}")
    return elapsed


async def main_async(rounds: int) -> int:
    info = sandbox.detect()
    if not info.available:
        print(f"sandbox: not available ({info.reason}); nothing to compare")
        return 0
    print(f"bwrap: {info.bwrap} ({info.version}); {rounds} interleaved rounds per command")
    commands = {"true": "true", "python -c pass": f"{shlex.quote(sys.executable)} -c pass"}
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        for label, command in commands.items():
            plain: list[float] = []
            boxed: list[float] = []
            for _ in range(2):  # warm-up: page cache, detect()
                await _time(command, repo, False)
                await _time(command, repo, True)
            for _ in range(rounds):
                plain.append(await _time(command, repo, False))
                boxed.append(await _time(command, repo, True))
            p, b = statistics.median(plain) * 1000, statistics.median(boxed) * 1000
            ratio = b / p
            line = f"{label:>16}: plain {p:6.1f} ms, sandboxed {b:6.1f} ms, ratio {ratio:4.2f} x"
            if label.startswith("python"):
                ok = ratio <= TARGET_PYTHON_RATIO
                failed |= not ok
                line += f" (target <= {TARGET_PYTHON_RATIO} x: {'ok' if ok else 'MISSED'})"
            print(line, flush=True)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    return asyncio.run(main_async(parser.parse_args().rounds))


if __name__ == "__main__":
    raise SystemExit(main())
