"""A worker's first context, built fresh for every ticket: prompt, ticket, and memory views.

The system prompt is the worker's own text plus the project's instruction files
(`instructions.py`), built once per ticket so it is byte-identical at every step.

What a worker sees first is a map of its part of the repository, not the repository: the
curated view of each target file (signatures, docstrings, `# [HOT]` bodies), then the skeleton
of every repository file those targets import and of every file the ticket names, all inside a
token budget. Whatever does not fit is listed by path, so the worker can still `read_file` it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Literal

from slop_tui.agents.instructions import load_instructions
from slop_tui.config import RunSettings
from slop_tui.memory.file_cache import FileCache, ViewError
from slop_tui.models import Archetype, ContextFile, ContextReport, ContextRole, ContextView, Ticket
from slop_tui.tokens import estimate_tokens

# The report Structs live in `models` (the `ContextBuilt` event carries them); they are
# re-exported here, where they are built.
__all__ = [
    "ContextFile",
    "ContextReport",
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
    fence = "python" if rel.endswith(".py") else ""
    what = {"target": "target", "import": "imported", "mentioned": "named in the ticket"}[role]
    return f"\n### {rel} ({what}, {view} view)\n```{fence}\n{text.rstrip()}\n```\n"


def assemble_context(
    ticket: Ticket,
    repo_root: Path,
    file_cache: FileCache,
    *,
    budget: int,
    target_view: Literal["curated", "raw"] = "curated",
    related_view: Literal["skeleton", "raw"] = "skeleton",
    instructions_tokens: int = RunSettings().instructions_tokens,
) -> tuple[str, str, ContextReport]:
    """System prompt, first user message and report for `ticket`.

    The system prompt ends with the project's instruction files (the root's `AGENTS.md`, then
    those of the targets' folders) within `instructions_tokens`; they count in `budget` too,
    and are the report's first rows (role "instructions").

    Targets get `target_view` (falling back to the skeleton, then to a mention, when the budget
    is short); imported and named files get `related_view` while it fits. The raw variants
    exist for the context benchmark, which compares them with what a worker really gets.
    """
    root = Path(repo_root).resolve()
    instructions = load_instructions(root, budget=instructions_tokens, targets=ticket.target_files)
    system = worker_system_prompt(ticket.archetype)
    if instructions.files:
        system = f"{system}\n{instructions.system_section()}"
    header = _ticket_text(ticket)
    used = estimate_tokens(system) + estimate_tokens(header) + 40  # 40: the closing lines
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

    def try_add(rel: str, role: Role, kinds: Iterable[ViewKind]) -> None:
        nonlocal used
        for kind in kinds:
            try:
                text, note = view_of(rel, kind)
            except ViewError as exc:
                files.append(ContextFile(path=rel, role=role, view="omitted", tokens=0, note=str(exc)))
                omitted.append(f"{rel} ({exc})")
                return
            shown_kind: ViewKind = kind if rel.endswith(".py") else "raw"
            block = _block(rel, role, shown_kind, text)
            cost = estimate_tokens(block)
            if used + cost <= budget:
                used += cost
                blocks.append(block)
                files.append(ContextFile(path=rel, role=role, view=shown_kind, tokens=cost, note=note))
                return
        files.append(ContextFile(path=rel, role=role, view="omitted", tokens=0, note="over the context budget"))
        omitted.append(f"{rel} (over the context budget)")

    for raw_target in ticket.target_files:
        rel = _inside(root, root / raw_target)
        if rel is None:
            try:
                (root / raw_target).resolve().relative_to(root)
            except (OSError, ValueError, RuntimeError):
                note = "outside the repository: the file tools refuse it"
                files.append(ContextFile(path=raw_target, role="target", view="omitted", tokens=0, note=note))
                omitted.append(f"{raw_target} ({note})")
                continue
            files.append(ContextFile(path=raw_target, role="target", view="new", tokens=0))
            blocks.append(f"\n### {raw_target} (target): does not exist yet\n")
            continue
        if rel in targets:
            continue
        targets.append(rel)
        try_add(rel, "target", [target_view, "skeleton"] if target_view == "curated" else ["raw", "skeleton"])
        try:
            sources[rel] = file_cache.get_raw_view(root / rel) if rel.endswith(".py") else ""
        except ViewError:
            sources[rel] = ""

    related: list[tuple[str, Role]] = []
    for rel in targets:
        for dep in imported_files(root, rel, sources.get(rel, "")):
            if dep not in targets and all(dep != r for r, _ in related):
                related.append((dep, "import"))
    for rel in mentioned_files(root, ticket):
        if rel not in targets and all(rel != r for r, _ in related):
            related.append((rel, "mentioned"))
    for rel, role in related:
        try_add(rel, role, [related_view])

    parts = [header]
    if blocks:
        parts.append("\n## Files (views, not the exact text: read a file raw before you edit it)")
        parts.extend(blocks)
    if omitted:
        parts.append("\nNot shown (read them with read_file if you need them): " + "; ".join(omitted) + "\n")
    parts.append("\nWork on this ticket with the tools; call finish(summary) when it is done.\n")
    user = "".join(parts)
    system_tokens = estimate_tokens(system)
    report = ContextReport(
        files=files,
        total_tokens=system_tokens + estimate_tokens(user),
        budget=budget,
        system_tokens=system_tokens,
    )
    return system, user, report
