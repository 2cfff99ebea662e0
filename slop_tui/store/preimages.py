"""Pre-images: each file's content from before a ticket first changed it, for undo."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import msgspec

from slop_tui.models import AnyEvent, FileChanged, FilesRestored, clip_message
from slop_tui.store.atomic import fsync_dir, read_private, write_private
from slop_tui.store.event_log import EventLog
from slop_tui.store.guard import restore_path_problem, shown_path
from slop_tui.store.layout import (
    _PRIVATE,
    EVENTS_FILE,
    PREIMAGES_DIR,
    StoreError,
    _safe_name,
    _timestamp,
)
from slop_tui.words import counted, verb

_PREIMAGE_INDEX = "index.json"
_BLOB_NAME = re.compile(r"[0-9a-f]{32}\.bin")  # see `save_preimage`


def live_writes(events: Iterable[AnyEvent], ticket_id: str) -> list[FileChanged]:
    """`ticket_id`'s writes that its pre-images still answer for: its `FileChanged` events
    since its files were last restored (`FilesRestored`), oldest first."""
    live: list[FileChanged] = []
    for event in events:
        if isinstance(event, FilesRestored) and event.ticket_id == ticket_id:
            live = []
        elif isinstance(event, FileChanged) and event.ticket_id == ticket_id:
            live.append(event)
    return live


class _PreimageIndex(msgspec.Struct, kw_only=True):
    ticket_id: str
    files: dict[str, str | None] = msgspec.field(default_factory=dict)  # rel_path -> blob


class Preimages(EventLog):
    """Pre-images of the files tickets changed (`.slop/preimages/<ticket>/`)."""

    def _preimage_dir(self, ticket_id: str) -> Path:
        return self.root / PREIMAGES_DIR / _safe_name(ticket_id)

    @staticmethod
    def _normalise(rel_path: str) -> str:
        problem = restore_path_problem(rel_path)
        if problem is not None:
            raise StoreError(
                f"pre-image path {shown_path(rel_path)} is not a path inside the repository "
                f"(it {problem})"
            )
        return PurePosixPath(rel_path.replace("\\", "/")).as_posix()

    @staticmethod
    def _check_entry(where: Path, rel_path: str, blob: str | None) -> None:
        """An index (or log) entry names a restorable path and one of our blobs, or the
        restore is refused whole: a planted index must not make undo write `.git/config`."""
        problem = restore_path_problem(rel_path)
        if problem is None and blob is not None and not _BLOB_NAME.fullmatch(blob):
            problem = f"has a pre-image blob named {shown_path(blob)}, which slop never writes"
        if problem is not None:
            raise StoreError(
                f"{where}: refused: it lists {shown_path(rel_path)}, which {problem}; "
                "nothing was restored"
            )

    def _read_index(self, ticket_id: str) -> _PreimageIndex | None:
        self._guard()
        index_path = self._preimage_dir(ticket_id) / _PREIMAGE_INDEX
        try:
            index = msgspec.json.decode(read_private(index_path), type=_PreimageIndex)
        except FileNotFoundError:
            if not index_path.parent.is_dir():
                return None  # nothing kept (a caller compares with the log's live writes)
            return self._rebuild_missing_index(ticket_id, index_path)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._recover_index(ticket_id, index_path, str(exc))
        except OSError as exc:
            raise StoreError(f"{index_path}: cannot read: {exc.strerror or exc}") from None
        if index.ticket_id != ticket_id:
            return self._recover_index(ticket_id, index_path, f"it names ticket {index.ticket_id!r}")
        for rel_path, blob in index.files.items():
            self._check_entry(index_path, rel_path, blob)
        return index

    def _recover_index(self, ticket_id: str, index_path: Path, reason: str) -> _PreimageIndex:
        """Keep a corrupt index aside and rebuild it from the log's `FileChanged` events.

        Each event names the path and its blob (None: the file was new); a blob's name is a
        hash of the path, so every incarnation of the ticket points at the same blob.
        """
        # Rebuilt (and checked) before anything moves: a refused log leaves the index as it is.
        index = _PreimageIndex(ticket_id=ticket_id)
        missing: list[str] = []
        for event in live_writes(self.events(), ticket_id):
            blob = None if event.preimage is None else PurePosixPath(event.preimage).name
            self._check_entry(self.events_path, event.path, blob)
            if blob is None:
                index.files[event.path] = None
            elif (index_path.parent / blob).is_file():
                index.files[event.path] = blob
            else:
                missing.append(event.path)
        aside = index_path.with_name(f"{_PREIMAGE_INDEX}.corrupt-{_timestamp()}")
        try:
            os.replace(index_path, aside)
        except OSError as exc:
            raise StoreError(
                f"{index_path}: corrupt pre-image index ({clip_message(reason, 160)}) and cannot "
                f"be moved aside: {exc.strerror or exc}"
            ) from None
        write_private(index_path, self._encode(index), mode=_PRIVATE)
        lost = f"; no pre-image found for {', '.join(sorted(set(missing)))}" if missing else ""
        self.warnings.append(
            f"{index_path}: corrupt pre-image index ({clip_message(reason, 120)}); kept as "
            f"{aside.name}; rebuilt from {EVENTS_FILE} with {counted(len(index.files), 'file')}{lost}"
        )
        return index

    def _rebuild_missing_index(self, ticket_id: str, index_path: Path) -> _PreimageIndex:
        """A ticket's pre-image folder without its index: rebuilt from the log's live writes,
        or refused. Read as empty, the ticket's edits would stay on disk and its fresh start
        would apply them a second time.

        Refused (nothing written) when a live write's blob is gone, or when the ticket has
        logged writes and a blob is there that none of them accounts for (a write may have
        landed without its event): which file it belongs to cannot be told, so neither can
        what to restore. With no logged write at all, a lone blob is a pre-image whose index
        never landed (a kill between the two): its write, which comes after the index, never
        happened.
        """
        directory = index_path.parent
        index = _PreimageIndex(ticket_id=ticket_id)
        writes = live_writes(self.events(), ticket_id)
        for event in writes:
            blob = None if event.preimage is None else PurePosixPath(event.preimage).name
            self._check_entry(self.events_path, event.path, blob)
            if event.path in index.files:
                continue  # the first write of a path holds its pre-image
            if blob is not None and not (directory / blob).is_file():
                raise StoreError(
                    f"{index_path} is missing and the pre-image of {shown_path(event.path)} "
                    f"({blob}) is gone too: ticket {ticket_id!r} cannot be restored; nothing was "
                    "restored"
                )
            index.files[event.path] = blob
        try:
            present = {p.name for p in directory.iterdir() if _BLOB_NAME.fullmatch(p.name)}
        except OSError as exc:
            raise StoreError(f"{directory}: cannot list: {exc.strerror or exc}") from None
        unknown = sorted(present - {b for b in index.files.values() if b is not None})
        if unknown and writes:
            raise StoreError(
                f"{index_path} is missing and {counted(len(unknown), 'pre-image')} in {directory} "
                f"({', '.join(unknown[:3])}) {verb(len(unknown), 'belongs', 'belong')} to no "
                f"logged write of ticket {ticket_id!r}: "
                "which files they restore cannot be told; nothing was restored"
            )
        write_private(index_path, self._encode(index), mode=_PRIVATE)
        self.warnings.append(
            f"{index_path}: missing; rebuilt from {EVENTS_FILE} with {counted(len(index.files), 'file')}"
        )
        return index

    def save_preimage(self, ticket_id: str, rel_path: str, content: bytes | None) -> str | None:
        """Keep `rel_path`'s content from before `ticket_id` first changed it (None: absent).

        Only the first call per (ticket, path) counts: later ones are no-ops. Returns the
        blob's name relative to `.slop/` (for `FileChanged.preimage`), None for an absent file.
        """
        key = self._normalise(rel_path)
        with self._lock:
            self._prepare()
        with self._preimage_lock:
            directory = self._preimage_dir(ticket_id)
            index = self._read_index(ticket_id) or _PreimageIndex(ticket_id=ticket_id)
            if key in index.files:
                blob = index.files[key]
                return None if blob is None else f"{PREIMAGES_DIR}/{directory.name}/{blob}"
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{directory}: cannot create: {exc.strerror or exc}") from None
            blob_name: str | None = None
            if content is not None:
                # Blob first, index second: an index entry always has its blob on disk.
                blob_name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".bin"
                write_private(directory / blob_name, content, mode=_PRIVATE)
            index.files[key] = blob_name
            write_private(directory / _PREIMAGE_INDEX, self._encode(index), mode=_PRIVATE)
            return None if blob_name is None else f"{PREIMAGES_DIR}/{directory.name}/{blob_name}"

    def preimages(self, ticket_id: str) -> dict[str, bytes | None]:
        """rel_path -> content before `ticket_id` touched it (None: the file did not exist)."""
        with self._preimage_lock:
            index = self._read_index(ticket_id)
            if index is None:
                return {}
            directory = self._preimage_dir(ticket_id)
            result: dict[str, bytes | None] = {}
            for rel_path, blob in index.files.items():
                if blob is None:
                    result[rel_path] = None
                    continue
                try:
                    result[rel_path] = read_private(directory / blob)
                except OSError as exc:
                    raise StoreError(
                        f"{directory / blob}: pre-image of {rel_path!r} for ticket {ticket_id!r} "
                        f"cannot be read: {exc.strerror or exc}"
                    ) from None
            return result

    def drop_preimages(self, ticket_id: str) -> None:
        """Forget a ticket's pre-images (after an undo, or once they are no longer wanted)."""
        with self._preimage_lock:
            self._guard()
            directory = self._preimage_dir(ticket_id)
            if not directory.exists():
                return
            try:
                shutil.rmtree(directory)
                fsync_dir(directory.parent)
            except OSError as exc:
                raise StoreError(f"{directory}: cannot remove: {exc.strerror or exc}") from None

