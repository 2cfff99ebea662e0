"""Real git repositories and the real `slop` command line, for the git-native run tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from slop_tui.demo import copy_sample_repo, make_git_repository
from tests.conductor.demo import scaled_scenario, write_config

# The person's own git config must not leak into (or be changed by) the tests.
NO_USER_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
GIT_ENV = {
    **NO_USER_CONFIG,
    "GIT_AUTHOR_NAME": "Test Person",
    "GIT_AUTHOR_EMAIL": "person@example.com",
    "GIT_COMMITTER_NAME": "Test Person",
    "GIT_COMMITTER_EMAIL": "person@example.com",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True,
        env={**os.environ, **GIT_ENV}, timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout


def slop(*args: str, config_dir: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **NO_USER_CONFIG, "SLOP_CONFIG_DIR": str(config_dir), **(env or {})},
    )


def git_demo(base: Path) -> tuple[Path, Path]:
    """(repository, config dir): the demo sample as a git repository on `main`, one commit,
    and a config that plays the demo scenario with no latency and every command `true`."""
    repo = copy_sample_repo(base / "repo")
    assert make_git_repository(repo) is None
    config_dir = write_config(base / "config", scaled_scenario(base, 0.0, commands="true"))
    return repo, config_dir


def copy_repo(source: Path, dest: Path) -> Path:
    return Path(shutil.copytree(source, dest, symlinks=True))


def trailers(repo: Path, rev: str) -> dict[str, str]:
    out = git(repo, "show", "-s", "--format=%(trailers:only,unfold)", rev)
    pairs = [line.split(": ", 1) for line in out.splitlines() if ": " in line]
    return {key: value for key, value in pairs}


def files_of(repo: Path, rev: str) -> list[str]:
    return sorted(p for p in git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", rev).split("\0") if p)
