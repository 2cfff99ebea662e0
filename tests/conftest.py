"""Suite-wide test settings."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _slop_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slop-cache")


@pytest.fixture(autouse=True)
def _private_slop_cache(_slop_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository map's tag cache goes to a temporary folder, never the user's cache
    folder (`SLOP_CACHE_DIR`, read by `slop_tui.memory.map_cache`; subprocesses inherit it)."""
    monkeypatch.setenv("SLOP_CACHE_DIR", str(_slop_cache_dir))
