"""What every part of the store shares: paths, secrets, the encoder, setup and closing."""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import msgspec

from slop_tui.models import Secret, enc_hook, environment_secrets, secret_forms
from slop_tui.store.atomic import fsync_dir
from slop_tui.store.guard import check_private_state
from slop_tui.store.layout import EVENTS_FILE, SLOP_DIR, STATE_FILE, StoreError, exclude_from_git

if TYPE_CHECKING:
    from slop_tui.store.event_log import LogWrite

_MIN_SECRET = 8  # shorter "secrets" are not keys, and redacting them would maul the log

_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook)


class StoreBase:
    """The state every part of `Store` shares (see `Store`)."""

    def __init__(self, repo_root: Path, *, secrets: Iterable[Secret | str] = ()) -> None:
        self.repo_root = Path(repo_root)
        self.root = self.repo_root / SLOP_DIR
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        # Pre-images have a lock of their own (taken before `_lock` when both are): their
        # atomic writes (fsyncs) never hold up the event log's writer.
        self._preimage_lock = threading.RLock()
        self._fd: int | None = None
        self._last_seq: int | None = None
        # The seq of the loaded checkpoint: a log that lost its tail (emptied, cut back,
        # removed) must not number new events below it, or the next load would skip them.
        self._seq_floor = 0
        self._prepared = False
        self._guarded = False
        # fsyncs of the event log so far: what the bus's group commit saves is counted here.
        self.log_fsyncs = 0
        # Batches written and not yet settled (`write_batch` / `sync_batch`), in write order.
        self._settled = threading.Condition(self._lock)
        self._unsettled: collections.deque[LogWrite] = collections.deque()
        self._writes = 0
        self._secrets: list[tuple[bytes, bytes]] = []
        self._values: list[str] = []
        # Slop's own secret-looking variables are masked whether or not they are configured keys.
        self.add_secrets(*secrets, *environment_secrets(os.environ))

    # -- paths ---------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS_FILE

    # -- secrets -------------------------------------------------------------

    def add_secrets(self, *secrets: Secret | str | None) -> None:
        """Register credential values that must never be written (as text or JSON-escaped)."""
        for secret in secrets:
            if secret is None:
                continue
            value = secret.reveal() if isinstance(secret, Secret) else secret
            if len(value) < _MIN_SECRET or value in self._values:
                continue
            self._values.append(value)
            # Each form (plain, repr, JSON, URL-quoted) as it stands in a JSON string and raw.
            for form in secret_forms(value):
                pair = (msgspec.json.encode(form)[1:-1], form.encode("utf-8", "surrogatepass"))
                if pair not in self._secrets:
                    self._secrets.append(pair)
        # Longest first, so a form that contains another is masked whole.
        self._secrets.sort(key=lambda pair: len(pair[0]), reverse=True)

    @property
    def secret_values(self) -> list[str]:
        """The registered credential values (for callers that must mask them in text they pass
        on, such as a command's output on its way to a model). Never print this list."""
        return list(self._values)

    def _redact(self, data: bytes) -> bytes:
        for escaped, raw in self._secrets:
            data = data.replace(escaped, b"***").replace(raw, b"***")
        return data

    def _encode(self, obj: object) -> bytes:
        return self._redact(_ENCODER.encode(obj))

    # -- setup ---------------------------------------------------------------

    def _guard(self) -> None:
        """Refuse a `.slop/` that is not slop's own (`guard.check_private_state`): every
        reader and writer of the store calls this first, so a refusal touches nothing."""
        if not self._guarded:
            check_private_state(self.repo_root)
            self._guarded = True

    def _prepare(self) -> None:
        """Create `.slop/` and keep it out of git, once, before the first write."""
        if self._prepared:
            return
        self._guard()
        try:
            created = not self.root.is_dir()
            self.root.mkdir(parents=True, exist_ok=True)
            if created:
                fsync_dir(self.root.parent)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create: {exc.strerror or exc}") from None
        try:
            exclude_from_git(self.repo_root)
        except StoreError as exc:  # a read-only .git must not stop the run: say so instead
            self.warnings.append(str(exc))
        self._prepared = True

    def close(self) -> None:
        """Close the log's file handle (appending again reopens it)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
