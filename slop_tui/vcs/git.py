"""The one way slop calls `git`: the user's own `git` CLI, with nothing of the repository able to
run code.

A repository's hooks (in `.git/hooks`, or a committed folder `core.hooksPath` names), its
fsmonitor, pager, editor and filter drivers are programs; a worker can write into a committed
hooks folder, so a commit slop makes must never run them. Every call here turns them off on the
command line, which outranks every config file. Signing stays on only when the user's own
(global or system) config asks for it, and then with the user's signing program, not one the
repository's config names.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import msgspec

from slop_tui.errors import SlopError

# Identity used when the user has none configured: clearly not a person.
FALLBACK_NAME = "slop"
FALLBACK_EMAIL = "slop@localhost"

# Outranks every config file: hooks, fsmonitor, pager and editors never run.
SAFE_CONFIG: tuple[str, ...] = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.editor=true",
    "sequence.editor=true",
    "core.askPass=",
    "credential.helper=",
    "diff.external=",
    "advice.detachedHead=false",
)

# Variables that would point git at another repository, index or config than the one asked.
_REDIRECTS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_NAMESPACE", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "GIT_EXEC_PATH", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_EXTERNAL_DIFF",
    "GIT_SSH", "GIT_SSH_COMMAND",
)


class GitResult(msgspec.Struct, frozen=True):
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self) -> str:
        """Git's own words, on one line (what a user sees when a call fails)."""
        text = (self.stderr.strip() or self.stdout.strip()).replace("\n", " ").replace("\t", " ")
        return " ".join(text.split())[:600] or f"git exited with status {self.returncode}"


class GitError(SlopError):
    """A git call slop needed failed; the message is git's own."""


def git_executable() -> str | None:
    return shutil.which("git")


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTS}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_EDITOR="true",
        GIT_SEQUENCE_EDITOR="true",
        GIT_LITERAL_PATHSPECS="1",  # a file named `*` or `:(glob)x` is that file, nothing more
        GIT_OPTIONAL_LOCKS="0",  # reads (status) never take the index lock from a writer
    )
    env.update(extra or {})
    return env


def git_argv(repo: Path, args: tuple[str, ...] | list[str], overrides: tuple[str, ...] = ()) -> list[str]:
    exe = git_executable() or "git"
    argv = [exe, "--no-pager", "-C", str(repo)]
    for item in SAFE_CONFIG + overrides:
        argv += ["-c", item]
    return argv + list(args)


def run_git_sync(repo: Path, *args: str, overrides: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 stdin: str | None = None, timeout: float = 60) -> GitResult:
    """The blocking form, for setup code outside an event loop (`slop demo`)."""
    done = subprocess.run(
        git_argv(repo, args, overrides), input=stdin.encode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True,
        env=git_env(env), timeout=timeout,
    )
    return GitResult(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


class Git:
    """Calls on one working tree. `overrides` carries the per-repository neutralisers
    (`repository_overrides`) and the signing choice, found once."""

    def __init__(self, repo: Path, overrides: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.repo = repo
        self.overrides = overrides
        self.env = dict(env or {})
        self.notices: list[str] = []

    async def run(self, *args: str, stdin: str | None = None, timeout: float = 120) -> GitResult:
        proc = await asyncio.create_subprocess_exec(
            *git_argv(self.repo, args, self.overrides),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=git_env(self.env),
        )
        try:
            # Not `asyncio.wait_for`: on Python 3.11 it drops a cancel that lands as git ends.
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        return GitResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))

    async def check(self, *args: str, stdin: str | None = None, what: str = "") -> str:
        """stdout of a call that must succeed; `GitError` with git's message otherwise."""
        result = await self.run(*args, stdin=stdin)
        if not result.ok:
            raise GitError(f"{what or 'git ' + args[0]} failed in {self.repo}: {result.message()}")
        return result.stdout


PLAIN_NOTICE = "no commits for this run; undo restores the pre-images kept in .slop/"


async def open_git(repo: Path) -> tuple[Git | None, str | None]:
    """(a `Git` for `repo`, None) when `repo` is the top of a git working tree with a commit
    checked out on a branch; (None, a few words why not) otherwise."""
    if git_executable() is None:
        return None, "git not found"
    probe = Git(repo)
    top = await probe.run("rev-parse", "--show-toplevel")
    if not top.ok:
        return None, "not a git repository"
    if Path(top.stdout.strip()).resolve() != repo.resolve():
        return None, (
            f"{repo} is inside the git repository {top.stdout.strip()}, not at its top"
        )
    head = await probe.run("rev-parse", "--verify", "-q", "HEAD^{commit}")
    if not head.ok:
        return None, "the git repository has no commit yet"
    branch = await probe.run("symbolic-ref", "-q", "--short", "HEAD")
    if not branch.ok:
        return None, "HEAD is detached (not on a branch)"
    overrides, env, notices = await repository_overrides(probe)
    git = Git(repo, overrides, env)
    git.notices = notices
    return git, None


async def repository_overrides(git: Git) -> tuple[tuple[str, ...], dict[str, str], list[str]]:
    """(`-c` overrides, environment, notices) for this repository.

    Filter drivers defined in the repository's own config are programs a checkout or commit
    runs: blanked (an empty command is no filter). Signing: off, unless the user's global or
    system config turns `commit.gpgsign` on; then on, with the signing programs of those
    files. The identity is the user's when configured, else `slop <slop@localhost>`.
    """
    overrides: list[str] = []
    local = await git.run("config", "--local", "--name-only", "--get-regexp", r"^filter\.")
    for key in sorted(set(local.stdout.split())):
        _, _, rest = key.partition(".")
        name, _, _ = rest.rpartition(".")
        if name:
            overrides += [f"filter.{name}.clean=", f"filter.{name}.smudge=", f"filter.{name}.process=",
                          f"filter.{name}.required=false"]
    notices: list[str] = []
    sign = False
    for scope in ("--global", "--system"):
        asked = await git.run("config", scope, "--type=bool", "--get", "commit.gpgsign")
        if asked.ok and asked.stdout.strip() == "true":
            sign = True
            break
    if sign:
        for key, default in (("gpg.program", "gpg"), ("gpg.ssh.program", "ssh-keygen"), ("gpg.x509.program", "gpgsm")):
            value: str = default
            for scope in ("--global", "--system"):
                got = await git.run("config", scope, "--get", key)
                if got.ok and got.stdout.strip():
                    value = got.stdout.strip()
                    break
            overrides.append(f"{key}={value}")
        notices.append("commits are signed, as your git config asks (commit.gpgsign)")
    else:
        overrides.append("commit.gpgsign=false")
    env: dict[str, str] = {}
    user = await git.run("config", "--get", "user.name")
    email = await git.run("config", "--get", "user.email")
    if not (user.ok and user.stdout.strip() and email.ok and email.stdout.strip()):
        env = {
            "GIT_AUTHOR_NAME": FALLBACK_NAME, "GIT_AUTHOR_EMAIL": FALLBACK_EMAIL,
            "GIT_COMMITTER_NAME": FALLBACK_NAME, "GIT_COMMITTER_EMAIL": FALLBACK_EMAIL,
        }
        notices.append(f"no git identity configured: commits are by {FALLBACK_NAME} <{FALLBACK_EMAIL}>")
    return tuple(overrides), env, notices
