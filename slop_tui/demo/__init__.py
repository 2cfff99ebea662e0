"""The offline demo shipped in the wheel: a sample repository and a scenario to play on it.

`sample_repo/` is a small expense tracker with a messy configuration (globals, `PENNY_*`
lookups scattered through its modules) and its own tests; `scenario.toml` is what the scripted
provider answers when asked to "Refactor config system" on it (one track, four tickets, one
failing command and its hint). Tests, benchmarks and `slop demo` use the same files.
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
