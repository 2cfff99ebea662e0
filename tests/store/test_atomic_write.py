"""atomic_write: whole old or whole new file, even under kill -9; permissions kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slop_tui.store import StoreError, atomic_write


def test_creates_and_replaces_without_leaving_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    atomic_write(target, b"two, longer")
    assert target.read_bytes() == b"two, longer"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    atomic_write(script, b"#!/bin/sh\necho hi\n")
    assert script.stat().st_mode & 0o777 == 0o755


def test_a_new_file_gets_the_given_mode_or_the_umask_default(tmp_path: Path) -> None:
    atomic_write(tmp_path / "private", b"x", mode=0o600)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o600
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "plain", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "plain").stat().st_mode & 0o777 == 0o640


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text("old")
    link = tmp_path / "link.py"
    link.symlink_to(real.name)
    atomic_write(link, b"new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nope/a\.txt: cannot write"):
        atomic_write(tmp_path / "nope" / "a.txt", b"x")


WRITER = """
import sys
from pathlib import Path
from slop_tui.store import atomic_write
target = Path(sys.argv[1])
big = [bytes([65 + i]) * (256 * 1024 + i) for i in range(4)]
n = 0
while True:
    atomic_write(target, big[n % 4])
    n += 1
    if n == 3:
        print("go", flush=True)
"""


def test_kill_9_during_writes_leaves_a_whole_version(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    versions = {bytes([65 + i]) * (256 * 1024 + i) for i in range(4)}
    for delay in (0.0, 0.013, 0.029):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target)],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"go\n"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert target.read_bytes() in versions
