"""`slop map [PATH]`: print the repository map as a planner would get it."""

from __future__ import annotations

import argparse
import os
import sys

NAME = "map"
HELP = "print the repository map (ranked definitions within a token budget)"
DESCRIPTION = """\
Print the repository map a planner gets: the repository's definitions, one line each (parameter
names only, defaults shown as `=…`), grouped by file, files ordered by how central they are
(PageRank over imports and references), fitted to a token budget with everything counted.

Each file's section starts with an unindented `path:` line; below it, indented, the file's
classes, functions and constants (public first, private `_names` last), each class's methods
indented under it. Within the budget, every file's module-level lines are picked before
methods, the most central files and the most used classes first.

  --tokens N     the budget, in the project's token estimate (default 4096)
  --focus TEXT   what the work is about (a track's or ticket's text; repeatable): files it
                 names (whole paths, module names) and their neighbours come first
  --overview     Tier 1's view: top- and second-level folders, then the map
  --stats        print files, definitions shown, tokens and build time (to stderr)

Tags are cached per file under the user cache folder (SLOP_CACHE_DIR overrides it), so a
second run on an unchanged repository reads no source file."""

DEFAULT_TOKENS = 4096


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("path", metavar="PATH", nargs="?", default=".", help="the repository (default: .)")
    parser.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, metavar="N", help="the token budget")
    parser.add_argument(
        "--focus", action="append", default=[], metavar="TEXT", help="text that personalizes the map"
    )
    parser.add_argument("--overview", action="store_true", help="folders first, as Tier 1 gets it")
    parser.add_argument("--stats", action="store_true", help="print build and render figures")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from slop_tui.display import sanitize
    from slop_tui.errors import SlopError
    from slop_tui.memory.repo_map import RepoMap
    from slop_tui.tokens import estimate_tokens

    path: str = args.path
    if not os.path.exists(path):
        raise SlopError(f"{path}: no such file or directory")
    if not os.path.isdir(path):
        raise SlopError(f"{path}: not a folder (the map is of a repository folder)")
    if args.tokens < 1:
        raise SlopError(f"--tokens {args.tokens}: the budget must be a positive number of tokens")
    repo_map = RepoMap.build(Path(path))
    if args.overview:
        text = repo_map.overview(tokens=args.tokens)
    else:
        text = repo_map.render(tokens=args.tokens, focus=args.focus)
    try:
        sys.stdout.buffer.write(sanitize(text).encode("utf-8"))
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    if args.stats:
        stats = repo_map.stats
        print(
            f"files {stats.files:,} (tagged {stats.tagged_files:,}, read {stats.files_read:,}, "
            f"parsed {stats.files_parsed:,}, cache hits {stats.cache_hits:,}); definitions "
            f"{stats.definitions:,}, shown {stats.shown_definitions:,} in {stats.shown_files:,} "
            f"files; tokens {estimate_tokens(text):,} of {args.tokens:,}; build "
            f"{stats.build_seconds:.2f} s",
            file=sys.stderr,
        )
    return 0
