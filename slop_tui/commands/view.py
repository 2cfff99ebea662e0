"""`slop view PATH`: print a memory view of a file, or of every file with a view under a folder."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slop_tui.memory.file_cache import FileView

NAME = "view"
HELP = "print a memory view (skeleton, curated or raw) of a file or of a folder's source files"
DESCRIPTION = """\
Print what a model would see of a file.

  --skeleton (default)  imports, module constants, and every class and function header
                        (decorators, full signature) at module or class level, under if/try/with
                        too, with each body replaced by `...` (a docstring's first line stays)
  --curated             the skeleton plus the module and class docstrings and the whole bodies
                        of functions marked `# [HOT]` (on the line above, or at the end of the
                        def line) or decorated @core_logic; other bodies become `... # Hidden`
  --raw                 the file as it is (as UTF-8; a Python encoding cookie is rewritten to
                        say utf-8)

PATH may be a folder: every file in a language that has views (Python, and each language of the
view table) is printed under a `# ==> path <==` header; git-ignored files, dependency and
vendored folders (node_modules, vendor, ...), build output and minified files are left out, and
the files without a view are counted on one line of stderr (`skipped: 12 .md (no view)`). A
file with no view given on its own is printed raw, with a note on stderr. With --stats, sizes
are printed instead of the views: raw and view bytes and estimated tokens (`slop_tui.tokens`)
per file and in total, and the view-to-raw token ratio. A file with syntax errors still gets a
view of the parts that parse, with a warning naming the file and the line where Python stops."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("path", metavar="PATH", help="a file, or a folder of source files")
    kinds = parser.add_mutually_exclusive_group()
    for kind, text in (
        ("skeleton", "headers and signatures, bodies as `...` (the default)"),
        ("curated", "the skeleton plus docstrings and the bodies of hot functions"),
        ("raw", "the file as it is"),
    ):
        kinds.add_argument(
            f"--{kind}", dest="kind", action="store_const", const=kind, help=text
        )
    parser.set_defaults(kind="skeleton")
    parser.add_argument(
        "--stats",
        action="store_true",
        help="print raw and view sizes (bytes, estimated tokens, ratio) instead of the views",
    )


def folder_files(folder: str) -> tuple[list[str], Counter[str]]:
    """The files under `folder` that have a view, sorted, and the others counted by suffix.

    The map's own listing (`map_files`: git's list of tracked and unignored files, minus
    dependencies, vendored and build folders and minified files) decides what is looked at;
    the language table decides what has a view, so a language added there shows up here."""
    from slop_tui.memory.languages import rules_for_path
    from slop_tui.memory.map_files import map_files

    kept: list[str] = []
    skipped: Counter[str] = Counter()
    for rel in map_files(Path(folder)):
        if rules_for_path(rel) is None:
            skipped[_suffix(rel)] += 1
        else:
            kept.append(os.path.join(folder, *rel.split("/")))
    return kept, skipped


def _suffix(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    return suffix or "without suffix"


def skipped_line(skipped: Counter[str]) -> str:
    """`skipped: 12 .md, 3 .json (no view)`: the most common kinds first."""
    kinds = sorted(skipped.items(), key=lambda item: (-item[1], item[0]))
    return "skipped: " + ", ".join(f"{count} {kind}" for kind, count in kinds) + " (no view)"


def run(args: argparse.Namespace) -> int:
    from slop_tui.errors import SlopError
    from slop_tui.memory.file_cache import FileCache, ViewError, declare_utf8
    from slop_tui.memory.languages import rules_for_path

    path: str = args.path
    if not os.path.exists(path):
        raise SlopError(f"{path}: no such file or directory")
    folder = os.path.isdir(path)
    if folder:
        files, skipped = folder_files(path)
        if skipped:
            print(_safe(skipped_line(skipped)), file=sys.stderr)
        if not files:
            raise SlopError(f"{path}: no files with a view in this folder")
    else:
        files = [path]
        if rules_for_path(path) is None and args.kind != "raw":
            print(
                _safe(f"slop: note: no view for {_suffix(path)} files; showing it raw"),
                file=sys.stderr,
            )

    cache = FileCache()
    out = _Output()
    rows: list[tuple[str, FileView]] = []
    failed = 0
    for file in files:
        try:
            view = cache.get_view(file, args.kind)
        except ViewError as exc:
            if not folder:
                raise SlopError(str(exc)) from None
            print(f"slop: error: {_safe(str(exc))}", file=sys.stderr)
            failed += 1
            continue
        problem = view.syntax_problem
        if problem is not None:
            print(
                _safe(f"slop: warning: {file}:{problem.line}:{problem.column}: {problem.message}; ")
                + "the view shows the parts that parse",
                file=sys.stderr,
            )
        if args.stats:
            rows.append((file, view))
            continue
        text = view.text
        if args.kind == "raw":
            # Printed as UTF-8, so a cookie naming another encoding would be a lie.
            text = declare_utf8(text, rules_for_path(file))
        if folder and not out.write(f"# ==> {file} <==\n"):
            return 0
        if not out.write(text + ("\n" if folder else "")):
            return 0
    if args.stats:
        raw_texts = {file: cache.get_raw_view(file) for file, _ in rows}
        out.write(_stats_table(rows, raw_texts, args.kind))
    return 1 if failed else 0


def _safe(text: str) -> str:
    from slop_tui.display import sanitize

    return sanitize(text)


class _Output:
    """stdout as UTF-8 bytes (so non-ASCII comes out exactly as in the file), quiet on a
    closed pipe (`slop view src | head`). A file's escape sequences and bidi overrides are
    shown escaped (the display sanitiser), never sent to the terminal."""

    def write(self, text: str) -> bool:
        try:
            sys.stdout.buffer.write(_safe(text).encode("utf-8"))
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            # Point stdout at /dev/null so the interpreter's final flush does not complain.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return False
        return True


def _stats_table(rows: list[tuple[str, FileView]], raw_texts: dict[str, str], kind: str) -> str:
    from slop_tui.tokens import estimate_tokens

    header = ("file", "raw bytes", f"{kind} bytes", "raw tokens", f"{kind} tokens", "ratio")
    table: list[tuple[str, ...]] = []
    totals = [0, 0, 0, 0]
    for file, view in rows:
        raw_text = raw_texts[file]
        numbers = [
            view.raw_size,
            len(view.text.encode("utf-8")),
            estimate_tokens(raw_text),
            estimate_tokens(view.text),
        ]
        totals = [a + b for a, b in zip(totals, numbers)]
        table.append((_safe(file), *map(str, numbers), _ratio(numbers[3], numbers[2])))
    table.append(
        (
            f"total ({len(rows)} file{'' if len(rows) == 1 else 's'})",
            *map(str, totals),
            _ratio(totals[3], totals[2]),
        )
    )
    widths = [max(len(row[i]) for row in (header, *table)) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        first = row[0].ljust(widths[0])
        rest = "  ".join(cell.rjust(width) for cell, width in zip(row[1:], widths[1:]))
        return f"{first}  {rest}".rstrip() + "\n"

    return "".join(line(row) for row in (header, *table))


def _ratio(view_tokens: int, raw_tokens: int) -> str:
    return f"{view_tokens / raw_tokens:.2f}" if raw_tokens else "-"
