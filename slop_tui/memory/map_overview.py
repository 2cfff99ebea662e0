"""The folder tree at the head of Tier 1's overview: top- and second-level folders, most
central first, with file counts and main languages, fitted to a token budget."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

from slop_tui.tokens import token_weight

INDENT = "  "
# File name endings → the language named in the overview.
LANGUAGES = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".js": "javascript", ".mjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "kotlin", ".c": "c", ".h": "c", ".cc": "c++", ".cpp": "c++",
    ".hpp": "c++", ".cs": "c#", ".rb": "ruby", ".php": "php", ".swift": "swift", ".sh": "shell",
    ".html": "html", ".css": "css", ".scss": "css", ".sql": "sql", ".md": "markdown",
    ".rst": "rst", ".txt": "text", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
    ".toml": "toml", ".xml": "xml", ".po": "gettext",
}


def folder_tree(files: list[str], ranks: Mapping[str, float], budget: int) -> tuple[str, list[str]]:
    """Top-level folders, most central first, each with its most central sub-folders (as
    many as `budget` allows; the rest counted), with file counts and main languages; and the
    folders shown, most central first."""
    counts: dict[str, int] = {}
    languages: dict[str, dict[str, int]] = {}
    held: dict[str, list[float]] = {}
    for path in files:
        parts = path.split("/")
        language = LANGUAGES.get(posixpath.splitext(path)[1].lower())
        weight = ranks.get(path, 0.0)
        for depth in (1, 2):
            if len(parts) <= depth:
                break
            folder = "/".join(parts[:depth])
            counts[folder] = counts.get(folder, 0) + 1
            held.setdefault(folder, []).append(weight)
            if language:
                table = languages.setdefault(folder, {})
                table[language] = table.get(language, 0) + 1
    # A folder is as central as its ten most central files: a big folder of tests does
    # not outrank the package they test by its size alone.
    mass = {folder: sum(sorted(values, reverse=True)[:10]) for folder, values in held.items()}

    def order(names: Iterable[str]) -> list[str]:
        return sorted(names, key=lambda f: (-mass[f], -counts[f], f))

    def describe(folder: str, shown_as: str, indent: str) -> str:
        table = languages.get(folder, {})
        top = sorted(table, key=lambda name: (-table[name], name))[:3]
        count = counts[folder]
        what = f"{count:,} file{'s' if count != 1 else ''}"
        return f"{indent}{shown_as}/ {what}" + (f": {', '.join(top)}" if top else "") + "\n"

    tops = order(f for f in counts if "/" not in f)
    if not tops:
        return "", []
    head = "Folders (files: languages), most central first:\n"
    subs = {top: order(f for f in counts if f.startswith(top + "/")) for top in tops}
    used = token_weight(head)
    shown_tops: list[str] = []
    for top in tops:
        more = f"{INDENT}… {len(subs[top]):,} more folders\n"
        cost = token_weight(describe(top, top, "")) + token_weight(more)
        if used + cost > budget:
            break
        used += cost
        shown_tops.append(top)
    if not shown_tops:
        return "", []
    chosen: set[str] = set()
    for sub in order(f for top in shown_tops for f in subs[top]):
        cost = token_weight(describe(sub, sub.partition("/")[2], INDENT))
        if used + cost <= budget:
            used += cost
            chosen.add(sub)
    lines = [head]
    for top in shown_tops:
        lines.append(describe(top, top, ""))
        picked = [sub for sub in subs[top] if sub in chosen]
        lines.extend(describe(sub, sub.partition("/")[2], INDENT) for sub in picked)
        left = len(subs[top]) - len(picked)
        if left:
            lines.append(f"{INDENT}… {left:,} more folder{'s' if left != 1 else ''}\n")
    if len(shown_tops) < len(tops):
        left = len(tops) - len(shown_tops)
        lines.append(f"… {left:,} more top-level folder{'s' if left != 1 else ''}\n")
    return "".join(lines), order([*shown_tops, *chosen])

