"""Git-native runs through the real `slop` command line on real git repositories: a branch per
run, a commit per ticket, undo as a revert, land, diff and drop, dirty trees refused."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from slop_tui.demo import DEMO_PROMPT
from slop_tui.models import FileChanged, TicketState
from slop_tui.store import RepoLock, Store
from tests.conductor.demo import tree
from tests.vcs.helpers import copy_repo, files_of, git, git_demo, slop, trailers

DEMO_TICKETS = ["stub-config", "use-config", "impl-config", "test-config"]


@dataclass
class GitDemo:
    """The demo run once, on a git repository; each test works on a copy (`fresh`)."""

    base: Path
    repo: Path
    config_dir: Path
    main_sha: str
    run_id: str
    stderr: str
    stdout: str

    def fresh(self, dest: Path) -> Path:
        return copy_repo(self.repo, dest / "repo")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> GitDemo:
    base = tmp_path_factory.mktemp("gitdemo")
    repo, config_dir = git_demo(base)
    git(repo, "config", "user.name", "Test Person")
    git(repo, "config", "user.email", "person@example.com")
    (repo / "notes.txt").write_text("my own notes, never committed\n")  # untracked: left alone
    main_sha = git(repo, "rev-parse", "main").strip()
    done = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    state = Store(repo).load_state()
    assert state is not None
    return GitDemo(base, repo, config_dir, main_sha, state.run_id, done.stderr, done.stdout)


def test_the_demo_run_is_one_commit_per_ticket_on_its_branch(demo: GitDemo) -> None:
    repo = demo.repo
    branch = f"slop/{demo.run_id}"
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == branch
    assert git(repo, "rev-parse", "main").strip() == demo.main_sha  # the user's branch never moved
    shas = git(repo, "rev-list", "--reverse", f"main..{branch}").split()
    assert len(shas) == 4
    changed: dict[str, set[str]] = {}
    for event in Store(repo).events():
        if isinstance(event, FileChanged):
            changed.setdefault(event.ticket_id, set()).add(event.path)
    state = Store(repo).load_state()
    assert state is not None
    titles = {t.id: t.title for _, t in state.tickets()}
    seen = []
    for sha in shas:
        found = trailers(repo, sha)
        assert found["Slop-Run"] == demo.run_id
        ticket = found["Slop-Ticket"]
        seen.append(ticket)
        assert found["Slop-Model"] and " in, " in found["Slop-Tokens"]
        assert git(repo, "show", "-s", "--format=%s", sha).strip() == titles[ticket]
        assert files_of(repo, sha) == sorted(changed[ticket])  # exactly the ticket's files
        assert git(repo, "show", "-s", "--format=%an <%ae>", sha).strip() == "Test Person <person@example.com>"
    assert sorted(seen) == sorted(DEMO_TICKETS)
    # Untracked files are left alone and never committed; nothing tracked is left uncommitted.
    assert (repo / "notes.txt").read_text() == "my own notes, never committed\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert "notes.txt" not in git(repo, "ls-tree", "-r", "--name-only", branch)
    assert "Traceback" not in demo.stderr


def test_undo_of_a_middle_ticket_reverts_exactly_its_commit(demo: GitDemo, tmp_path: Path) -> None:
    repo = demo.fresh(tmp_path)
    tip = git(repo, "rev-parse", "HEAD").strip()
    shas = git(repo, "rev-list", "--reverse", "main..HEAD").split()
    middle = shas[1]
    ticket = trailers(repo, middle)["Slop-Ticket"]
    done = slop("undo", ticket, "--repo", str(repo), config_dir=demo.config_dir)
    assert done.returncode == 0, done.stderr
    assert git(repo, "rev-parse", "HEAD~1").strip() == tip  # one new commit on the run branch
    assert files_of(repo, "HEAD") == files_of(repo, middle)
    # The revert is the exact inverse of the ticket's commit, and nothing else moved.
    assert git(repo, "diff", middle, f"{middle}^") == git(repo, "diff", "HEAD~1", "HEAD")
    assert git(repo, "diff", "--name-only", f"{middle}~1", "HEAD") == git(repo, "diff", "--name-only", middle, tip)
    assert git(repo, "rev-parse", "main").strip() == demo.main_sha
    state = Store(repo).load_state()
    assert state is not None and state.find_ticket(ticket)[1].state is TicketState.TODO


@pytest.mark.parametrize("committed", [False, True], ids=["uncommitted-edit", "committed-edit"])
def test_undo_after_the_users_own_edit_stops_and_loses_nothing(demo: GitDemo, tmp_path: Path, committed: bool) -> None:
    repo = demo.fresh(tmp_path)
    middle = git(repo, "rev-list", "--reverse", "main..HEAD").split()[1]
    ticket = trailers(repo, middle)["Slop-Ticket"]
    path = files_of(repo, middle)[0]
    victim = repo / path
    victim.write_bytes(victim.read_bytes().replace(b"\n", b"  # mine\n"))  # the same lines, by hand
    if committed:
        git(repo, "commit", "-q", "-am", "my own edit")
    before_tree, head = tree(repo), git(repo, "rev-parse", "HEAD").strip()
    done = slop("undo", ticket, "--repo", str(repo), config_dir=demo.config_dir)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "git says" in done.stderr and "nothing was changed" in done.stderr
    assert tree(repo) == before_tree and git(repo, "rev-parse", "HEAD").strip() == head
    assert not (repo / ".git" / "REVERT_HEAD").exists()  # no revert left half done
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ("" if committed else f" M {path}\n")
    state = Store(repo).load_state()
    assert state is not None and state.find_ticket(ticket)[1].state is TicketState.DONE


def test_the_run_and_status_say_how_to_finish_the_run_branch(demo: GitDemo, tmp_path: Path) -> None:
    branch = f"slop/{demo.run_id}"
    steps = (f"the run is on branch {branch} (from main): `slop diff` shows it, `slop land` brings "
             "it onto main, `slop drop` discards it")
    assert demo.stdout.rstrip().endswith(steps)
    repo = demo.fresh(tmp_path)
    status = slop("status", "--repo", str(repo), config_dir=demo.config_dir)
    assert status.returncode == 0 and status.stdout.rstrip().endswith(steps), status.stdout
    assert slop("land", "--repo", str(repo), config_dir=demo.config_dir).returncode == 0
    status = slop("status", "--repo", str(repo), config_dir=demo.config_dir)
    assert status.returncode == 0 and "slop land" not in status.stdout, status.stdout


def test_diff_then_land_fast_forwards_the_users_branch(demo: GitDemo, tmp_path: Path) -> None:
    repo = demo.fresh(tmp_path)
    tip = git(repo, "rev-parse", "HEAD").strip()
    shown = slop("diff", "--repo", str(repo), config_dir=demo.config_dir)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == git(repo, "diff", demo.main_sha, tip)
    done = slop("land", "--repo", str(repo), config_dir=demo.config_dir)
    assert done.returncode == 0, done.stderr
    assert "fast-forward" in done.stdout
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(repo, "rev-parse", "main").strip() == tip
    assert git(repo, "branch", "--list", "slop/*") == ""
    assert git(repo, "for-each-ref", "refs/slop/") == ""
    # After landing, undo reverts on the user's branch.
    ticket = trailers(repo, "HEAD")["Slop-Ticket"]
    undone = slop("undo", ticket, "--repo", str(repo), config_dir=demo.config_dir)
    assert undone.returncode == 0, undone.stderr
    assert git(repo, "rev-parse", "main~1").strip() == tip


def test_land_merges_when_the_users_branch_moved(demo: GitDemo, tmp_path: Path) -> None:
    repo = demo.fresh(tmp_path)
    tip = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "main")
    (repo / "CHANGES.txt").write_text("the person kept working\n")
    git(repo, "add", "CHANGES.txt")
    git(repo, "commit", "-q", "-m", "meanwhile")
    moved = git(repo, "rev-parse", "HEAD").strip()
    done = slop("land", "--repo", str(repo), "--run", demo.run_id, config_dir=demo.config_dir)
    assert done.returncode == 0, done.stderr
    assert "(merge)" in done.stdout
    parents = git(repo, "show", "-s", "--format=%P", "main").split()
    assert parents == [moved, tip]


def test_drop_asks_then_goes_back_and_deletes_the_run_branch(demo: GitDemo, tmp_path: Path) -> None:
    repo = demo.fresh(tmp_path)
    branch = f"slop/{demo.run_id}"
    refused = slop("drop", "--repo", str(repo), config_dir=demo.config_dir, stdin="n\n")
    assert refused.returncode == 1 and "nothing was changed" in refused.stdout
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == branch
    done = slop("drop", "--repo", str(repo), config_dir=demo.config_dir, stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(repo, "rev-parse", "main").strip() == demo.main_sha
    assert git(repo, "branch", "--list", "slop/*") == ""
    assert git(repo, "diff", "--stat", demo.main_sha) == ""  # the tree is main's again
    assert git(repo, "for-each-ref", "refs/slop/") == ""
    again = slop("drop", "--repo", str(repo), "--yes", config_dir=demo.config_dir)
    assert again.returncode == 2 and "no slop run branch" in again.stderr


def test_a_dirty_tracked_file_refuses_the_run(tmp_path: Path) -> None:
    repo, config_dir = git_demo(tmp_path)
    victim = repo / "app" / "config.py"
    victim.write_bytes(victim.read_bytes() + b"# half-done work of my own\n")
    before = tree(repo)
    done = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "app/config.py" in done.stderr and "git stash" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree(repo) == before
    assert git(repo, "branch", "--list", "slop/*") == ""
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_land_and_drop_wait_for_a_run_working_in_the_tree(demo: GitDemo, tmp_path: Path) -> None:
    repo = demo.fresh(tmp_path)
    tip = git(repo, "rev-parse", "HEAD").strip()
    with RepoLock(repo):  # a run in this process holds the repository
        for command in (["land"], ["drop", "--yes"]):
            done = slop(*command, "--repo", str(repo), config_dir=demo.config_dir)
            assert done.returncode == 2 and str(os.getpid()) in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
    assert git(repo, "rev-parse", "main").strip() == demo.main_sha
    assert git(repo, "rev-parse", "HEAD").strip() == tip


def test_a_run_never_writes_the_repositorys_config(demo: GitDemo) -> None:
    assert "slop" not in (demo.repo / ".git" / "config").read_text()
    assert git(demo.repo, "for-each-ref", "--format=%(refname)", "refs/slop/runs/").split() == [f"refs/slop/runs/{demo.run_id}"]


def test_a_stale_index_lock_left_by_a_killed_slop_does_not_stop_an_undo(demo: GitDemo, tmp_path: Path) -> None:
    repo = demo.fresh(tmp_path)
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"")  # what a `kill -9` in the middle of a commit leaves
    tip = git(repo, "rev-parse", "HEAD").strip()
    ticket = trailers(repo, "HEAD")["Slop-Ticket"]
    done = slop("undo", ticket, "--repo", str(repo), config_dir=demo.config_dir)
    assert done.returncode == 0, done.stderr
    assert not lock.exists() and git(repo, "rev-parse", "HEAD~1").strip() == tip
