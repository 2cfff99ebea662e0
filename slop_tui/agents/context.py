"""A worker's first context, built fresh for every ticket: prompt, ticket, and memory views.

The system prompt is the worker's own text plus the project's instruction files
(`instructions.py`), built once per ticket so it is byte-identical at every step.

What a worker sees first is its part of the repository, not the repository: the curated view of
each target file (signatures, docstrings, `# [HOT]` bodies), the skeleton of every file the
ticket names, then the repository map's top-ranked definitions related to those files and the
ticket's text (one line each), all inside a token budget; the map gets whatever the files left.
Whatever does not fit is listed by path, so the worker can still `read_file` it.

Without a map (a worker run alone, or the raw variant the context benchmark compares with), the
files the targets import take the map's place, as skeletons (or raw).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol

from slop_tui.agents.instructions import load_instructions
from slop_tui.config import RunSettings
from slop_tui.memory.file_cache import FileCache, ViewError
from slop_tui.memory.languages import rules_for_path
from slop_tui.models import Archetype, ContextFile, ContextReport, ContextRole, ContextView, Ticket
from slop_tui.tokens import estimate_tokens

# The report Structs live in `models` (the `ContextBuilt` event carries them); they are
# re-exported here, where they are built.
__all__ = [
    "ContextFile",
    "ContextReport",
    "RelatedMap",
    "assemble_context",
    "imported_files",
    "load_prompt",
    "mentioned_files",
    "worker_system_prompt",
]

ViewKind = Literal["raw", "curated", "skeleton"]
ViewUsed = ContextView
Role = ContextRole

# A path-looking word ending in .py in a ticket's text ("covering app/config.py's loader").
_MENTIONED = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.py)(?![\w/])")
# Import lines, for a file whose syntax is broken (ast cannot parse it).
_IMPORT_LINE = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w\s,()*]+)|import\s+([\w\s,.]+))")


class RelatedMap(Protocol):
    """What a worker's context needs of the repository map (`memory.repo_map.RepoMap`)."""

    def related(self, paths: Sequence[str], *, tokens: int, focus: Sequence[str] = ()) -> str:
        """The top-ranked definitions related to `paths` (theirs excluded), within `tokens`."""
        ...


_FILES_HEADING = "\n## Files (views, not the exact text: read a file raw before you edit it)"
_CLOSING = "\nWork on this ticket with the tools; call finish(summary) when it is done.\n"
_MAP_HEADING = "\n## Related definitions elsewhere in the repository (a map: one line each)\n"
# The related map's share of the budget at most (500 tokens of the default 12,000). The
# first message is sent again with every step of the worker, so the map costs that share
# many times over: enough for the top-ranked definitions around the targets, not a second
# repository overview.
RELATED_MAP_SHARE = 24
# Below this many tokens left, a map would be a header and a "not shown" line: none is sent.
_MIN_MAP_TOKENS = 24


def load_prompt(name: str) -> str:
    """A prompt file shipped in `slop_tui/agents/prompts/`."""
    return (resources.files("slop_tui.agents") / "prompts" / name).read_text(encoding="utf-8")


def worker_system_prompt(archetype: Archetype) -> str:
    """The worker prompt: its common part plus the section (`## <archetype>`) for `archetype`."""
    text = load_prompt("worker.md")
    common, *sections = re.split(r"^## ", text, flags=re.MULTILINE)
    for section in sections:
        heading, _, body = section.partition("\n")
        if heading.strip() == archetype.value:
            return f"{common.rstrip()}\n\nYour ticket's archetype is {archetype.value}: {body.strip()}\n"
    return common.rstrip() + "\n"


# ---------------------------------------------------------------------------
# Which files: targets, what they import, what the ticket names
# ---------------------------------------------------------------------------


def _inside(repo_root: Path, path: Path) -> str | None:
    """`path` relative to the root if it is a regular file inside it (symlinks resolved)."""
    try:
        real = path.resolve()
        rel = real.relative_to(repo_root)
    except (OSError, ValueError, RuntimeError):
        return None
    return rel.as_posix() if real.is_file() else None


def _imported_modules(source: str) -> list[tuple[int, str, list[str]]]:
    """(level, module, imported names) for every import statement, in order of appearance."""
    found: list[tuple[int, str, list[str]]] = []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        for line in source.splitlines():
            match = _IMPORT_LINE.match(line)
            if not match:
                continue
            if match.group(1) is not None:
                dotted = match.group(1)
                level = len(dotted) - len(dotted.lstrip("."))
                names = [n.strip() for n in match.group(2).replace("(", "").replace(")", "").split(",")]
                found.append((level, dotted.lstrip("."), [n.split()[0] for n in names if n]))
            else:
                for part in match.group(3).split(","):
                    if part.strip():
                        found.append((0, part.split()[0], []))
        return found
    located: list[tuple[int, int, int, str, list[str]]] = []
    for node in ast.walk(tree):  # breadth-first: imports inside functions count too
        if isinstance(node, ast.Import):
            located.extend((node.lineno, node.col_offset, 0, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            located.append((node.lineno, node.col_offset, node.level, node.module or "", names))
    located.sort(key=lambda item: (item[0], item[1]))  # source order
    return [(level, module, names) for _, _, level, module, names in located]


def _module_candidates(base: Path, dotted: str) -> list[Path]:
    parts = [p for p in dotted.split(".") if p]
    if not parts:
        return [base / "__init__.py"]
    stem = base.joinpath(*parts)
    return [stem.with_suffix(".py"), stem / "__init__.py"]


def imported_files(repo_root: Path, rel_path: str, source: str) -> list[str]:
    """Repository files that `rel_path` imports (stdlib and third-party imports resolve to none)."""
    here = (repo_root / rel_path).parent
    roots = [repo_root, repo_root / "src"]
    found: list[str] = []
    for level, module, names in _imported_modules(source):
        if level:
            base = here
            for _ in range(level - 1):
                base = base.parent
            bases = [base]
        else:
            bases = roots
        for base in bases:
            candidates: list[Path] = []
            # `from pkg import name` may name a submodule (pkg/name.py) or a member of pkg.
            for name in names:
                if name != "*":
                    candidates.extend(_module_candidates(base, f"{module}.{name}" if module else name))
            candidates.extend(_module_candidates(base, module))
            hits = [rel for rel in (_inside(repo_root, c) for c in candidates) if rel is not None]
            submodules = [rel for rel in hits if not rel.endswith("__init__.py")] if names else hits
            chosen = submodules or hits[:1]
            for rel in chosen:
                if rel != rel_path and rel not in found:
                    found.append(rel)
            if chosen:
                break
    return found


def mentioned_files(repo_root: Path, ticket: Ticket) -> list[str]:
    """Existing repository `.py` files named in the ticket's title or description."""
    found: list[str] = []
    for match in _MENTIONED.finditer(f"{ticket.title}\n{ticket.description}"):
        rel = _inside(repo_root, repo_root / match.group(1))
        if rel is not None and rel not in found:
            found.append(rel)
    return found


# ---------------------------------------------------------------------------
# Assembling the first message within the budget
# ---------------------------------------------------------------------------


def _ticket_text(ticket: Ticket) -> str:
    lines = [
        f"# Ticket {ticket.id}: {ticket.title}",
        f"Archetype: {ticket.archetype.value}",
    ]
    if ticket.target_files:
        lines.append("Target files: " + ", ".join(ticket.target_files))
    if ticket.description.strip():
        lines += ["", ticket.description.strip()]
    return "\n".join(lines) + "\n"


def _block(rel: str, role: Role, view: str, text: str) -> str:
    rules = rules_for_path(rel)
    fence = rules.name if rules is not None else ""
    what = {"target": "target", "import": "imported", "mentioned": "named in the ticket"}[role]
    return f"\n### {rel} ({what}, {view} view)\n```{fence}\n{text.rstrip()}\n```\n"


def _omitted_line(omitted: list[str]) -> str:
    if not omitted:
        return ""
    return "\nNot shown (read them with read_file if you need them): " + "; ".join(omitted) + "\n"


def _map_block(text: str) -> str:
    return f"{_MAP_HEADING}```\n{text.rstrip()}\n```\n"


def _map_sections(text: str) -> list[tuple[str, int]]:
    """(path, tokens) per file section of a map: a section starts with an unindented `path:`
    line (the map's output contract); other unindented lines (what was not shown) are not
    files."""
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line[:1] not in ("", " ", "\t"):
            if line.endswith(":"):
                sections.append((line[:-1], [line]))
            continue
        if sections:
            sections[-1][1].append(line)
    return [(path, estimate_tokens("\n".join(lines) + "\n")) for path, lines in sections]


def assemble_context(
    ticket: Ticket,
    repo_root: Path,
    file_cache: FileCache,
    *,
    budget: int,
    target_view: Literal["curated", "raw"] = "curated",
    related_view: Literal["skeleton", "raw"] = "skeleton",
    repo_map: RelatedMap | None = None,
    instructions_tokens: int = RunSettings().instructions_tokens,
) -> tuple[str, str, ContextReport]:
    """System prompt, first user message and report for `ticket`.

    The system prompt ends with the project's instruction files (the root's `AGENTS.md`, then
    those of the targets' folders) within `instructions_tokens`; they count in `budget` too,
    and are the report's first rows (role "instructions").

    Targets get `target_view` (falling back to the skeleton, then to a mention, when the budget
    is short); files the ticket names get `related_view` while it fits; then `repo_map`'s
    definitions related to those files get what is left. With no map, or with the raw
    variant, imported files take its place, in `related_view`. The raw variants exist for the
    context benchmark, which compares them with what a worker really gets.
    """
    root = Path(repo_root).resolve()
    instructions = load_instructions(root, budget=instructions_tokens, targets=ticket.target_files)
    system = worker_system_prompt(ticket.archetype)
    if instructions.files:
        system = f"{system}\n{instructions.system_section()}"
    header = _ticket_text(ticket)
    used = estimate_tokens(system) + estimate_tokens(header + _FILES_HEADING + _CLOSING)
    files: list[ContextFile] = instructions.context_files()
    blocks: list[str] = []
    omitted: list[str] = []
    targets: list[str] = []
    sources: dict[str, str] = {}

    def view_of(rel: str, kind: ViewKind) -> tuple[str, str]:
        path = root / rel
        if kind == "raw":
            return file_cache.get_raw_view(path), ""
        view = file_cache.get_view(path, kind)
        problem = view.syntax_problem
        note = f"syntax problem at line {problem.line}: best-effort view" if problem is not None else ""
        return view.text, note

    def omit(entry: str) -> None:
        # The "not shown" line is part of the message: what it grows by is spent.
        nonlocal used
        before = estimate_tokens(_omitted_line(omitted))
        omitted.append(entry)
        used += estimate_tokens(_omitted_line(omitted)) - before

    def try_add(rel: str, role: Role, kinds: Iterable[ViewKind], later: list[str]) -> None:
        """Show `rel` in the first of `kinds` that fits, keeping room for the "not shown"
        entries of the `later` files (should none of them fit either)."""
        nonlocal used
        reserve = estimate_tokens(_omitted_line(omitted + later)) - estimate_tokens(_omitted_line(omitted))
        for kind in kinds:
            try:
                text, note = view_of(rel, kind)
            except ViewError as exc:
                files.append(ContextFile(path=rel, role=role, view="omitted", tokens=0, note=str(exc)))
                omit(f"{rel} ({exc})")
                return
            # A file of a language without a grammar is its text, whatever view was asked.
            shown_kind: ViewKind = kind if rules_for_path(rel) is not None else "raw"
            block = _block(rel, role, shown_kind, text)
            cost = estimate_tokens(block)
            if used + cost + reserve <= budget:
                used += cost
                blocks.append(block)
                files.append(ContextFile(path=rel, role=role, view=shown_kind, tokens=cost, note=note))
                return
        files.append(ContextFile(path=rel, role=role, view="omitted", tokens=0, note="over the context budget"))
        omit(f"{rel} (over the context budget)")

    # Every step decided before any file is shown, so each file knows which come after it.
    steps: list[tuple[str, Role | None]] = []  # (path, role); None: a target that is not there
    for raw_target in ticket.target_files:
        rel = _inside(root, root / raw_target)
        if rel is None:
            steps.append((raw_target, None))
        elif rel not in targets:
            targets.append(rel)
            steps.append((rel, "target"))
            try:
                sources[rel] = file_cache.get_raw_view(root / rel) if rel.endswith(".py") else ""
            except ViewError:
                sources[rel] = ""

    use_map = repo_map is not None and related_view == "skeleton"
    related: list[str] = []
    if not use_map:
        for rel in targets:
            for dep in imported_files(root, rel, sources.get(rel, "")):
                if dep not in targets and dep not in related:
                    related.append(dep)
                    steps.append((dep, "import"))
    for rel in mentioned_files(root, ticket):
        if rel not in targets and rel not in related:
            related.append(rel)
            steps.append((rel, "mentioned"))

    target_kinds: list[ViewKind] = (
        [target_view, "skeleton"] if target_view == "curated" else ["raw", "skeleton"]
    )
    for index, (rel, role) in enumerate(steps):
        if role is None:
            try:
                (root / rel).resolve().relative_to(root)
            except (OSError, ValueError, RuntimeError):
                note = "outside the repository: the file tools refuse it"
                files.append(ContextFile(path=rel, role="target", view="omitted", tokens=0, note=note))
                omit(f"{rel} ({note})")
                continue
            block = f"\n### {rel} (target): does not exist yet\n"
            used += estimate_tokens(block)
            files.append(ContextFile(path=rel, role="target", view="new", tokens=estimate_tokens(block)))
            blocks.append(block)
            continue
        later = [f"{r} (over the context budget)" for r, later_role in steps[index + 1 :] if later_role]
        try_add(rel, role, target_kinds if role == "target" else [related_view], later)

    system_tokens = estimate_tokens(system)

    def message(map_text: str) -> str:
        parts = [header]
        if blocks:
            parts.append(_FILES_HEADING)
            parts.extend(blocks)
        if map_text:
            parts.append(_map_block(map_text))
        parts.append(_omitted_line(omitted))
        parts.append(_CLOSING)
        return "".join(parts)

    user = message("")
    map_text = ""
    if repo_map is not None and use_map:
        # The files shown whole are the map's starting points, and their own definitions are
        # not repeated; new target files count too (the ticket's text says what they are for).
        shown = [f.path for f in files if f.view != "omitted"]
        left = min(budget // RELATED_MAP_SHARE, budget - used) - estimate_tokens(_map_block(""))
        # The estimate of a whole is close to the sum of its parts, not always at or under it:
        # the message is measured whole, and the map asked again for less if it came out over.
        for _ in range(3):
            if left < _MIN_MAP_TOKENS:
                break
            text = repo_map.related(shown, tokens=left, focus=[ticket.title, ticket.description])
            if not text.strip():
                break
            candidate = message(text)
            over = system_tokens + estimate_tokens(candidate) - budget
            if over <= 0:
                map_text, user = text, candidate
                break
            left -= over
        files.extend(
            ContextFile(path=path, role="related", view="map", tokens=tokens)
            for path, tokens in _map_sections(map_text)
        )

    report = ContextReport(
        files=files,
        total_tokens=system_tokens + estimate_tokens(user),
        budget=budget,
        system_tokens=system_tokens,
    )
    return system, user, report
