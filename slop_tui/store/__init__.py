"""Persistence in a repository's `.slop/`: session state, the event log, and pre-images.

- `state.json` (`state_file.py`): the session (tracks, tickets, states, usage), with a format
  `version`, always replaced atomically (`atomic.py`: temporary file, fsync, rename, fsync of
  the directory).
- `events.jsonl` (`event_log.py`): every event, one JSON line each, appended and fsynced before
  `append()` returns (write-ahead): what a caller was told is written survives a `kill -9`.
- `preimages/<ticket>/` (`preimages.py`): the content of every file before a ticket first
  touched it, so the ticket can be undone.

The log is the truth and `state.json` a checkpoint: loading rolls the checkpoint forward with
the events logged after it (`reducer.py`), and a corrupt checkpoint is moved aside and rebuilt
by `replay`. Everything is encoded with `models.enc_hook`, so a `Secret` can only ever be
written as a mask, and the values registered with `add_secrets` are redacted from every byte
written here.

`.slop/` is refused before anything in it is read or written when it is not slop's own
(`guard.py`), and content or diffs over 64 KB are logged as a digest (`log_digest.py`).
"""

from slop_tui.store.atomic import atomic_write, fsync_dir, remove_stale_temp_files
from slop_tui.store.crash_points import _CRASH, CRASH_ENV
from slop_tui.store.event_log import LogWrite
from slop_tui.store.guard import check_private_state, restore_path_problem
from slop_tui.store.layout import (
    EVENTS_FILE,
    PREIMAGES_DIR,
    RUNS_DIR,
    SLOP_DIR,
    STATE_FILE,
    StoreError,
    exclude_from_git,
)
from slop_tui.store.lock import LOCK_FILE, RepoLock, RunLockHeld, hold_for_process, lock_holder
from slop_tui.store.log_digest import LOG_EXCERPT_BYTES, LOG_FIELD_LIMIT, LogDigest, log_digest
from slop_tui.store.reducer import STATE_VERSION, SessionState, apply_event, replay
from slop_tui.store.slop_dir import Store

__all__ = [
    "CRASH_ENV",
    "EVENTS_FILE",
    "PREIMAGES_DIR",
    "RUNS_DIR",
    "SLOP_DIR",
    "STATE_FILE",
    "STATE_VERSION",
    "LOG_EXCERPT_BYTES",
    "LOG_FIELD_LIMIT",
    "LogDigest",
    "LogWrite",
    "SessionState",
    "Store",
    "StoreError",
    "_CRASH",
    "apply_event",
    "atomic_write",
    "check_private_state",
    "exclude_from_git",
    "fsync_dir",
    "log_digest",
    "remove_stale_temp_files",
    "replay",
    "restore_path_problem",
]
