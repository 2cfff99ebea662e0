"""A worker's command never runs the repository's git hooks or fsmonitor: `pytest` may call
`git`, and a cloned repository's `.git/config` and hooks are code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from slop_tui.models import RunCommandArgs
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.shell_runner import with_git_safety

COMMIT = "git -c user.name=t -c user.email=t@example.com commit --allow-empty -q -m probe"


def _hostile_repo(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A git repository whose fsmonitor and pre-commit hook each touch a marker outside it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    fsmonitor_marker = tmp_path / "fsmonitor-ran"
    hook_marker = tmp_path / "hook-ran"
    monitor = tmp_path / "monitor.sh"
    monitor.write_text(f"#!/bin/sh\ntouch {fsmonitor_marker}\nexit 1\n")
    monitor.chmod(0o755)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {hook_marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "-C", str(repo), "config", "core.fsmonitor", str(monitor)], check=True)
    (repo / "a.txt").write_text("a\n")
    return repo, fsmonitor_marker, hook_marker


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}


@pytest.fixture(autouse=True)
def _no_inherited_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("GIT_CONFIG")]:
        monkeypatch.delenv(name)


async def test_git_status_and_commit_in_a_command_run_no_fsmonitor_and_no_hook(tmp_path: Path) -> None:
    repo, fsmonitor_marker, hook_marker = _hostile_repo(tmp_path)
    # Unsandboxed, where this is the only wall (in the sandbox `.git/` is read-only, no commit).
    executor = ToolExecutor(repo, sandboxed=False)
    for command in ("git status --porcelain", COMMIT):
        outcome = await executor.execute("t", RunCommandArgs(command=command, timeout_s=30))
        assert outcome.ok, outcome.output
    assert not fsmonitor_marker.exists()
    assert not hook_marker.exists()
    # Without slop's environment the same commands do run them: the test bites.
    for command in ("git status --porcelain", COMMIT):
        subprocess.run(command, shell=True, cwd=repo, env=_plain_env(), check=True, capture_output=True)
    assert fsmonitor_marker.exists() and hook_marker.exists()


async def test_git_config_entries_already_in_the_environment_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, fsmonitor_marker, _ = _hostile_repo(tmp_path)
    # slop's own environment is not passed on (allow-list); the user's `[run] env` is.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "Not Passed On")
    run_env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "From The Environment"}
    outcome = await ToolExecutor(repo, env_extra=run_env).execute(
        "t", RunCommandArgs(command="git config user.name && git status --porcelain", timeout_s=30)
    )
    assert outcome.ok and "From The Environment" in outcome.output, outcome.output
    assert not fsmonitor_marker.exists()


def test_with_git_safety_appends_after_existing_entries_and_restarts_a_bad_count() -> None:
    env = with_git_safety({"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "a.b", "GIT_CONFIG_VALUE_0": "1"})
    assert env["GIT_CONFIG_COUNT"] == "4" and env["GIT_CONFIG_KEY_0"] == "a.b"
    assert (env["GIT_CONFIG_KEY_2"], env["GIT_CONFIG_VALUE_2"]) == ("core.hooksPath", "/dev/null")
    assert (env["GIT_CONFIG_KEY_3"], env["GIT_CONFIG_VALUE_3"]) == ("core.fsmonitor", "false")
    bad = with_git_safety({"GIT_CONFIG_COUNT": "x"})
    assert bad["GIT_CONFIG_COUNT"] == "2" and bad["GIT_CONFIG_KEY_0"] == "core.hooksPath"
