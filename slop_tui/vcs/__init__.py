"""Git for runs: the user's `git` CLI with the repository's code turned off (`git.py`), a run
as a branch with a commit per ticket (`git_run.py`), stale index locks (`index_lock.py`)."""

from slop_tui.vcs.git import Git, GitError, open_git
from slop_tui.vcs.git_run import (
    RunBranch,
    TicketCommit,
    current_run,
    drop,
    find_run,
    land,
    run_commits,
    run_diff,
)

__all__ = [
    "Git",
    "GitError",
    "RunBranch",
    "TicketCommit",
    "current_run",
    "drop",
    "find_run",
    "land",
    "open_git",
    "run_commits",
    "run_diff",
]
