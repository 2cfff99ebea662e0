"""A repository's hooks, fsmonitor and filter drivers are programs: every git call slop makes
(branch, commits, revert, land) runs none of them. Each case first shows that plain git does
run them in that repository, then runs slop there and finds the marker file never written."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from slop_tui.demo import DEMO_PROMPT
from tests.vcs.helpers import copy_repo, git, git_demo, slop, trailers

HOOKS = (
    "pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout",
    "pre-merge-commit", "post-merge", "post-rewrite", "reference-transaction",
)


def _script(path: Path, marker: Path, passthrough: bool = False) -> None:
    body = f'#!/bin/sh\necho "$0 $(tr "\\0" " " < /proc/$PPID/cmdline)" >> "{marker}"\n' + ("cat\n" if passthrough else "")
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _plant(repo: Path, marker: Path, where: str) -> None:
    if where == "git-hooks":
        for hook in HOOKS:
            _script(repo / ".git" / "hooks" / hook, marker)
        return
    # A committed hooks folder the repository's config points at (as husky or pre-commit
    # tooling sets up), an fsmonitor program and a filter driver on every Python file.
    (repo / ".githooks").mkdir()
    for hook in HOOKS:
        _script(repo / ".githooks" / hook, marker)
    _script(repo / ".githooks" / "fsmonitor", marker)
    _script(repo / ".githooks" / "filter", marker, passthrough=True)
    (repo / ".gitattributes").write_text("*.py filter=evil\n")
    git(repo, "add", ".githooks", ".gitattributes")
    git(repo, "commit", "-q", "-m", "tooling")
    git(repo, "config", "core.hooksPath", ".githooks")
    git(repo, "config", "core.fsmonitor", str(repo / ".githooks" / "fsmonitor"))
    git(repo, "config", "filter.evil.clean", str(repo / ".githooks" / "filter"))
    git(repo, "config", "filter.evil.smudge", str(repo / ".githooks" / "filter"))
    git(repo, "config", "filter.evil.required", "true")


@pytest.mark.parametrize("where", ["git-hooks", "committed-hooks-path"])
def test_no_hook_of_the_repository_ever_runs(tmp_path: Path, where: str) -> None:
    repo, config_dir = git_demo(tmp_path)
    marker = tmp_path / "marker"
    _plant(repo, marker, where)
    # The control: plain git in a copy runs them.
    probe = copy_repo(repo, tmp_path / "probe")
    git(probe, "switch", "-q", "-c", "probe")
    (probe / "app" / "config.py").write_text("# changed\n")
    git(probe, "commit", "-q", "-am", "probe")
    assert marker.exists(), "the planted programs do not run under plain git: the test proves nothing"
    ran = marker.read_text()
    assert "post-checkout" in ran and "pre-commit" in ran
    if where == "committed-hooks-path":
        assert "filter" in ran and "fsmonitor" in ran
    marker.unlink()

    # The worker's own `pytest` may load pytest-benchmark, whose `git describe` is the
    # command's git, not slop's: kept out so the marker speaks of slop's calls only.
    done = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir,
                env={"PYTEST_ADDOPTS": "-p no:benchmark"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    middle = git(repo, "rev-list", "--reverse", "main..HEAD").split()[1]
    undone = slop("undo", trailers(repo, middle)["Slop-Ticket"], "--repo", str(repo), config_dir=config_dir)
    assert undone.returncode == 0, undone.stderr
    landed = slop("land", "--repo", str(repo), config_dir=config_dir)
    assert landed.returncode == 0, landed.stderr
    assert not marker.exists(), marker.read_text()
    assert len(git(repo, "rev-list", "main").split()) >= 6  # commits were made all the same
