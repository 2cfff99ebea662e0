"""What `bench_map.py` measures maps against, computed from the corpus code with `ast` (never
from either map's own ranking), and the reading of maps by file sections."""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_DEF_LINE = re.compile(r"(?:^|[\s│|])(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)")


@dataclass
class Truth:
    definitions: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    """file -> {(keyword, name, qualified name)} of module- and class-level defs/classes"""
    central: list[tuple[str, int, list[str]]] = field(default_factory=list)
    """(class name, files naming it, files defining it), most named first"""
    qualified: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """file -> {(module, name)} it names through its imports (see `_qualified`)"""
    classes_in: dict[str, list[str]] = field(default_factory=dict)
    """class name -> files defining it at module level"""

    def folder_central(self, folder: str, top: int = 3) -> list[str]:
        """The classes of `folder` named from the most other files through imports of the
        folder's modules (`from django.db import models` then `models.Model` names
        django.db.models.Model), so a name also defined elsewhere is not miscounted."""
        dotted = folder.replace("/", ".")
        counts: Counter[str] = Counter()
        for rel, refs in self.qualified.items():
            named = {
                name
                for module, name in refs
                if (module == dotted or module.startswith(dotted + "."))
                and any(
                    f.startswith(folder + "/") and f != rel for f in self.classes_in.get(name, [])
                )
            }
            counts.update(named)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [name for name, _ in ranked][:top]


def _walk_defs(body: list[ast.stmt], prefix: str, out: set[tuple[str, str, str]]) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(("def", node.name, prefix + node.name))
        elif isinstance(node, ast.ClassDef):
            out.add(("class", node.name, prefix + node.name))
            _walk_defs(node.body, f"{prefix}{node.name}.", out)
        elif isinstance(node, (ast.If, ast.Try, ast.TryStar, ast.With)):
            # A definition under `if`/`try` at module or class level is still at that level.
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            for block in blocks:
                _walk_defs(block, prefix, out)


def _module_classes(tree: ast.Module) -> set[str]:
    found: set[tuple[str, str, str]] = set()
    _walk_defs(tree.body, "", found)
    return {name for keyword, name, qual in found if keyword == "class" and qual == name}


def _named(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def _module_parts(rel: str) -> tuple[list[str], bool]:
    parts = rel[: -len(".py")].split("/")
    return (parts[:-1], True) if parts[-1] == "__init__" else (parts, False)


def _qualified(tree: ast.Module, rel: str) -> set[tuple[str, str]]:
    """(module, name) pairs the file names: `from m import n`, and `alias.n` where `alias` is a
    module (or name) it imported; relative imports resolved against the file's package."""
    parts, is_package = _module_parts(rel)
    package = parts if is_package else parts[:-1]
    aliases: dict[str, str] = {}
    refs: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                refs.add((module, alias.name))
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                refs.add((aliases[node.value.id], node.attr))
    return refs


def ground_truth(root: Path, *, with_definitions: bool = True, qualified: bool = False) -> Truth:
    truth = Truth()
    defined_in: dict[str, list[str]] = {}
    named_by: Counter[str] = Counter()
    named_sets: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        if with_definitions:
            defs: set[tuple[str, str, str]] = set()
            _walk_defs(tree.body, "", defs)
            truth.definitions[rel] = defs
        for name in _module_classes(tree):
            defined_in.setdefault(name, []).append(rel)
        named_sets[rel] = _named(tree)
        if qualified:
            truth.qualified[rel] = _qualified(tree, rel)
    for rel, names in named_sets.items():
        for name in names:
            if name in defined_in and rel not in defined_in[name]:
                named_by[name] += 1
    ranked = sorted(named_by.items(), key=lambda item: (-item[1], item[0]))
    truth.central = [(name, count, defined_in[name]) for name, count in ranked]
    truth.classes_in = defined_in
    return truth


def sections(text: str, known: set[str]) -> dict[str, set[tuple[str, str]]]:
    """file -> {(keyword, name)} of the definition lines in its section of a map.

    A section starts at an unindented line naming a corpus file (`path:`, or Aider's bare `path`
    for a file it lists without tags) and runs to the next unindented line."""
    found: dict[str, set[tuple[str, str]]] = {}
    current: set[tuple[str, str]] | None = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line[0] not in "│⋮|":
            head = line.rstrip()
            head = head[:-1] if head.endswith(":") else head
            current = found.setdefault(head, set()) if head in known else None
            continue
        if current is not None:
            current.update((m.group(1), m.group(2)) for m in _DEF_LINE.finditer(line))
    return found


@dataclass
class Score:
    coverage: float
    central_hits: int
    central_names: list[str]


def score(text: str, truth: Truth, top: int = 10) -> Score:
    shown = sections(text, set(truth.definitions))
    total = sum(len(defs) for defs in truth.definitions.values())
    covered = sum(
        1
        for rel, defs in truth.definitions.items()
        for keyword, name, _ in defs
        if (keyword, name) in shown.get(rel, ())
    )
    hits = [
        name
        for name, _, files in truth.central[:top]
        if any(("class", name) in shown.get(rel, ()) for rel in files)
    ]
    return Score(covered / total if total else 0.0, len(hits), hits)
