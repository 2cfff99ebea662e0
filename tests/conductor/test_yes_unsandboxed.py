"""`--yes` where no sandbox can be made: refused in one line naming the fix, unless the user's own
config says `[run] allow_unsandboxed = true`; a repository cannot say it for them.

Unavailability is real, not mocked: `SLOP_BWRAP=""` is the sandbox detector's own override for
"no bwrap" (`sandbox.detect`), and `PATH` holds no `bwrap` either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.demo import DEMO_PROMPT, copy_sample_repo
from tests.conductor.demo import scaled_scenario, write_config

PROJECT = Path(__file__).resolve().parents[2]


def slop(*args: str, config_dir: Path, sandbox: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLOP_CONFIG_DIR": str(config_dir), "PYTHONPATH": str(PROJECT)}
    if not sandbox:
        env["SLOP_BWRAP"] = ""
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if p and not os.path.exists(os.path.join(p, "bwrap"))
        )
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    repo = copy_sample_repo(tmp_path / "repo")
    config_dir = write_config(tmp_path / "config", scaled_scenario(tmp_path, 0.0))
    return repo, config_dir


@pytest.mark.parametrize(
    "command",
    [
        ["run", DEMO_PROMPT, "--yes"],
        ["resume", "--yes"],
        ["ticket", "--id", "t1", "do it", "--yes"],
    ],
)
def test_yes_without_a_sandbox_is_refused_in_one_line_naming_the_fix(
    setup: tuple[Path, Path], command: list[str]
) -> None:
    repo, config_dir = setup
    done = slop(*command, "--repo", str(repo), config_dir=config_dir)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "--yes refused: commands cannot run in an OS sandbox here" in lines[0]
    assert "[run] allow_unsandboxed = true" in lines[0] and str(config_dir / "agents.toml") in lines[0]
    assert not (repo / ".slop").exists()  # refused before anything was touched


def test_the_users_allow_unsandboxed_lets_yes_run(setup: tuple[Path, Path]) -> None:
    repo, config_dir = setup
    with open(config_dir / "agents.toml", "a") as handle:
        handle.write("[run]\nallow_unsandboxed = true\n")
    done = slop("run", DEMO_PROMPT, "--yes", "--repo", str(repo), config_dir=config_dir)
    assert "--yes refused" not in done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    # Said once, at the start, with the reason.
    assert done.stderr.count("slop: warning: commands run unsandboxed (with your powers): ") == 1


def test_a_repository_cannot_allow_unsandboxed(setup: tuple[Path, Path]) -> None:
    repo, config_dir = setup
    (repo / ".slop.toml").write_text("[run]\nallow_unsandboxed = true\n")
    done = slop("run", DEMO_PROMPT, "--yes", "--repo", str(repo), config_dir=config_dir)
    assert done.returncode == 2
    assert "a repository's .slop.toml may not set this" in done.stderr
