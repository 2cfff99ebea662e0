"""`Store`: the `.slop/` directory of one repository, its parts put together."""

from __future__ import annotations

import os
from pathlib import Path

from slop_tui.store.atomic import fsync_dir
from slop_tui.store.layout import (
    EVENTS_FILE,
    PREIMAGES_DIR,
    RUNS_DIR,
    STATE_FILE,
    StoreError,
    _safe_name,
    _timestamp,
)
from slop_tui.store.preimages import Preimages
from slop_tui.store.state_file import StateFile


class Store(StateFile, Preimages):
    """The `.slop/` directory of one repository. Cheap to create: nothing is touched until used.

    `secrets` (and `add_secrets`) are credential values redacted from everything written, a
    second line of defence behind `Secret`'s mask: a command's output that printed a key
    still never reaches the disk.
    """

    def archive_run(self) -> Path | None:
        """Move the current run (state, log, pre-images) to `.slop/runs/<time>-<run id>/`.

        For starting a new run with a clean log and no pre-images shared by ticket ids of the
        old one. Returns the archive folder, or None when there was nothing to archive.
        """
        with self._preimage_lock, self._lock:
            self._guard()
            names = [STATE_FILE, EVENTS_FILE, PREIMAGES_DIR]
            present = [n for n in names if (self.root / n).exists()]
            if not present:
                return None
            try:
                state = self.load_state()
            except StoreError:
                state = None
            self.close()
            label = _safe_name(state.run_id) if state is not None else "unknown"
            archive = self.root / RUNS_DIR / f"{_timestamp()}-{label}"
            try:
                archive.mkdir(parents=True)
                for name in present:
                    os.replace(self.root / name, archive / name)
                fsync_dir(archive)
                fsync_dir(self.root)
            except OSError as exc:
                raise StoreError(
                    f"{archive}: cannot archive the run: {exc.strerror or exc}"
                ) from None
            self._last_seq = None
            self._seq_floor = 0
            return archive
