"""The repository map's file graph and its ranking.

A file points at the files it depends on: at a file it imports (resolved to a repository file:
dotted modules, relative imports, `from package import submodule`), with a high weight, and at a
file that defines a name it mentions, with a lower weight divided among the files defining that
name and damped for names many files define (`get`, `run`, `name`). PageRank over that graph
(power iteration, written here: the graph is small and this avoids a dependency) then ranks a
file imported by many above a leaf; personalization points the random jumps at what a tier is
working on.
"""

from __future__ import annotations

import math
import re
import posixpath
from collections.abc import Iterable, Mapping

from slop_tui.memory.tags import FileTags

# Bump when the graph, the rank or the worth of a definition (`repo_map`) changes: cached
# links of an older version are not used.
GRAPH_VERSION = 3
IMPORT_WEIGHT = 1.0
REFERENCE_WEIGHT = 0.25
MEMBER_REFERENCE_WEIGHT = 0.05
# A name that is a plain lower-case word (`date`, `first`, `length`) is mostly prose in comments
# and strings, not a use of the definition: its references count this much.
PLAIN_WORD_FACTOR = 0.1
_PLAIN_WORD = re.compile(r"[a-z]+")
# A name defined in more files than this is too common to say where a reference goes.
MAX_DEFINING_FILES = 8
DAMPING = 0.85
_ITERATIONS = 100
# Total change of the rank vector (it sums to 1) below which the order of files stops moving.
_TOLERANCE = 1e-5

Graph = dict[int, dict[int, float]]


def module_names(path: str, package_dirs: set[str], root_package: str) -> list[str]:
    """The dotted names a Python file can be imported as: from the repository root, from
    `src/`, and from its outermost package (a folder chain with `__init__.py`), so that a
    library checked out at its package folder still resolves its absolute imports."""
    stem = path[: -len(posixpath.splitext(path)[1])]
    parts = stem.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names: list[str] = []
    if parts:
        names.append(".".join(parts))
    if parts[:1] == ["src"] and len(parts) > 1:
        names.append(".".join(parts[1:]))
    folder = posixpath.dirname(path)
    if folder in package_dirs:
        while posixpath.dirname(folder) in package_dirs:
            folder = posixpath.dirname(folder)
        tail = parts[folder.count("/") :]
        if tail:
            names.append(".".join(tail))
    if root_package:
        names.append(".".join([root_package, *parts]))
    return names


class ModuleIndex:
    """Dotted module name → repository file, for the Python files of the map."""

    def __init__(self, paths: Iterable[str], root_package: str = "") -> None:
        python = [p for p in paths if p.endswith((".py", ".pyi"))]
        self.files = set(python)
        # The root folder itself ("") is never a package here: `root_package` names it.
        package_dirs = {
            posixpath.dirname(p) for p in python if posixpath.basename(p) == "__init__.py"
        } - {""}
        self.by_name: dict[str, str] = {}
        # Shorter paths first: a top-level module wins a name over a deeper one.
        for path in sorted(python, key=lambda p: (p.count("/"), p.endswith(".pyi"), p)):
            for name in module_names(path, package_dirs, root_package):
                self.by_name.setdefault(name, path)

    def _in_folder(self, folder: str, dotted: str) -> str | None:
        stem = "/".join(part for part in (folder, *dotted.split(".")) if part)
        candidates = (f"{stem}.py", f"{stem}/__init__.py", f"{stem}.pyi") if stem else ("__init__.py",)
        for candidate in candidates:
            if candidate in self.files:
                return candidate
        return None

    def resolve(self, path: str, level: int, module: str, names: list[str]) -> list[str]:
        """The repository files one import statement of `path` names (none for the stdlib and
        third-party packages)."""
        found: list[str] = []
        if level:
            folder = posixpath.dirname(path)
            for _ in range(level - 1):
                folder = posixpath.dirname(folder)
            for name in names:
                hit = self._in_folder(folder, f"{module}.{name}" if module else name)
                if hit:
                    found.append(hit)
            if not found:
                hit = self._in_folder(folder, module)
                if hit:
                    found.append(hit)
        else:
            for name in names:
                hit = self.by_name.get(f"{module}.{name}")
                if hit:
                    found.append(hit)
            if not found:
                dotted = module
                # `import a.b.c` where only `a/b.py` exists: the longest prefix that resolves.
                while dotted:
                    hit = self.by_name.get(dotted)
                    if hit:
                        found.append(hit)
                        break
                    dotted = dotted.rpartition(".")[0]
        return [hit for hit in found if hit != path]


def build_graph(paths: list[str], tags: Mapping[str, FileTags], index: ModuleIndex) -> Graph:
    """Edges file → files it depends on, by position in `paths`."""
    position = {path: i for i, path in enumerate(paths)}
    top_level: dict[str, list[int]] = {}
    members: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        file_tags = tags.get(path)
        if file_tags is None:
            continue
        for definition in file_tags.definitions:
            table = top_level if not definition.parent else members
            owners = table.setdefault(definition.name, [])
            if not owners or owners[-1] != i:
                owners.append(i)
    # What a mention of each name contributes, worked out once per name.
    contributions: dict[str, list[tuple[int, float]]] = {}
    for table, weight in ((top_level, REFERENCE_WEIGHT), (members, MEMBER_REFERENCE_WEIGHT)):
        for name, owners in table.items():
            if len(owners) > MAX_DEFINING_FILES:
                continue
            share = weight / (len(owners) * math.sqrt(len(owners)))
            if _PLAIN_WORD.fullmatch(name):
                share *= PLAIN_WORD_FACTOR
            contributions.setdefault(name, []).extend((j, share) for j in owners)
    graph: Graph = {}
    for i, path in enumerate(paths):
        file_tags = tags.get(path)
        if file_tags is None:
            continue
        edges: dict[int, float] = {}
        for level, module, names in file_tags.imports:
            for hit in index.resolve(path, level, module, names):
                j = position.get(hit)
                if j is not None and j != i:
                    edges[j] = edges.get(j, 0.0) + IMPORT_WEIGHT
        for word in file_tags.references.split():  # sorted: float sums are the same every run
            contribution = contributions.get(word)
            if contribution is not None:
                for j, share in contribution:
                    if j != i:
                        edges[j] = edges.get(j, 0.0) + share
        if edges:
            graph[i] = edges
    return graph


def pagerank(graph: Graph, count: int, personalization: Mapping[int, float] | None = None) -> list[float]:
    """PageRank of `count` nodes by power iteration. The random jump (and a node with no edges)
    goes to `personalization` (weights, normalised here) or uniformly when it is empty."""
    if count == 0:
        return []
    if personalization:
        total = sum(personalization.values())
        jump = [0.0] * count
        for node, weight in personalization.items():
            jump[node] += weight / total
    else:
        jump = [1.0 / count] * count
    outgoing = [
        (node, [(target, weight / sum(edges.values())) for target, weight in edges.items()])
        for node, edges in graph.items()
    ]
    has_edges = set(graph)
    dangling = [node for node in range(count) if node not in has_edges]
    rank = list(jump)
    for _ in range(_ITERATIONS):
        spill = DAMPING * sum(rank[node] for node in dangling)
        new = [(1.0 - DAMPING) * j + spill * j for j in jump]
        for node, targets in outgoing:
            flow = DAMPING * rank[node]
            for target, share in targets:
                new[target] += flow * share
        delta = sum(abs(a - b) for a, b in zip(new, rank))
        rank = new
        if delta < _TOLERANCE:
            break
    return rank
