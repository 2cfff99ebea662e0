"""The offline demo shipped in the wheel: a sample repository and a scenario to play on it.

`sample_repo/` is a small expense tracker with a messy configuration (globals, `PENNY_*`
lookups scattered through its modules) and its own tests; `scenario.toml` is what the scripted
provider answers when asked to "Refactor config system" on it (one track, four tickets, one
failing command and its hint). Tests, benchmarks and `slop demo` use the same files; `slop
demo` makes its copy a git repository (`make_git_repository`), so the run is a branch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec

DEMO_PROMPT = "Refactor config system"
_HERE = Path(__file__).resolve().parent
# Build and run leftovers that must never travel with a copy of the sample.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".slop", ".mypy_cache")


class DemoPaths(msgspec.Struct, frozen=True, kw_only=True):
    sample_repo: Path
    scenario: Path


def demo_paths() -> DemoPaths:
    """Where the bundled sample repository and scenario are (inside the installed package)."""
    return DemoPaths(sample_repo=_HERE / "sample_repo", scenario=_HERE / "scenario.toml")


def copy_sample_repo(destination: Path) -> Path:
    """Copy the sample repository to `destination` (which must not exist yet); return it.

    The packaged copy is never run in place: a run writes files, caches and `.slop/`.
    """
    return Path(shutil.copytree(demo_paths().sample_repo, destination, ignore=_IGNORED))


def make_git_repository(repo: Path) -> str | None:
    """Make `repo` a git repository on branch `main` with everything in one commit, so a run
    on it shows branches, commits, land and drop. None when done; else a one-line reason
    (no `git`, or git refused) and the folder is left plain."""
    from slop_tui.vcs.git import FALLBACK_EMAIL, FALLBACK_NAME, git_executable, run_git_sync

    if git_executable() is None:
        return "git not found: the demo runs in a plain folder"
    identity = {
        "GIT_AUTHOR_NAME": FALLBACK_NAME, "GIT_AUTHOR_EMAIL": FALLBACK_EMAIL,
        "GIT_COMMITTER_NAME": FALLBACK_NAME, "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL,
    }
    steps: tuple[tuple[str, ...], ...] = (
        ("init", "-q", "-b", "main"),
        ("add", "-A", "."),
        ("commit", "-q", "--no-verify", "-m", "The sample repository, before the demo run"),
    )
    for step in steps:
        done = run_git_sync(repo, *step, overrides=("commit.gpgsign=false",), env=identity)
        if not done.ok:
            return f"git {step[0]} failed ({done.message()}): the demo runs in a plain folder"
    return None


def copy_sample_git_repo(destination: Path) -> Path:
    """`copy_sample_repo`, then a git repository of it (plain if git is missing)."""
    repo = copy_sample_repo(destination)
    make_git_repository(repo)
    return repo
