"""A run as a git branch: `slop/<run-id>` from the user's HEAD, one commit per done ticket,
undo as a revert, then land (fast-forward or merge) or drop.

The run branch is worked in place, in the user's working tree, so the worker's commands find the
repository's environment as it is. The user's branch ref is never moved before `land`. Where the
run came from (branch and commit) is a small blob under `refs/slop/runs/<id>`, deleted with the
run branch: slop never writes the repository's config (the older place, the branch's config
section `branch.slop/<id>.slopBase` / `.slopBaseSha`, is still read).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from slop_tui.display import sanitize
from slop_tui.errors import SlopError
from slop_tui.vcs.git import Git, GitError, open_git
from slop_tui.vcs.index_lock import clear_stale_lock
from slop_tui.words import counted, verb

BRANCH_PREFIX = "slop/"
ORIGIN_REFS = "refs/slop/runs/"
TRAILER_RUN = "Slop-Run"
TRAILER_TICKET = "Slop-Ticket"
_SUBJECT_MAX = 200
_BODY_MAX = 4000
_SEP = "\x1f"
_REC = "\x1e"


class TicketCommit(msgspec.Struct, frozen=True):
    ticket_id: str
    title: str
    sha: str
    files: list[str]


class RunBranch(msgspec.Struct, frozen=True):
    run_id: str
    branch: str
    base_branch: str
    base_sha: str


def run_branch_name(run_id: str) -> str:
    return BRANCH_PREFIX + run_id


def origin_ref(run_id: str) -> str:
    """A ref to a blob "<base branch>\n<base sha>\n": where the run started. A ref rather
    than the repository's config, which slop never writes."""
    return f"{ORIGIN_REFS}{run_id}"


async def git_for(repo: Path) -> Git:
    """A `Git` for `repo`, or `SlopError` saying why slop cannot use git there."""
    git, why = await open_git(repo)
    if git is None:
        raise SlopError(f"{repo}: {why}; there is no run branch here")
    return git


async def git_dir(git: Git) -> Path:
    return Path((await git.check("rev-parse", "--absolute-git-dir")).strip())


async def clear_lock(git: Git) -> None:
    """Before a write: a stale index lock goes (with a notice), a held one refuses."""
    notice = clear_stale_lock(git.repo, await git_dir(git))
    if notice:
        git.notices.append(notice)


async def dirty_tracked(git: Git) -> list[str]:
    """Tracked files with uncommitted changes (staged or not); untracked files do not count."""
    out = await git.check("status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=dirty")
    paths: list[str] = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            i += 1  # the rename's source follows
    return paths


async def refuse_if_dirty(git: Git, doing: str) -> None:
    dirty = await dirty_tracked(git)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise SlopError(
            f"{counted(len(dirty), 'tracked file')} {verb(len(dirty), 'has', 'have')} uncommitted changes ({shown}); commit them, or "
            f"`git stash` them, before {doing}"
        )


async def start_run(git: Git, run_id: str) -> RunBranch:
    """Create `slop/<run_id>` at HEAD and switch to it in place (the user's branch stays)."""
    await refuse_if_dirty(git, "a run")
    base_branch = (await git.check("symbolic-ref", "--short", "HEAD")).strip()
    base_sha = (await git.check("rev-parse", "--verify", "HEAD^{commit}")).strip()
    branch = run_branch_name(run_id)
    await clear_lock(git)
    await git.check("switch", "--no-guess", "-c", branch, what="creating the run branch")
    blob = (await git.check("hash-object", "-w", "--stdin", stdin=f"{base_branch}\n{base_sha}\n")).strip()
    await git.check("update-ref", "--no-deref", origin_ref(run_id), blob, what="recording where the run started")
    return RunBranch(run_id=run_id, branch=branch, base_branch=base_branch, base_sha=base_sha)


def commit_message(title: str, summary: str, trailers: list[tuple[str, str]]) -> str:
    """Subject, body and trailers, all through the sanitiser. The trailers are the last
    paragraph, where git looks for them, so a summary cannot forge one."""
    subject = sanitize(title, one_line=True).strip()[:_SUBJECT_MAX] or "(untitled ticket)"
    body = sanitize(summary).strip()[:_BODY_MAX]
    lines = [subject, ""]
    if body:
        lines += [body, ""]
    lines += [f"{key}: {sanitize(value, one_line=True).strip()}" for key, value in trailers]
    return "\n".join(lines) + "\n"


async def commit_paths(git: Git, paths: list[str], message: str) -> str | None:
    """Commit exactly `paths` as they are in the working tree (new files added first, deleted
    ones recorded as deleted); the new commit's sha, or None when they hold no change."""
    if not paths:
        return None
    await clear_lock(git)
    tracked = set((await git.check("ls-files", "-z", "--", *paths)).split("\0")) - {""}
    new = [p for p in paths if p not in tracked and (git.repo / p).is_file()]
    if new:
        await git.check("add", "--", *new, what="adding the ticket's new files")
    wanted = [p for p in paths if p in tracked or p in new]
    if not wanted:
        return None
    changed = await git.run("diff", "--quiet", "--no-ext-diff", "HEAD", "--", *wanted)
    if changed.ok:
        return None  # written back as they were: nothing to commit
    await git.check(
        "commit", "--no-verify", "--quiet", "--cleanup=verbatim", "-F", "-", "--only", "--", *wanted,
        stdin=message, what="committing the ticket",
    )
    return (await git.check("rev-parse", "HEAD")).strip()


async def _trailers(git: Git, sha: str) -> dict[str, str]:
    fmt = f"%(trailers:key={TRAILER_RUN},valueonly,separator=%x2C){_SEP}%(trailers:key={TRAILER_TICKET},valueonly,separator=%x2C)"
    out = await git.check("show", "-s", f"--format={fmt}", sha)
    run, _, ticket = out.strip("\n").partition(_SEP)
    return {TRAILER_RUN: run.strip(), TRAILER_TICKET: ticket.strip()}


async def find_ticket_commit(git: Git, run_id: str, ticket_id: str, limit: int = 2000) -> str | None:
    """The newest commit in HEAD's history made for `ticket_id` of run `run_id`."""
    fmt = f"%H{_SEP}%(trailers:key={TRAILER_RUN},valueonly,separator=%x2C){_SEP}%(trailers:key={TRAILER_TICKET},valueonly,separator=%x2C){_REC}"
    out = await git.check("log", f"-n{limit}", f"--format={fmt}", "HEAD")
    for record in out.split(_REC):
        parts = record.strip("\n").split(_SEP)
        if len(parts) == 3 and parts[1].strip() == run_id and parts[2].strip() == ticket_id:
            return parts[0]
    return None


async def changed_files(git: Git, sha: str) -> list[str]:
    out = await git.check("diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", sha)
    return [p for p in out.split("\0") if p]


async def revert_commit(git: Git, sha: str) -> list[str]:
    """`git revert --no-edit sha` on the checked-out branch; its files. A conflict (or local
    changes in the way) aborts the revert and raises git's own message: nothing is lost."""
    files = await changed_files(git, sha)
    await clear_lock(git)
    result = await git.run("revert", "--no-edit", sha)
    if not result.ok:
        aborted = await git.run("revert", "--abort")
        note = "" if aborted.ok or "no cherry-pick or revert in progress" in aborted.message() else (
            f" (and `git revert --abort` failed: {aborted.message()})")
        raise GitError(f"cannot revert {sha[:12]}: git says: {result.message()}{note}; nothing was changed")
    return files


# -- the API the command line and the TUI use -------------------------------------------------


async def _run_of_branch(git: Git, branch: str) -> RunBranch | None:
    if not branch.startswith(BRANCH_PREFIX):
        return None
    run_id = branch[len(BRANCH_PREFIX):]
    origin = await git.run("cat-file", "blob", origin_ref(run_id))
    lines = origin.stdout.split("\n") if origin.ok else []
    if len(lines) >= 2 and lines[0] and lines[1]:
        base_branch, base_sha = lines[0], lines[1]
    else:  # written by hand the git way: the branch's own config section
        base = await git.run("config", "--get", f"branch.{branch}.slopBase")
        sha = await git.run("config", "--get", f"branch.{branch}.slopBaseSha")
        if not (base.ok and sha.ok):
            return None
        base_branch, base_sha = base.stdout.strip(), sha.stdout.strip()
    return RunBranch(run_id=run_id, branch=branch, base_branch=base_branch, base_sha=base_sha)


async def current_run(repo: Path) -> RunBranch | None:
    """The run branch checked out in `repo`, if any (None in a plain folder too)."""
    git, _ = await open_git(repo)
    if git is None:
        return None
    head = await git.run("symbolic-ref", "-q", "--short", "HEAD")
    return await _run_of_branch(git, head.stdout.strip()) if head.ok else None


async def find_run(repo: Path, run_id: str | None = None) -> RunBranch:
    """The run a command means: `run_id`'s, else the one checked out, else the only run
    branch there is; `SlopError` listing them otherwise."""
    git = await git_for(repo)
    if run_id:
        run = await _run_of_branch(git, run_branch_name(run_id))
        if run is None:
            raise SlopError(f"no run branch {run_branch_name(run_id)!r} in {repo}")
        return run
    checked_out = await current_run(repo)
    if checked_out is not None:
        return checked_out
    out = await git.check("for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}")
    runs = [r for b in out.split() if (r := await _run_of_branch(git, b)) is not None]
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise SlopError(f"no slop run branch in {repo}")
    raise SlopError(f"several run branches in {repo} ({', '.join(r.branch for r in runs)}); name one with --run ID")


async def run_commits(repo: Path, run: RunBranch) -> list[TicketCommit]:
    """The run's commits, oldest first (reverts of undone tickets included, with their own
    subject and the ticket id of the commit they revert left empty)."""
    git = await git_for(repo)
    fmt = f"%H{_SEP}%s{_SEP}%(trailers:key={TRAILER_TICKET},valueonly,separator=%x2C){_REC}"
    out = await git.check("log", "--reverse", f"--format={fmt}", f"{run.base_sha}..{run.branch}")
    commits: list[TicketCommit] = []
    for record in out.split(_REC):
        parts = record.strip("\n").split(_SEP)
        if len(parts) != 3:
            continue
        sha, subject, ticket = parts
        commits.append(TicketCommit(ticket_id=ticket.strip(), title=sanitize(subject, one_line=True),
                                    sha=sha, files=await changed_files(git, sha)))
    return commits


async def run_diff(repo: Path, run: RunBranch) -> str:
    """The whole run as one unified diff (base commit to the run branch). Raw text: put it
    through `slop_tui.display` before showing it."""
    git = await git_for(repo)
    return await git.check("diff", "--no-ext-diff", "--no-textconv", "--no-color", run.base_sha, run.branch, "--")


async def land(repo: Path, run: RunBranch) -> str:
    """Switch back to the user's branch and bring the run onto it: a fast-forward when the
    branch has not moved, else a merge (conflicts are left to git's usual tools). The run
    branch is deleted once it is landed."""
    git = await git_for(repo)
    await refuse_if_dirty(git, "landing the run")
    await clear_lock(git)
    count = len((await git.check("rev-list", f"{run.base_sha}..{run.branch}")).split())
    await git.check("switch", "--no-guess", run.base_branch, what=f"switching to {run.base_branch}")
    head = (await git.check("rev-parse", "HEAD")).strip()
    ancestor = await git.run("merge-base", "--is-ancestor", head, run.branch)
    if ancestor.ok:
        await git.check("merge", "--ff-only", "--quiet", run.branch, what="fast-forwarding")
        how = "fast-forward"
    else:
        merged = await git.run("merge", "--no-edit", "--no-verify", "--quiet", "--no-ff", run.branch)
        if not merged.ok:
            raise GitError(
                f"{run.base_branch} moved since the run started and the merge of {run.branch} stopped: "
                f"{merged.message()}; resolve with git (`git status`, then `git commit`), or "
                "`git merge --abort`"
            )
        how = "merge"
    await git.check("branch", "-d", run.branch, what="deleting the landed run branch")
    await git.run("update-ref", "--no-deref", "-d", origin_ref(run.run_id))
    return f"landed {counted(count, 'commit')} of {run.branch} on {run.base_branch} ({how}); the run branch is deleted"


async def drop(repo: Path, run: RunBranch) -> str:
    """Switch back to the user's branch and delete the run branch (its commits are gone from
    the branch list; `git reflog` still has them for a while)."""
    git = await git_for(repo)
    await refuse_if_dirty(git, "dropping the run")
    await clear_lock(git)
    tip = (await git.check("rev-parse", "--short=12", run.branch)).strip()
    count = len((await git.check("rev-list", f"{run.base_sha}..{run.branch}")).split())
    head = await git.run("symbolic-ref", "-q", "--short", "HEAD")
    if head.stdout.strip() != run.base_branch:
        await git.check("switch", "--no-guess", run.base_branch, what=f"switching to {run.base_branch}")
    await git.check("branch", "-D", run.branch, what="deleting the run branch")
    await git.run("update-ref", "--no-deref", "-d", origin_ref(run.run_id))
    return (f"dropped {run.branch} ({counted(count, 'commit')}, tip {tip}); {run.base_branch} is checked out, "
            "unchanged")
