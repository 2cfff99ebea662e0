"""Real config folders and repositories in tmp dirs, with `SLOP_CONFIG_DIR` pointed at them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Setup:
    """A user config folder and a repository, both empty until a test writes files."""

    def __init__(self, root: Path) -> None:
        self.config = root / "config"
        self.repo = root / "repo"
        self.home = root / "home"
        for folder in (self.config, self.repo, self.home):
            folder.mkdir()

    def env(self, **keys: str) -> dict[str, str]:
        """A controlled environment: nothing from the caller's keys leaks into a test."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "SLOP_CONFIG_DIR": str(self.config),
            # The project is run from its source tree, installed or not.
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONIOENCODING": "utf-8",
            "LANG": "C.UTF-8",
            **keys,
        }

    def agents(self, text: str) -> Path:
        path = self.config / "agents.toml"
        path.write_text(text)
        path.chmod(0o644)
        return path

    def credentials(self, text: str, mode: int = 0o600) -> Path:
        path = self.config / "credentials.toml"
        path.write_text(text)
        path.chmod(mode)
        return path

    def repo_agents(self, text: str) -> Path:
        """The repository's `.slop.toml`, at its root."""
        path = self.repo / ".slop.toml"
        path.write_text(text)
        return path

    def doctor(
        self, *args: str, keys: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`python -m slop_tui doctor` through the real entry point (from the repository by default)."""
        return subprocess.run(
            [sys.executable, "-m", "slop_tui", "doctor", *args],
            cwd=cwd or self.repo,
            env=self.env(**(keys or {})),
            capture_output=True,
            text=True,
            timeout=60,
        )


ALL_KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdef",
    "OPENAI_API_KEY": "sk-openai-test-0123456789abcdef",
    "DEEPSEEK_API_KEY": "sk-deepseek-test-0123456789abcdef",
}
