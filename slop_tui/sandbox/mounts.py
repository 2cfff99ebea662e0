"""What a sandboxed command sees: the `bwrap` argument list and the command's environment.

| place | inside the sandbox | why |
| --- | --- | --- |
| `/usr`, `/etc`, `/opt`, `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` | read-only (a symlink such as merged-usr `/bin -> usr/bin` stays a symlink) | compilers, shells, libraries, certificates, `passwd` |
| `/proc` | the new PID namespace's own | slop's process and its environment are invisible |
| `/dev` | a minimal one (`null`, `zero`, `urandom`, `tty`, `pts`, `shm`) | no disks, no host terminals |
| `/tmp` | a private, empty tmpfs per run | nothing shared with the host's `/tmp` |
| the real home folder (`$HOME`) | a private, empty tmpfs per run, and `HOME` points at it | `~/.ssh`, `~/.aws`, tokens, shell history and slop's own config stay out of reach |
| each directory on the command's `PATH` (even under the home) | read-only | the user's toolchains keep working |
| a pyenv root (a `PATH` entry `<root>/shims` beside `<root>/libexec`) | read-only | a pyenv shim runs `<root>/libexec/pyenv` and `<root>/versions/...` |
| `~/.rustup`, when `~/.cargo/bin` is on `PATH` | read-only | rustup's proxies in `~/.cargo/bin` run toolchains from there |
| where the symlinks of such a `PATH` folder point: a pipx venv (and its base interpreter), nvm's `lib/node_modules`, else the target's folder | read-only | `~/.local/bin/black` and `npm` are links out of their folder |
| a virtual environment on `PATH`, the repository's `.venv`, slop's own interpreter | the environment's base interpreter prefix (`pyvenv.cfg` `home`), read-only | `.venv/bin/python` is a symlink to it |
| the repository | read-write at its real path | the work |
| its `.git/` (and a worktree's or submodule's real git folder) | read-only | `git status`, `git diff`, `git log` work; commits are slop's job, outside |
| the `.git/` of a repository nested in the work tree (not under `node_modules`, `.venv`) | read-only | no hook or `core.fsmonitor` planted for the user's next `git` there |
| its `.slop/` | hidden (an empty tmpfs over it) | slop's log, state and pre-images |
| slop's config folder (`$SLOP_CONFIG_DIR`), wherever it is | hidden | `credentials.toml` |
| everything else (`/root`, `/home`, `/var`, `/run`, `/sys`, `/mnt`, `/media`, other repositories) | absent | not needed, may hold secrets |
| the network | a new, empty network namespace (loopback only) unless the command is allowed the network | nothing to send a secret through |

A directory that is the home folder itself, one of its ancestors, or one holding the config folder
is never bound, even when it is on `PATH`: it would show the whole home.

The environment is built from `ALLOWED_VARIABLES` (and `LC_*`), never from slop's environment
minus a deny-list: a key slop does not know the name of cannot leak either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# Passed through from slop's environment when set; nothing else is.
ALLOWED_VARIABLES: frozenset[str] = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TERM",
        "COLORTERM",
        "NO_COLOR",
        "TZ",
        "USER",
        "LOGNAME",
        "SHELL",
        "VIRTUAL_ENV",  # the venv whose bin is on PATH, bound read-only
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "SOURCE_DATE_EPOCH",
        # How the person runs pytest (no plugin autoload, extra options): settings, not secrets.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
        "PYTEST_ADDOPTS",
    }
)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
SYSTEM_DIRS: tuple[str, ...] = ("/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
FALLBACK_HOME = "/tmp/home"


def allowed_environment(base: Mapping[str, str], home: str) -> dict[str, str]:
    """The allow-listed part of `base`, with `HOME` set to `home`."""
    env = {k: v for k, v in base.items() if k in ALLOWED_VARIABLES or k.startswith("LC_")}
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOME"] = home
    return env


def _real(path: str | Path) -> str:
    return os.path.realpath(path)


def _inside(path: str, root: str) -> bool:
    """`path` is `root` or below it (both real, absolute)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def _venv_base(venv: str) -> str | None:
    """The prefix of the interpreter a virtual environment was made from (`pyvenv.cfg` `home`,
    usually `<prefix>/bin`), or None when `venv` is not one."""
    try:
        text = Path(venv, "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "home" and value.strip():
            home = _real(value.strip())
            return str(Path(home).parent) if Path(home).name == "bin" else home
    return None


class _Binds:
    """Read-only binds in the order found, without duplicates or ones already covered."""

    def __init__(self, covered: Iterable[str], forbidden: Sequence[str], never: Sequence[str]) -> None:
        self.covered = list(covered)  # system folders and the repository: bound anyway
        self.forbidden = forbidden  # the home and its ancestors: binding would show everything
        self.never = never  # folders that must stay hidden, and anything holding them
        self.paths: list[str] = []

    def add(self, path: str | None) -> None:
        if not path or not os.path.isabs(path):
            return
        real = _real(path)
        if not os.path.isdir(real) or real in self.forbidden:
            return
        if any(_inside(n, real) for n in self.never):
            return
        if any(_inside(real, c) for c in self.covered + self.paths):
            return
        self.paths = [p for p in self.paths if not _inside(p, real)]  # a wider bind replaces them
        self.paths.append(real)


LINKS_SCANNED = 2_000  # symlinks followed per PATH folder at most


def _link_homes(folder: str) -> list[str]:
    """What the symlinks in a `PATH` folder need bound for their targets to run: pipx puts
    `~/.local/bin/black -> ~/.local/share/pipx/venvs/black/bin/black` (the venv is needed, with
    its base interpreter), nvm `bin/npm -> ../lib/node_modules/npm/bin/npm-cli.js` (the
    `node_modules` folder). Anything else: the target's own folder. Only links are followed:
    the folder's plain files are bound with it."""
    found: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries[:LINKS_SCANNED]:
        if not entry.is_symlink():
            continue
        target = _real(entry.path)
        if _inside(target, folder) or not os.path.exists(target):
            continue
        parent = os.path.dirname(target)
        home = parent
        for ancestor in [Path(parent), *Path(parent).parents]:
            if (ancestor / "pyvenv.cfg").is_file():
                home = str(ancestor)
                base = _venv_base(home)
                if base:
                    found.append(base)
                break
            if ancestor.name == "node_modules":
                home = str(ancestor)
                break
        found.append(home)
    return found


def _git_dirs(repo: str) -> list[str]:
    """The repository's git folder(s) to bind read-only: `.git`, or for a worktree or submodule
    (`.git` is a file `gitdir: ...`) the folder it names and that folder's common directory."""
    dot_git = os.path.join(repo, ".git")
    if os.path.isdir(dot_git):
        return [dot_git]
    try:
        first = Path(dot_git).read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return []
    if not first.startswith("gitdir:"):
        return []
    gitdir = _real(os.path.join(repo, first[len("gitdir:") :].strip()))
    found = [gitdir] if os.path.isdir(gitdir) else []
    try:
        common = Path(gitdir, "commondir").read_text(encoding="utf-8").strip()
        common_real = _real(os.path.join(gitdir, common))
        if os.path.isdir(common_real):
            found = [common_real] + [g for g in found if not _inside(g, common_real)]
    except OSError:
        pass
    return found


# Folders never searched for embedded repositories: large, and a `.git` there is a package's, not
# a repository the user works in.
_NO_DESCENT = frozenset({".git", ".slop", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"})
EMBEDDED_SEARCH_LIMIT = 20_000  # folders visited at most: a huge tree costs a bounded walk per command


def _embedded_git_dirs(repo: str) -> list[str]:
    """`.git` folders of repositories nested inside the work tree (a vendored clone, a project
    kept inside another): read-only like the repository's own, or a command could plant a hook
    or a `core.fsmonitor` there that runs the next time the user types `git` in that folder.
    Symlinks are not followed (a link out of the tree is not the repository's)."""
    found: list[str] = []
    stack = [repo]
    visited = 0
    while stack and visited < EMBEDDED_SEARCH_LIMIT:
        folder = stack.pop()
        visited += 1
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            if entry.name == ".git" and folder != repo:
                found.append(entry.path)
            elif entry.name not in _NO_DESCENT:
                stack.append(entry.path)
    return sorted(found)


def sandbox_home(real_home: str | None, repo: str) -> str:
    """Where the private HOME goes: over the real home's path (so `~` and the user database
    agree), unless that path is unusable (unset, `/`, a system folder, the repository's)."""
    if not real_home or not os.path.isabs(real_home):
        return FALLBACK_HOME
    home = os.path.normpath(real_home)
    if home == "/" or any(_inside(home, d) or _inside(d, home) for d in SYSTEM_DIRS + ("/proc", "/dev")):
        return FALLBACK_HOME
    if _inside(home, repo):
        return FALLBACK_HOME  # a tmpfs there would hide the work
    return home


def bwrap_argv(
    bwrap: str,
    command: Sequence[str],
    *,
    repo_root: Path,
    cwd: Path,
    env: Mapping[str, str],
    network: bool,
    real_home: str | None,
    hidden: Iterable[Path] = (),
) -> list[str]:
    """The full argument list that runs `command` under `bwrap` as the module table says.
    `env` is the command's environment (its `PATH` decides the toolchain binds; `HOME` in it is
    ignored: the private home is `sandbox_home(real_home, repo)`). `hidden`: folders that must
    never be visible (slop's config folder)."""
    repo = _real(repo_root)
    home = sandbox_home(real_home, repo)
    never = [_real(h) for h in hidden] + [os.path.join(repo, ".slop")]
    home_real = _real(real_home) if real_home and os.path.isabs(real_home) else None
    forbidden = ["/"]
    if home_real and home_real != "/":
        forbidden += [str(p) for p in [Path(home_real), *Path(home_real).parents]]

    argv = [bwrap, "--unshare-all"]
    if network:
        argv.append("--share-net")
    argv += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev"]
    system: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
            system.append(_real(folder))
    if network and os.path.islink("/etc/resolv.conf"):
        # systemd-resolved's stub lives under /run, which is otherwise absent.
        stub = os.path.dirname(_real("/etc/resolv.conf"))
        argv += ["--ro-bind-try", stub, stub]
    argv += ["--tmpfs", "/tmp", "--tmpfs", home]

    binds = _Binds(system + [repo], forbidden, never)
    for entry in env.get("PATH", DEFAULT_PATH).split(os.pathsep):
        if not os.path.isabs(entry):
            continue
        real = _real(entry)
        parent = os.path.dirname(real)
        if os.path.basename(real) == "shims" and os.path.isdir(os.path.join(parent, "libexec")):
            binds.add(parent)  # a pyenv root: shims exec libexec/pyenv, which runs versions/*
        elif os.path.isfile(os.path.join(parent, "pyvenv.cfg")):
            binds.add(parent)
            binds.add(_venv_base(parent))
        else:
            covered = any(_inside(real, c) for c in binds.covered + binds.paths)
            binds.add(real)
            if not covered and real in binds.paths:
                for needed in _link_homes(real):
                    binds.add(needed)
            if os.path.basename(parent) == ".cargo" and os.path.basename(real) == "bin":
                # rustup's proxies there run toolchains from ~/.rustup (no secrets; the rest of
                # ~/.cargo holds registry credentials and stays hidden).
                binds.add(os.path.join(os.path.dirname(parent), ".rustup"))
    binds.add(_venv_base(os.path.join(repo, ".venv")))
    # slop's own interpreter: tests and hooks name `sys.executable`.
    binds.add(sys.prefix)
    binds.add(sys.base_prefix)
    for path in binds.paths:
        argv += ["--ro-bind", path, path]

    argv += ["--bind", repo, repo]
    git_dirs = _git_dirs(repo) + _embedded_git_dirs(repo)
    for git_dir in git_dirs:
        argv += ["--ro-bind", git_dir, git_dir]
    bound = system + [repo] + binds.paths + git_dirs
    for secret in never:
        if os.path.isdir(secret) and any(_inside(secret, b) for b in bound):
            argv += ["--tmpfs", secret]
    chdir = _real(cwd)
    argv += ["--chdir", chdir if _inside(chdir, repo) else repo, "--", *command]
    return argv
