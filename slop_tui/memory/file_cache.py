"""The file cache behind every memory view: raw, skeleton and curated text of a file.

    get_skeleton_view(path) / get_curated_view(path) / get_raw_view(path) -> str
    invalidate(paths) / rebuild(paths)

These module functions use one default `FileCache`; a caller that wants its own cache (a test,
a benchmark, a second repository) makes a `FileCache()`.

Freshness, cheapest check first:
- the entry's `stat` (size, mtime in ns) matches: the cached view is served without reading
  the file;
- the stat changed: the file is read and hashed; an unchanged hash keeps the cached views (a
  `touch`, a checkout that rewrote the same bytes), and only a changed hash re-parses.
- A stat taken within `RACY_WINDOW_NS` of the file's mtime cannot prove that a later write of
  the same size did not land in the same clock tick (git's "racy clean" problem), so such an
  entry is hashed again on every lookup until its mtime is older than the window.

A file with no grammar in `languages` (a README, a TOML file) has its raw text as every view.
Errors a user can hit (missing path, a directory, a binary or undecodable file) raise
`ViewError`, whose message is one line naming the path; this package imports nothing of ours,
so callers wrap it in their own error type.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterable
from typing import Literal

import msgspec

from slop_tui.memory.ast_views import SyntaxProblem
from slop_tui.memory.languages import AnyRules, rules_for_path
from slop_tui.memory.views import build_view

ViewKind = Literal["raw", "skeleton", "curated"]
VIEW_KINDS: tuple[ViewKind, ...] = ("raw", "skeleton", "curated")

# Two seconds covers the coarsest common mtime granularity (FAT's 2 s; ext4 and APFS are finer).
RACY_WINDOW_NS = 2_000_000_000

_UTF8_BOM = codecs.BOM_UTF8
_MAX_REMEMBERED_KEYS = 100_000


class ViewError(Exception):
    """A path that cannot have a view: missing, a directory, binary or undecodable text."""


class FileView(msgspec.Struct, frozen=True):
    """One view of one file, with what a caller may want to report about it."""

    path: str  # absolute
    kind: ViewKind
    text: str
    raw_size: int  # bytes of the file's text as UTF-8
    syntax_problem: SyntaxProblem | None = None


class CacheCounters(msgspec.Struct):
    """What the cache did so far: lookups served from a matching stat, file reads, parses."""

    stat_hits: int = 0
    reads: int = 0
    parses: int = 0


class _Entry:
    __slots__ = (
        "key", "size", "mtime_ns", "racy", "digest", "source", "text", "rules", "views",
        "spellings",
    )  # fmt: skip

    def __init__(
        self, key: str, size: int, mtime_ns: int, digest: bytes, source: bytes, text: str,
        rules: AnyRules | None,
    ) -> None:  # fmt: skip
        self.key = key  # the absolute, normalized path
        self.size = size
        self.mtime_ns = mtime_ns
        self.racy = _is_racy(mtime_ns)
        self.digest = digest
        self.source = source  # UTF-8, what the parser sees
        self.text = text
        self.rules = rules
        self.views: dict[str, FileView] = {}
        self.spellings: set[str] = set()  # its keys in `FileCache._given`


def _is_racy(mtime_ns: int) -> bool:
    return mtime_ns >= time.time_ns() - RACY_WINDOW_NS


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def decode_source(data: bytes, path: str, rules: AnyRules | None) -> tuple[str, bytes]:
    """The text of a file's bytes and its UTF-8 encoding (what tree-sitter parses).

    A NUL byte means binary; the encoding is UTF-8 (a BOM is dropped) unless the language
    declares another one (PEP 263's `# -*- coding: ... -*-` for Python).
    """
    if b"\x00" in data:
        raise ViewError(f"{path}: binary file (it contains NUL bytes); no view")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
        encoding = "utf-8"
    else:
        encoding = _declared_encoding(data, rules) or "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else "unknown encoding"
        raise ViewError(f"{path}: not readable as {encoding} text ({reason}); no view") from None
    if encoding == "utf-8" or text.isascii():
        return text, data
    return text, text.encode("utf-8")


def _declared_encoding(data: bytes, rules: AnyRules | None) -> str | None:
    if rules is None or rules.encoding_declaration is None:
        return None
    # Only the first two lines may declare it, and the second only below a comment or a blank.
    first_end = data.find(b"\n")
    lines = [data if first_end < 0 else data[:first_end]]
    if first_end >= 0 and lines[0].lstrip()[:1] in (b"", b"#"):
        second_end = data.find(b"\n", first_end + 1)
        lines.append(data[first_end + 1 : second_end if second_end >= 0 else len(data)])
    for line in lines:
        match = rules.encoding_declaration.match(line)
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return name
    return None


def declare_utf8(text: str, rules: AnyRules | None) -> str:
    """`text` with its encoding declaration (PEP 263 cookie) saying `utf-8`, for printing the
    decoded text as UTF-8: a latin-1 file printed as UTF-8 under its `latin-1` cookie would
    be read back wrong. Text without a declaration, or declaring UTF-8, comes back as it is."""
    pattern = rules.encoding_declaration if rules is not None else None
    if pattern is None:
        return text
    head = text[:1024].encode("utf-8", "surrogateescape")
    if _declared_encoding(head, rules) in (None, "utf-8"):
        return text
    lines = text.split("\n", 2)
    for index, line in enumerate(lines[:2]):
        match = pattern.match(line.encode("utf-8", "surrogateescape"))
        if match:
            encoded = line.encode("utf-8", "surrogateescape")
            lines[index] = (encoded[: match.start(1)] + b"utf-8" + encoded[match.end(1) :]).decode(
                "utf-8", "surrogateescape"
            )
            break
    return "\n".join(lines)


class FileCache:
    """Views of files, keyed by absolute path, kept fresh by stat and content hash."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}  # normalized absolute path -> entry
        # An absolute path exactly as a caller spelled it -> its entry, so that a lookup is one
        # dict lookup and one `stat` (no normalizing, no second lookup). A relative path is not
        # kept: what it names depends on the working directory.
        self._given: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.counters = CacheCounters()

    # -- the public views -----------------------------------------------------------------

    def get_view(self, path: str | os.PathLike[str], kind: ViewKind) -> FileView:
        """A view with its source's size and first syntax problem (for `slop view`)."""
        shown = path if isinstance(path, str) else os.fspath(path)
        entry = self._given.get(shown)
        if entry is not None:
            # The fast path, a dict lookup and a stat: it is most of what the cache is for.
            try:
                info = os.stat(entry.key)
            except OSError as exc:
                raise self._stat_failed(entry.key, shown, exc) from None
            if (
                entry.mtime_ns == info.st_mtime_ns
                and entry.size == info.st_size
                and not entry.racy
            ):
                view = entry.views.get(kind)
                if view is not None:
                    self.counters.stat_hits += 1
                    return view
            return self._lookup(entry.key, shown, kind, info)
        return self._lookup(self._key(shown), shown, kind, None)

    def _lookup(
        self, absolute: str, shown: str, kind: ViewKind, info: os.stat_result | None
    ) -> FileView:
        """Every lookup the fast path did not serve: a first lookup, a changed stat, a view
        kind not built yet. `info` is the file's stat when the caller took one already."""
        if info is None:
            try:
                info = os.stat(absolute)
            except OSError as exc:
                raise self._stat_failed(absolute, shown, exc) from None
        entry = self._entries.get(absolute)
        stat_matches = (
            entry is not None
            and entry.size == info.st_size
            and entry.mtime_ns == info.st_mtime_ns
            and not entry.racy
        )
        if stat_matches:
            assert entry is not None
            view = entry.views.get(kind)
            if view is not None:
                self.counters.stat_hits += 1
                self._remember(shown, entry)
                return view
        if kind not in VIEW_KINDS:
            raise ValueError(f"unknown view kind {kind!r}; expected one of {VIEW_KINDS}")
        if stat_matches:
            assert entry is not None
            self.counters.stat_hits += 1
        else:
            entry = self._refresh(absolute, shown, info, entry)
        view = entry.views.get(kind)
        if view is None:
            view = self._build(absolute, entry, kind)
        self._remember(shown, entry)
        return view

    def _remember(self, shown: str, entry: _Entry) -> None:
        if self._given.get(shown) is entry or not os.path.isabs(shown):
            return
        with self._lock:
            if self._entries.get(entry.key) is not entry:
                return  # invalidated or replaced meanwhile
            if len(self._given) >= _MAX_REMEMBERED_KEYS:
                self._given.clear()
            self._given[shown] = entry
            entry.spellings.add(shown)

    def _forget(self, entry: _Entry) -> None:
        """Drop an entry that left `_entries` from the spellings that lead to it (under the
        lock). A lookup that reached it just before still fails its stat match, and takes the
        slow path, which finds the current entry."""
        entry.size = -1
        given = self._given
        for spelling in entry.spellings:
            if given.get(spelling) is entry:
                del given[spelling]
        entry.spellings.clear()

    def _build(self, absolute: str, entry: _Entry, kind: ViewKind) -> FileView:
        size = len(entry.source)
        if kind == "raw" or entry.rules is None:
            view = FileView(absolute, kind, entry.text, size)
        else:
            built = build_view(entry.source, kind, entry.rules)
            self.counters.parses += 1
            view = FileView(absolute, kind, built.text, size, built.syntax_problem)
        entry.views[kind] = view
        return view

    def get_skeleton_view(self, path: str | os.PathLike[str]) -> str:
        return self.get_view(path, "skeleton").text

    def get_curated_view(self, path: str | os.PathLike[str]) -> str:
        return self.get_view(path, "curated").text

    def get_raw_view(self, path: str | os.PathLike[str]) -> str:
        return self.get_view(path, "raw").text

    # -- keeping it fresh -----------------------------------------------------------------

    def invalidate(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Forget these files; the next lookup reads and parses them again."""
        with self._lock:
            for path in paths:
                entry = self._entries.pop(self._key(os.fspath(path)), None)
                if entry is not None:
                    self._forget(entry)

    def rebuild(self, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
        """Forget these files and build their skeleton and curated views now (the stub
        resolver calls this after a stub lands). Returns the absolute paths rebuilt; a path
        that has no view any more (deleted, binary) is only forgotten."""
        paths = [os.fspath(p) for p in paths]
        self.invalidate(paths)
        rebuilt: list[str] = []
        for path in paths:
            try:
                self.get_view(path, "skeleton")
                rebuilt.append(self.get_view(path, "curated").path)
            except ViewError:
                continue
        return rebuilt

    @staticmethod
    def _key(path: str) -> str:
        """The cache key of a path: its absolute, normalized form."""
        return os.path.abspath(path)

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                self._forget(entry)
            self._entries.clear()
            self._given.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _stat_failed(self, absolute: str, shown: str, exc: OSError) -> ViewError:
        if isinstance(exc, FileNotFoundError):
            self.invalidate([absolute])
            return ViewError(f"{shown}: no such file")
        return ViewError(f"{shown}: cannot read it ({exc.strerror})")

    def _refresh(
        self, absolute: str, shown: str, info: os.stat_result, entry: _Entry | None
    ) -> _Entry:
        """The entry for a file whose stat did not match: read and hash it; keep the old entry
        (and its views) when the bytes are the same, else decode them into a new one."""
        if stat.S_ISDIR(info.st_mode):
            raise ViewError(f"{shown}: is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ViewError(f"{shown}: not a regular file")
        try:
            with open(absolute, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ViewError(f"{shown}: cannot read it ({exc.strerror})") from None
        digest = _digest(data)
        with self._lock:
            self.counters.reads += 1
            if (
                entry is not None
                and entry.digest == digest
                and self._entries.get(absolute) is entry  # not invalidated meanwhile
            ):
                # Same bytes under a new stat: keep every view built so far.
                entry.size, entry.mtime_ns = info.st_size, info.st_mtime_ns
                entry.racy = _is_racy(info.st_mtime_ns)
                return entry
        rules = rules_for_path(absolute)
        try:
            text, source = decode_source(data, shown, rules)
        except ViewError:
            self.invalidate([absolute])
            raise
        fresh = _Entry(absolute, info.st_size, info.st_mtime_ns, digest, source, text, rules)
        with self._lock:
            replaced = self._entries.get(absolute)
            if replaced is not None:
                self._forget(replaced)
            self._entries[absolute] = fresh
        return fresh


default_cache = FileCache()


def get_view(path: str | os.PathLike[str], kind: ViewKind) -> FileView:
    return default_cache.get_view(path, kind)


def get_skeleton_view(path: str | os.PathLike[str]) -> str:
    """Imports, constants, and every class and function header with its body as `...`."""
    return default_cache.get_view(path, "skeleton").text


def get_curated_view(path: str | os.PathLike[str]) -> str:
    """The skeleton plus docstrings and the whole bodies of `# [HOT]` / `@core_logic`
    functions; every other body is `... # Hidden`."""
    return default_cache.get_view(path, "curated").text


def get_raw_view(path: str | os.PathLike[str]) -> str:
    """The file's text as it is."""
    return default_cache.get_view(path, "raw").text


def invalidate(paths: Iterable[str | os.PathLike[str]]) -> None:
    default_cache.invalidate(paths)


def rebuild(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    return default_cache.rebuild(paths)
