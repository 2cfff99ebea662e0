"""The state checkpoint, `state.json`: saved atomically, loaded and rolled forward."""

from __future__ import annotations

import os

import msgspec

from slop_tui.models import AnyEvent, RunStarted, clip_message
from slop_tui.store.atomic import _remove_dead_temps, fsync_dir, read_private, write_private
from slop_tui.store.event_log import EventLog
from slop_tui.store.layout import _PRIVATE, PREIMAGES_DIR, STATE_FILE, StoreError, _timestamp
from slop_tui.store.reducer import STATE_VERSION, SessionState, apply_event, replay

class _VersionProbe(msgspec.Struct):
    """Read before the whole state, so a newer format is reported, never misread."""

    version: int


_STATE_DECODER = msgspec.json.Decoder(SessionState)

class StateFile(EventLog):
    """The state checkpoint (`state.json`), rolled forward with the log when loaded."""

    def save_state(self, state: SessionState) -> None:
        """Write the state atomically; `last_seq` should be the seq of its last event."""
        with self._lock:
            self._prepare()
            write_private(self.state_path, self._encode(state), mode=_PRIVATE)

    def record(self, state: SessionState, event: AnyEvent) -> AnyEvent:
        """Append `event`, apply it to `state` (see `apply_event`), and save the state.

        For callers that keep the state only through events: `state` must then not be changed
        by hand for what the event says (usage would be counted twice). A `RunStarted` makes a
        new state rather than changing one: append it and `replay` it instead.
        """
        if isinstance(event, RunStarted):
            raise TypeError("record() cannot apply RunStarted to an existing state")
        with self._lock:
            logged = self.append(event)
            apply_event(state, logged, self.warnings)
            self.save_state(state)
            return logged

    def load_state(self) -> SessionState | None:
        """The last run's state, rolled forward with events logged after its checkpoint.

        None when there is no run. A newer format `version` raises `StoreError`. A corrupt or
        truncated state file is moved aside (`state.json.corrupt-<time>`, never deleted), and
        the state is rebuilt from the event log; `warnings` says so.
        """
        with self._lock:
            self._guard()
            self._remove_temp_files()
            try:
                raw = read_private(self.state_path)
            except FileNotFoundError:
                raw = None
            except OSError as exc:
                raise StoreError(f"{self.state_path}: cannot read: {exc.strerror or exc}") from None
            if raw is None:
                state = replay(self.events(), warnings=self.warnings)
                if state is not None:
                    self.warnings.append(
                        f"{self.state_path} is missing; state rebuilt from {self.events_path.name}"
                    )
                return state
            try:
                probe = msgspec.json.decode(raw, type=_VersionProbe)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return self._recover(str(exc))
            if probe.version != STATE_VERSION:
                raise StoreError(
                    f"{self.state_path}: format version {probe.version} is not supported "
                    f"(this slop-tui reads version {STATE_VERSION}); nothing was changed"
                )
            try:
                state = _STATE_DECODER.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return self._recover(str(exc))
            events = self.events()
            self._seq_floor = max(self._seq_floor, state.last_seq)
            logged_to = events[-1].seq if events else 0
            if logged_to < state.last_seq:
                what = "is missing" if not self.events_path.exists() else (
                    f"ends at event {logged_to}"
                )
                self.warnings.append(
                    f"{self.events_path} {what} but {self.state_path.name} was saved at event "
                    f"{state.last_seq}; continuing from the saved state"
                )
            newer = [e for e in events if e.seq > state.last_seq]
            return replay(newer, state, self.warnings)

    def _recover(self, reason: str) -> SessionState | None:
        reason = clip_message(reason, 160)
        aside = self.root / f"{STATE_FILE}.corrupt-{_timestamp()}"
        try:
            os.replace(self.state_path, aside)
            fsync_dir(self.root)
        except OSError as exc:
            raise StoreError(
                f"{self.state_path}: corrupt ({reason}) and cannot be moved aside: "
                f"{exc.strerror or exc}"
            ) from None
        try:
            events = self.events()
        except StoreError as exc:
            raise StoreError(
                f"{self.state_path} was corrupt ({reason}), kept as {aside.name}; it cannot be "
                f"rebuilt because {exc}"
            ) from None
        state = replay(events, warnings=self.warnings)
        if state is None:
            self.warnings.append(
                f"{self.state_path} was corrupt ({reason}); kept as {aside.name}; the event log "
                "has no run to rebuild it from"
            )
            return None
        self.save_state(state)
        self.warnings.append(
            f"{self.state_path} was corrupt ({reason}); kept as {aside.name}; state rebuilt "
            f"from {len(events)} events in {self.events_path.name}"
        )
        return state

    def _remove_temp_files(self) -> None:
        """Temporary files of an `atomic_write` a crash interrupted: never the truth.

        In `.slop/` itself (state, log pieces) and in each ticket's pre-image folder.
        """
        if not self.root.is_dir():
            return
        _remove_dead_temps(self.root)
        preimages = self.root / PREIMAGES_DIR
        if preimages.is_dir():
            for folder in preimages.iterdir():
                if folder.is_dir() and not folder.is_symlink():
                    _remove_dead_temps(folder)

