"""`slop resume` with nobody to answer the clutch (issue 19): refused like `slop run`, before
the lock, a restored file or a model call; with answers piped in it is not refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slop_tui.store import Store
from tests.conductor.demo import DemoRun, tree


def slop(*args: str, config_dir: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "slop_tui", *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config_dir)}, **kwargs,
    )


@pytest.fixture
def resumable(tmp_path: Path, demo: DemoRun) -> tuple[Path, Path]:
    """The finished demo run with one ticket undone: `slop resume` has a ticket to run again."""
    repo = Path(shutil.copytree(demo.repo, tmp_path / "repo"))
    config_dir = Path(demo.config.config_dir)
    undone = slop("undo", "test-config", "--repo", str(repo), config_dir=config_dir, stdin=subprocess.DEVNULL)
    assert undone.returncode == 0, undone.stderr
    return repo, config_dir


@pytest.mark.parametrize("stdin", ["devnull", "closed pipe"])
def test_resume_without_yes_and_nobody_to_answer_does_nothing(resumable: tuple[Path, Path], stdin: str) -> None:
    repo, config_dir = resumable
    before_tree, before_events = tree(repo), len(Store(repo).events())
    feed: dict[str, object] = {"stdin": subprocess.DEVNULL} if stdin == "devnull" else {"input": ""}
    done = slop("resume", "--repo", str(repo), config_dir=config_dir, **feed)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nobody can answer the clutch" in done.stderr and "--yes" in done.stderr
    assert "plan review" not in done.stderr  # a resume has no plan to review
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert tree(repo) == before_tree and len(Store(repo).events()) == before_events


def test_resume_with_answers_piped_in_is_not_refused(resumable: tuple[Path, Path]) -> None:
    # A pipe with lines in it can answer: the check must not refuse it (the run itself may then
    # fail for want of enough answers, which is not this check's business).
    repo, config_dir = resumable
    done = slop("resume", "--repo", str(repo), config_dir=config_dir, input="y\n" * 50)
    assert "nobody can answer" not in done.stderr
