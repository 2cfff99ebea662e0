"""Which files of a repository the map looks at.

Tracked and untracked-but-not-ignored files (`git ls-files -co --exclude-standard`) where the
folder is in a git work tree, else a walk that never follows a symlinked folder (so a symlink
loop cannot trap it). Either way, minus what no one edits by hand: dependencies
(`node_modules`, vendored and third-party folders), build output, generated and minified files,
binary files (by name), and symlinks that lead out of the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".slop", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
        ".pytest_cache", ".ruff_cache", "__pycache__", "node_modules", "bower_components",
        "vendor", "vendored", "_vendor", "third_party", "thirdparty", "third-party",
        "site-packages", "build", "dist", "generated", "_generated", ".eggs",
    }
)
_SKIPPED_DIR_SUFFIXES = (".egg-info", ".dist-info")
BINARY_SUFFIXES = frozenset(
    """
    .png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .svgz .pdf .zip .gz .tgz .bz2
    .xz .zst .7z .rar .tar .jar .war .whl .egg .so .dll .dylib .exe .bin .o .a .obj .lib .pyc
    .pyo .pyd .class .woff .woff2 .ttf .otf .eot .mo .db .sqlite .sqlite3 .mp3 .mp4 .wav .ogg
    .flac .avi .mov .mkv .webm .npy .npz .pkl .pickle .parquet .h5 .onnx .pt .ckpt
    """.split()
)
_MINIFIED = re.compile(r"[.-]min\.(js|css|mjs)$|\.bundle\.js$|\.map$")
_MINIFIABLE = (".js", ".mjs", ".css")
# A script or stylesheet whose first kilobytes hold a line this long was written by a tool.
_LONG_LINE = 1000
_GIT_TIMEOUT = 60


def _skipped_dir(name: str) -> bool:
    return name in SKIPPED_DIRS or name.endswith(_SKIPPED_DIR_SUFFIXES)


def _git_listing(root: Path) -> list[str] | None:
    """`git ls-files` under `root` (paths relative to it), or None when git is missing or
    `root` is not in a work tree. Hooks, fsmonitor and config-named programs are turned off on
    the command line; `ls-files` runs none of them anyway."""
    git = shutil.which("git")
    if git is None:
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    argv = [
        git, "--no-pager", "-C", str(root), "-c", "core.fsmonitor=false",
        "-c", "core.hooksPath=/dev/null", "-c", "core.quotePath=false",
        "ls-files", "-z", "-co", "--exclude-standard", "--full-name",
    ]
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=_GIT_TIMEOUT
        )
        if done.returncode != 0:
            return None
        top = subprocess.run(
            [git, "-C", str(root), "rev-parse", "--show-prefix"],
            stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=_GIT_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if top.returncode != 0:
        return None
    prefix = os.fsdecode(top.stdout.strip())
    paths: list[str] = []
    for raw in done.stdout.split(b"\0"):
        if not raw:
            continue
        path = os.fsdecode(raw)
        if prefix:
            if not path.startswith(prefix):
                continue
            path = path[len(prefix) :]
        paths.append(path)
    return paths


def _walk_listing(root: Path) -> list[str]:
    """Every file under `root`, by `os.scandir` (whose entries know whether they are symlinks
    without another system call). A symlinked folder is never entered, so a symlink loop
    cannot trap the walk; its target, when inside, is reached directly."""
    found: list[str] = []
    pending: list[tuple[str, str]] = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _skipped_dir(name):
                        pending.append((entry.path, f"{prefix}{name}/"))
                elif entry.is_symlink():
                    found.append(f"{prefix}{name}\0")  # checked by `_keep`
                else:
                    found.append(prefix + name)
            except OSError:
                continue
    return found


def _looks_minified(absolute: str) -> bool:
    try:
        with open(absolute, "rb") as handle:
            head = handle.read(8192)
    except OSError:
        return False
    lines = head.split(b"\n")
    if len(head) == 8192:
        lines = lines[:-1] or [head]  # the last line may be cut short; a file of one line is not
    return any(len(line) > _LONG_LINE for line in lines)


def _keep(root: str, rel: str, *, maybe_link: bool = True) -> bool:
    parts = rel.split("/")
    if any(_skipped_dir(part) for part in parts[:-1]):
        return False
    name = parts[-1]
    lower = name.lower()
    suffix = os.path.splitext(lower)[1]
    if suffix in BINARY_SUFFIXES or _MINIFIED.search(lower):
        return False
    absolute = os.path.join(root, rel)
    if maybe_link and os.path.islink(absolute):
        target = os.path.realpath(absolute)
        if not (target == root or target.startswith(root.rstrip(os.sep) + os.sep)):
            return False
        if not os.path.isfile(target):
            return False
    if suffix in _MINIFIABLE and _looks_minified(absolute):
        return False
    return True


def keeps(root: Path, rel: str) -> bool:
    """Whether the map looks at `rel` under `root` (by its name and, for a symlink, where it
    leads); a git-ignored file is not caught here, only by `map_files`."""
    return os.path.isfile(os.path.join(root, rel)) and _keep(os.path.realpath(root), rel)


def map_files(root: Path) -> list[str]:
    """The files that matter under `root`: relative posix paths, sorted."""
    real_root = os.path.realpath(root)
    listing = _git_listing(root)
    if listing is not None:
        return sorted({rel for rel in listing if _keep(real_root, rel)})
    kept: set[str] = set()
    for rel in _walk_listing(root):
        link = rel.endswith("\0")
        rel = rel.rstrip("\0")
        if _keep(real_root, rel, maybe_link=link):
            kept.add(rel)
    return sorted(kept)
