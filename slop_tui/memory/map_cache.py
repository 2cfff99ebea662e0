"""The repository map's tags, cached on disk between runs.

Per repository (by its real path) two files under the cache folder: an index (path → size,
mtime_ns, content hash) and a pack (content hash → `FileTags`). A file whose size and mtime
match its index row is not read at all; one that changed is read and hashed, and only parsed
when no file with those bytes was tagged before. A file modified within `RACY_WINDOW_NS` of the
moment its row was written is re-read next time (its mtime may not have moved on a later write).

Both files are written whole, to a temporary file then `os.replace`d, so two slop processes
sharing the folder never see a torn file (the last writer wins; it is a cache). A file that does
not decode is treated as empty.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import msgspec

from slop_tui.memory.tags import FileTags

# Bump when `FileTags` or a tagger changes what it records: old entries are then ignored.
FORMAT = 4
RACY_WINDOW_NS = 2_000_000_000
CACHE_ENV = "SLOP_CACHE_DIR"


class IndexRow(msgspec.Struct, frozen=True, array_like=True):
    size: int
    mtime_ns: int
    digest: str
    # When the row was written: a file modified this close to it is not trusted by stat alone.
    written_ns: int


class _Index(msgspec.Struct):
    format: int
    root: str
    rows: dict[str, IndexRow]


class _Pack(msgspec.Struct):
    format: int
    tags: dict[str, FileTags]


class Links(msgspec.Struct):
    """What ranking derives from all the tags together, kept for the next run when no file
    changed (`fingerprint` names every path and content hash)."""

    format: int
    fingerprint: str
    graph: dict[int, dict[int, float]]
    defined: dict[str, list[int]]
    referenced: dict[str, int]
    base_rank: list[float]
    # What each definition is worth per token before its file's rank, in tag order.
    worths: list[float] = []


def default_cache_dir() -> Path:
    """`$SLOP_CACHE_DIR/tags` when set (tests), else the user cache folder's `slop-tui/tags`."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override) / "tags"
    from platformdirs import user_cache_path

    return user_cache_path("slop-tui") / "tags"


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def trusted(row: IndexRow, size: int, mtime_ns: int) -> bool:
    """Whether a file with this stat is the one `row` describes, without reading it."""
    return row.size == size and row.mtime_ns == mtime_ns and mtime_ns < row.written_ns - RACY_WINDOW_NS


class TagStore:
    """The index and pack of one repository root."""

    def __init__(self, root: Path, cache_dir: Path | None) -> None:
        self.folder = cache_dir if cache_dir is not None else default_cache_dir()
        real = os.path.realpath(root)
        key = hashlib.blake2b(real.encode("utf-8", "surrogateescape"), digest_size=10).hexdigest()
        self.root = real
        self.index_path = self.folder / f"{key}.index"
        self.pack_path = self.folder / f"{key}.pack"
        self.links_path = self.folder / f"{key}.links"
        self.rows: dict[str, IndexRow] = {}
        self.tags: dict[str, FileTags] = {}
        self.dirty = False

    def load(self) -> None:
        index = _read(self.index_path, _Index)
        if index is not None and index.format == FORMAT and index.root == self.root:
            self.rows = dict(index.rows)
        pack = _read(self.pack_path, _Pack)
        if pack is not None and pack.format == FORMAT:
            self.tags = dict(pack.tags)
        # A row whose tags are gone (a torn pair of writes by two processes) is no row.
        self.rows = {path: row for path, row in self.rows.items() if row.digest in self.tags}

    def save(self, live: dict[str, IndexRow]) -> None:
        """Write the rows of the files that exist now, and only the tags they use."""
        if not self.dirty and live.keys() == self.rows.keys():
            return
        used = {row.digest for row in live.values()}
        tags = {key: value for key, value in self.tags.items() if key in used}
        self.rows = dict(live)
        self.dirty = False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write(self.pack_path, msgspec.msgpack.encode(_Pack(FORMAT, tags)))
            _write(self.index_path, msgspec.msgpack.encode(_Index(FORMAT, self.root, live)))
        except OSError:
            pass  # a read-only or full cache folder costs speed, never the map


    def fingerprint(self, paths: Iterable[str]) -> str:
        """One hash of the paths given and the content hashes of their current rows."""
        hasher = hashlib.blake2b(digest_size=16)
        for path in paths:
            row = self.rows.get(path)
            hasher.update(f"{path}\0{row.digest if row else ''}\n".encode("utf-8", "surrogateescape"))
        return hasher.hexdigest()

    def load_links(self, fingerprint: str) -> Links | None:
        links = _read(self.links_path, Links)
        if links is None or links.format != FORMAT or links.fingerprint != fingerprint:
            return None
        return links

    def save_links(self, links: Links) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write(self.links_path, msgspec.msgpack.encode(links))
        except OSError:
            pass


def _read(path: Path, kind: type[msgspec.Struct]):  # type: ignore[no-untyped-def]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return msgspec.msgpack.decode(data, type=kind)
    except (msgspec.DecodeError, ValueError, TypeError):
        return None


def _write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
