"""The repository map: an index of a repository's definitions, ranked and fitted to a budget.

`RepoMap.build` tags every supported file (`tags`, cached on disk by `map_cache`), links files
by imports and references and ranks them (`rank`). `render` then picks definition lines
greedily by score (the file's rank, personalized by what the tier works on, times what kind
of definition it is) until the token budget is spent, and prints them grouped by file in rank
order. Everything printed, headers and the "not shown" line included, is counted: the result's
`estimate_tokens` never exceeds the budget.

Output contract (scripts and tests parse it): a file's section starts with an unindented line,
its path relative to the root and `:`; each definition line below it is indented and keeps its
keyword and name (`class Console(Base):`, `def print(self, *objects, sep=…)`, `async def
fetch(url)`: parameter names only, defaults as `=…`). Module-level lines are public first,
private last; a class's methods are indented under its line (public first). Picking is by
value per token: a file's module-level definitions are worth about three times its methods, so
the central files' classes and functions come in before their methods, and the classes used by
the most other files first of all.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
import stat
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from slop_tui.memory.file_cache import ViewError, decode_source
from slop_tui.memory.languages import rules_for_path
from slop_tui.memory.map_cache import FORMAT, IndexRow, Links, TagStore, digest, trusted
from slop_tui.memory.map_files import keeps, map_files
from slop_tui.memory.map_overview import LANGUAGES, folder_tree
from slop_tui.memory.rank import GRAPH_VERSION, ModuleIndex, build_graph, pagerank
from slop_tui.memory.tags import TAGGERS, Definition, FileTags
from slop_tui.tokens import estimate_tokens, token_weight

__all__ = ["MapStats", "RepoMap", "map_files"]

# Files bigger than this are listed but not parsed: generated tables, not code to navigate.
MAX_FILE_BYTES = 1_000_000
INDENT = "  "
# Past this many parameters a map line ends in `…` (the views keep every one).
MAX_PARAMETERS = 12
# How much a kind of definition is worth, as a factor of its file's rank.
_TOP_LEVEL = 1.0
_MEMBER = 0.35
_CONSTANT = 0.01
_PRIVATE = 0.3
_DUNDER = 0.5
_MENTIONED = 30.0
_NAMED_FILE = 10.0
# A module-level name used by other files is worth more (by the log of how many), a class most:
# the classes the whole repository uses are what a planner needs to see first.
_USE = 0.25
_CLASS_USE = 1.5
# Personalization weights: a whole path named in the focus text, a path suffix or file name
# that names few files, a dotted module, a defined name, a target file.
_EXACT_PATH = 100.0
_PATH_SUFFIX = 30.0
_MODULE = 20.0
_IDENTIFIER = 5.0
_TARGET = 10.0
# Share of the random jump that stays uniform when the rank is personalized.
_BACKGROUND = 0.02
# The share of Tier 1's overview budget its folder tree may take (the map gets the rest).
_FOLDER_SHARE = 0.3
# In the overview's map, the most central folders' leading definitions come first.
_LEADING_FOLDERS = 24
_LEADERS_PER_FOLDER = 2
_LEADER = 1000.0
_FOCUS_TOKEN = re.compile(r"[\w./\\-]+")


class MapStats(msgspec.Struct):
    """What a build read and what the last render showed."""

    files: int = 0  # files the map considers (`map_files`)
    tagged_files: int = 0  # of them, files a tagger read
    definitions: int = 0
    build_seconds: float = 0.0
    cache_hits: int = 0  # files whose tags came from the cache without reading the file
    files_read: int = 0
    files_parsed: int = 0
    shown_files: int = 0
    shown_definitions: int = 0
    tokens: int = 0  # estimated tokens of the last render


class _Item:
    """A definition line the render may pick."""

    __slots__ = ("file", "definition", "score", "order")

    def __init__(self, file: int, definition: Definition, score: float, order: int) -> None:
        self.file = file
        self.definition = definition
        self.score = score
        self.order = order


def _first(entry: tuple[float, int, int, Definition]) -> float:
    return entry[0]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _weight(definition: Definition) -> float:
    name = definition.name
    if definition.kind == "const":
        weight = _CONSTANT
    elif definition.parent:
        weight = _MEMBER
    else:
        weight = _TOP_LEVEL
    if _is_private(name):
        weight *= _PRIVATE
    elif name.startswith("__") and name != "__init__":
        weight *= _DUNDER
    return weight


def _shown(definition: Definition) -> str:
    """A definition's line, its parameter list cut after `MAX_PARAMETERS` names (the map is an
    index; the views keep the whole signature)."""
    line = definition.line
    if not line.endswith(")") or definition.kind == "class" or line.count(", ") < MAX_PARAMETERS:
        return line
    head, _, params = line[:-1].partition("(")
    names = params.split(", ")
    return f"{head}({', '.join(names[:MAX_PARAMETERS])}, …)"


def _tokens_of(line: str) -> float:
    return token_weight(line)


def _more_line(count: int) -> str:
    return f"… {count:,} more file{'s' if count != 1 else ''} not shown\n"


class RepoMap:
    """The map of one repository (see the module docstring)."""

    def __init__(self, root: Path, files: list[str], tags: dict[str, FileTags], store: TagStore) -> None:
        self.root = root
        self.files = files
        self.tags = tags
        self._store = store
        self.stats = MapStats(files=len(files))
        self._link()

    # -- building --------------------------------------------------------------------------

    @classmethod
    def build(cls, root: Path, *, cache_dir: Path | None = None) -> RepoMap:
        started = time.perf_counter()
        root = Path(root)
        files = map_files(root)
        store = TagStore(root, cache_dir)
        store.load()
        stats = MapStats(files=len(files))
        tags: dict[str, FileTags] = {}
        live: dict[str, IndexRow] = {}
        for rel in files:
            _tag_one(root, rel, store, tags, live, stats, force=False)
        store.save(live)
        repo_map = cls(root, files, tags, store)
        stats.tagged_files = len(tags)
        stats.definitions = sum(len(t.definitions) for t in tags.values())
        stats.build_seconds = time.perf_counter() - started
        repo_map.stats = stats
        return repo_map

    def refresh(self, paths: Iterable[str]) -> None:
        """Re-tag these files (a ticket changed them) and re-rank."""
        started = time.perf_counter()
        changed = False
        live = {rel: row for rel, row in self._store.rows.items() if rel in self.tags}
        known = set(self.files)
        for path in paths:
            rel = _relative(self.root, path)
            if rel is None:
                continue
            self.tags.pop(rel, None)
            live.pop(rel, None)
            changed = True
            if keeps(self.root, rel):
                if rel not in known:
                    self.files.append(rel)
                    known.add(rel)
                _tag_one(self.root, rel, self._store, self.tags, live, self.stats, force=True)
            elif rel in known:
                self.files.remove(rel)
                known.discard(rel)
        if changed:
            self.files.sort()
            self._store.save(live)
            self._link()
            self.stats.files = len(self.files)
            self.stats.tagged_files = len(self.tags)
            self.stats.definitions = sum(len(t.definitions) for t in self.tags.values())
            self.stats.build_seconds += time.perf_counter() - started

    def _link(self) -> None:
        """The graph, the defined and referenced names, and the unpersonalized rank: from the
        cache when no file changed since they were worked out, else worked out and cached."""
        self._paths = sorted(self.tags)
        self._position = {path: i for i, path in enumerate(self._paths)}
        self._module_index: ModuleIndex | None = None
        self._worth_table: list[tuple[int, Definition, float, int]] | None = None
        self._suffixes: dict[str, list[str]] | None = None
        self._root_prefix = self.root.resolve().name + "/"
        fingerprint = f"{GRAPH_VERSION}:{self._store.fingerprint(self._paths)}"
        links = self._store.load_links(fingerprint)
        definitions = sum(len(self.tags[path].definitions) for path in self._paths)
        if links is None or len(links.base_rank) != len(self._paths) or len(links.worths) != definitions:
            graph = build_graph(self._paths, self.tags, self._modules)
            defined, referenced = self._names()
            links = Links(FORMAT, fingerprint, graph, defined, referenced, pagerank(graph, len(self._paths)))
            links.worths = self._worth_values(referenced)
            self._store.save_links(links)
        self._graph = links.graph
        self._defined = links.defined
        # How many other files mention a top-level name: the map shows a class the whole
        # repository uses before one only its own module does.
        self._referenced = links.referenced
        self._base_rank = links.base_rank
        self._worth_list = links.worths

    @property
    def _modules(self) -> ModuleIndex:
        if self._module_index is None:
            root_package = self.root.resolve().name if "__init__.py" in self.tags else ""
            self._module_index = ModuleIndex(self._paths, root_package)
        return self._module_index

    def _names(self) -> tuple[dict[str, list[int]], dict[str, int]]:
        defined: dict[str, list[int]] = {}
        for i, path in enumerate(self._paths):
            for definition in self.tags[path].definitions:
                if not definition.parent:
                    owners = defined.setdefault(definition.name, [])
                    if not owners or owners[-1] != i:
                        owners.append(i)
        referenced: dict[str, int] = {}
        for i, path in enumerate(self._paths):
            for word in self.tags[path].references.split():
                definers = defined.get(word)
                if definers is not None and i not in definers:
                    referenced[word] = referenced.get(word, 0) + 1
        return defined, referenced

    # -- ranking -----------------------------------------------------------------------------

    def _rank(
        self, focus: Sequence[str], targets: Sequence[str], *, target_weight: float = _TARGET
    ) -> tuple[list[float], dict[int, float], set[str]]:
        """File ranks, the personalization weights by file, and the names the focus mentions."""
        weights, names = self._personalization(focus, targets, target_weight)
        count = len(self._paths)
        if not weights:
            return self._base_rank, weights, names
        total = sum(weights.values())
        jump = {i: (1 - _BACKGROUND) * w / total for i, w in weights.items()}
        for i in range(count):
            jump[i] = jump.get(i, 0.0) + _BACKGROUND / count
        return pagerank(self._graph, count, jump), weights, names

    def _personalization(
        self, focus: Sequence[str], targets: Sequence[str], target_weight: float
    ) -> tuple[dict[int, float], set[str]]:
        weights: dict[int, float] = {}
        names: set[str] = set()

        def add(path: str, weight: float) -> None:
            i = self._position.get(path)
            if i is not None:
                weights[i] = weights.get(i, 0.0) + weight

        for target in targets:
            rel = _relative(self.root, target)
            if rel is not None:
                add(rel, target_weight)
        text = "\n".join(focus)
        for raw in dict.fromkeys(_FOCUS_TOKEN.findall(text)):  # first-seen order: same sums every run
            token = raw.replace("\\", "/").strip(".-/")
            if token.startswith("./"):
                token = token[2:]
            if not token:
                continue
            if token.startswith(self._root_prefix):  # `rich/console.py` when the root is `rich`
                token = token[len(self._root_prefix) :] if token[len(self._root_prefix) :] in self._position else token
            if token in self._position:
                add(token, _EXACT_PATH)
                continue
            if "/" not in token and "." in token:
                module = self._modules.by_name.get(token)
                if module is not None:  # `django.db.models.query`
                    add(module, _MODULE)
                    continue
            if "/" in token or posixpath.splitext(token)[1] in LANGUAGES:
                hits = self._path_suffixes().get(token, [])
                if 0 < len(hits) <= 3:
                    for hit in hits:
                        add(hit, _PATH_SUFFIX / len(hits))
                if hits or "/" in token:
                    continue
            # `QuerySet.filter`: the class, and its member by name.
            owner_name, _, token = token.rpartition(".")
            for name in (owner_name, token) if owner_name else (token,):
                owners = self._defined.get(name)
                if owners and len(owners) <= 3:
                    names.add(name)
                    for i in owners:
                        weights[i] = weights.get(i, 0.0) + _IDENTIFIER / len(owners)
            if owner_name in names:
                names.add(f"{owner_name}.{token}")
        return weights, names

    def _path_suffixes(self) -> dict[str, list[str]]:
        """Every tail of every path at a `/` (`models/query.py`, `query.py`) → its files."""
        if self._suffixes is None:
            table: dict[str, list[str]] = {}
            for path in self._paths:
                parts = path.split("/")
                for start in range(1, len(parts)):
                    table.setdefault("/".join(parts[start:]), []).append(path)
            self._suffixes = table
        return self._suffixes

    # -- rendering ---------------------------------------------------------------------------

    def render(self, *, tokens: int, focus: Sequence[str] = (), targets: Sequence[str] = ()) -> str:
        ranks, weights, names = self._rank(focus, targets)
        return self._fit(tokens, ranks, weights, names, exclude=set())

    def related(self, paths: Sequence[str], *, tokens: int, focus: Sequence[str] = ()) -> str:
        own = [rel for rel in (_relative(self.root, p) for p in paths) if rel is not None]
        # The ticket's own files are the strongest pull, as if named by their whole path.
        ranks, _, names = self._rank(focus, own, target_weight=_EXACT_PATH)
        excluded = {self._position[rel] for rel in own if rel in self._position}
        return self._fit(tokens, ranks, {}, names, exclude=excluded)

    def overview(self, *, tokens: int) -> str:
        ranks, _, _ = self._rank((), ())
        file_ranks = {path: ranks[i] for i, path in enumerate(self._paths)}
        folder_text, folders = folder_tree(self.files, file_ranks, int(tokens * _FOLDER_SHARE))
        folders = folders[:_LEADING_FOLDERS]
        map_head = "\nMap:\n" if folder_text else ""
        remaining = tokens - estimate_tokens(folder_text + map_head)
        body = (
            self._fit(remaining, ranks, {}, set(), exclude=set(), leaders=self._folder_leaders(folders, ranks))
            if remaining > 0
            else ""
        )
        text = folder_text + map_head + body if body else folder_text
        if estimate_tokens(text) > tokens:
            text = folder_text if estimate_tokens(folder_text) <= tokens else ""
        return text

    def _folder_leaders(self, folders: list[str], ranks: list[float]) -> set[tuple[int, str]]:
        """The most used module-level definitions of the most central file of each folder
        shown: the overview's map shows something of every part of the repository first."""
        leaders: set[tuple[int, str]] = set()
        for folder in folders:
            prefix = folder + "/"
            inside = [i for i, path in enumerate(self._paths) if path.startswith(prefix) and self.tags[path].definitions]
            if not inside:
                continue
            best = max(inside, key=lambda i: (ranks[i], -i))
            public = [
                d for d in self.tags[self._paths[best]].definitions
                if not d.parent and d.kind != "const" and not _is_private(d.name)
            ]
            public.sort(key=lambda d: (-self._referenced.get(d.name, 0), d.lineno))
            leaders.update((best, d.name) for d in public[:_LEADERS_PER_FOLDER])
        return leaders

    def _fit(
        self,
        tokens: int,
        ranks: list[float],
        weights: dict[int, float],
        names: set[str],
        *,
        exclude: set[int],
        leaders: frozenset[tuple[int, str]] | set[tuple[int, str]] = frozenset(),
    ) -> str:
        """The map text within `tokens`: items picked greedily by score, then laid out."""
        scored: list[tuple[float, int, int, Definition]] = []
        # A file named by its path (or a target) shows its methods before other files' classes.
        named = {i for i, weight in weights.items() if weight >= _PATH_SUFFIX / 3}
        special = bool(named or names or leaders or exclude)
        for i, definition, worth, order in self._worths():
            score = ranks[i] * worth
            if special:
                if i in exclude:
                    continue
                if i in named:
                    score *= _NAMED_FILE
                if names and (f"{definition.parent}.{definition.name}" if definition.parent else definition.name) in names:
                    score *= _MENTIONED
                if leaders and not definition.parent and (i, definition.name) in leaders:
                    score *= _LEADER
            scored.append((score, order, i, definition))
        scored.sort(key=_first, reverse=True)  # stable: equal scores stay in source order
        shown_files_total = len(self.files) - len(exclude)
        reserve = _tokens_of(_more_line(shown_files_total))
        budget = tokens - reserve
        opened: set[int] = set()
        # Class lines present (picked, or printed because one of their members is).
        present: set[tuple[int, str]] = set()
        chosen: list[_Item] = []
        used = 0.0
        misses = 0
        for score, order, file, definition in scored:
            if budget - used < 3 or misses > 2000:
                break
            item = _Item(file, definition, score, order)
            key = (item.file, definition.name)
            if definition.kind == "class" and not definition.parent and key in present:
                chosen.append(item)  # its line is already paid for by a member
                continue
            cost = _tokens_of(INDENT * (2 if definition.parent else 1) + _shown(definition) + "\n")
            if item.file not in opened:
                cost += _tokens_of(self._paths[item.file] + ":\n")
            owner = (item.file, definition.parent)
            if definition.parent and owner not in present:
                cost += _tokens_of(INDENT + self._class_line(item.file, definition.parent) + "\n")
            if used + cost > budget:
                misses += 1
                continue
            misses = 0
            used += cost
            chosen.append(item)
            opened.add(item.file)
            present.add(owner if definition.parent else key)
        while True:
            text, shown_files = self._layout(chosen, ranks, weights)
            not_shown = shown_files_total - shown_files
            if not_shown > 0 and text:
                text += _more_line(not_shown)
            elif not_shown > 0 and tokens >= estimate_tokens(_more_line(not_shown)):
                text = _more_line(not_shown)
            if estimate_tokens(text) <= tokens or not chosen:
                break
            chosen.sort(key=lambda item: (-item.score, item.order))
            chosen.pop()
        if estimate_tokens(text) > tokens:
            text = ""
        self.stats.shown_files = shown_files
        self.stats.shown_definitions = len(chosen)
        self.stats.tokens = estimate_tokens(text)
        return text

    def _worth_values(self, referenced: dict[str, int]) -> list[float]:
        """What each definition (in tag order) is worth per token before its file's rank."""
        values: list[float] = []
        for path in self._paths:
            for definition in self.tags[path].definitions:
                worth = _weight(definition)
                if not definition.parent and definition.kind != "const":
                    boost = _CLASS_USE if definition.kind == "class" else _USE
                    worth *= 1.0 + boost * math.log1p(referenced.get(definition.name, 0))
                # Value per token: two short lines beat one long one of the same worth (the
                # length stands in for the tokens; the greedy pass counts them).
                values.append(worth / (4.0 + len(_shown(definition))))
        return values

    def _worths(self) -> list[tuple[int, Definition, float, int]]:
        """Every definition with its worth and its place in tag order (worked out once)."""
        if self._worth_table is None:
            table: list[tuple[int, Definition, float, int]] = []
            for i, path in enumerate(self._paths):
                for definition in self.tags[path].definitions:
                    table.append((i, definition, self._worth_list[len(table)], len(table)))
            self._worth_table = table
        return self._worth_table

    def _class_line(self, file: int, name: str) -> str:
        for definition in self.tags[self._paths[file]].definitions:
            if definition.kind == "class" and definition.name == name and not definition.parent:
                return _shown(definition)
        return f"class {name}:"

    def _layout(self, chosen: list[_Item], ranks: list[float], weights: dict[int, float]) -> tuple[str, int]:
        """Sections in rank order (files the focus names first); in a section, module-level
        definitions public first then private, each class's picked members under it."""
        by_file: dict[int, list[_Item]] = {}
        for item in chosen:
            by_file.setdefault(item.file, []).append(item)

        def file_key(i: int) -> tuple[float, float, str]:
            return (-weights.get(i, 0.0), -(ranks[i] if i < len(ranks) else 0.0), self._paths[i])

        out: list[str] = []
        for i in sorted(by_file, key=file_key):
            picked = sorted(by_file[i], key=lambda item: item.order)
            members: dict[str, list[Definition]] = {}
            top: dict[str, Definition] = {}
            for item in picked:
                definition = item.definition
                if definition.parent:
                    members.setdefault(definition.parent, []).append(definition)
                else:
                    top[definition.name] = definition
            for parent in members:
                if parent not in top:
                    for definition in self.tags[self._paths[i]].definitions:
                        if definition.kind == "class" and definition.name == parent and not definition.parent:
                            top[parent] = definition
                            break
            out.append(self._paths[i] + ":\n")
            ordered = sorted(top.values(), key=lambda d: (_is_private(d.name), d.kind == "const", d.lineno))
            for definition in ordered:
                out.append(f"{INDENT}{_shown(definition)}\n")
                inner = members.pop(definition.name, []) if definition.kind == "class" else []
                inner.sort(key=lambda d: (_is_private(d.name), d.lineno))
                out.extend(f"{INDENT * 2}{_shown(d)}\n" for d in inner)
            # A nested class's members (`parent` is its dotted path, `Cookies._Request`), or a
            # class the tags lost: under a `class Outer.Inner:` line of their own.
            for parent, inner in members.items():
                out.append(f"{INDENT}class {parent}:\n")
                out.extend(f"{INDENT * 2}{_shown(d)}\n" for d in inner)
        return "".join(out), len(by_file)


def _relative(root: Path, path: str) -> str | None:
    """`path` (relative to root, or absolute inside it) as the map's relative posix path."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(Path(root).resolve())
        except (ValueError, OSError):
            return None
    rel = posixpath.normpath(candidate.as_posix())
    if rel.startswith("../") or rel in ("..", "."):
        return None
    return rel


def _tag_one(
    root: Path,
    rel: str,
    store: TagStore,
    tags: dict[str, FileTags],
    live: dict[str, IndexRow],
    stats: MapStats,
    *,
    force: bool,
) -> None:
    """Tags of one file into `tags` (from the cache when its stat or bytes are known)."""
    rules = rules_for_path(rel)
    if rules is None:
        return
    tagger = TAGGERS.get(rules.name)
    if tagger is None:
        return
    absolute = os.path.join(root, rel)
    try:
        info = os.stat(absolute)
    except OSError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        return
    row = store.rows.get(rel)
    if not force and row is not None and trusted(row, info.st_size, info.st_mtime_ns):
        cached = store.tags.get(row.digest)
        if cached is not None:
            tags[rel] = cached
            live[rel] = row
            stats.cache_hits += 1
            return
    try:
        with open(absolute, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return
    stats.files_read += 1
    key = digest(data)
    file_tags = store.tags.get(key)
    if file_tags is None:
        source: bytes | None
        try:
            _, source = decode_source(data, rel, rules)
        except ViewError:
            # Binary (NUL bytes): remembered as a file with no tags. Text with a bad byte still
            # parses: tree-sitter reads bytes, and names are ASCII nearly always.
            source = None if b"\x00" in data else data
        file_tags = tagger(source) if source is not None else FileTags(rules.name, [], "", [])
        stats.files_parsed += 1
        store.tags[key] = file_tags
    store.dirty = True
    tags[rel] = file_tags
    live[rel] = IndexRow(info.st_size, info.st_mtime_ns, key, time.time_ns())
