"""Shared pieces of the reliability suite: a hostile repository and hypothesis settings."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.tools.helpers import HostileLayout, tree_fingerprint

__all__ = ["HostileLayout", "hostile_repo", "fingerprint", "generated", "one_line"]


def generated(examples: int) -> settings:
    """Deterministic hypothesis settings: CI runs exactly the same cases every time."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def hostile_repo(base: Path) -> HostileLayout:
    """`HostileLayout` (symlinks out, FIFOs, a socket, loops) plus tool state to protect:
    a `.git/` and a `.slop/`, and an inside symlink that points at `.git/`."""
    layout = HostileLayout(base)
    git = layout.repo / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n")
    (layout.repo / ".slop").mkdir()
    (layout.repo / ".slop" / "state.json").write_text("{}")
    os.symlink(".git", layout.repo / "gitlink")
    os.symlink(".slop", layout.repo / "sloplink")
    return layout


def fingerprint(layout: HostileLayout) -> dict[str, str]:
    """The repository and the folder beside it: what an escape would change."""
    return {
        **{f"repo/{k}": v for k, v in tree_fingerprint(layout.repo).items()},
        **{f"outside/{k}": v for k, v in tree_fingerprint(layout.outside).items()},
    }


def one_line(message: str, limit: int = 700) -> bool:
    return "\n" not in message and 0 < len(message) <= limit
