"""UI test setup: snapshot files live in the top-level `snapshots/` folder, and no test ever
reads or writes the person's real config (the theme choice goes to a temporary folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from textual.widgets import Input, TextArea
from syrupy.location import PyTestLocation

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots"


class TopLevelSVGExtension(pytest_textual_snapshot.SVGImageExtension):
    """`snapshots/<test file>/<test name>.svg` instead of `tests/ui/__snapshots__/...`."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SNAPSHOTS / test_location.basename)


@pytest.fixture(autouse=True)
def _snapshots_at_top_level(monkeypatch: pytest.MonkeyPatch) -> None:
    # `snap_compare` looks the extension up by this module-level name on every call.
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", TopLevelSVGExtension)


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path_factory.mktemp("slop-config")
    monkeypatch.setenv("SLOP_CONFIG_DIR", str(config))
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return config


@pytest.fixture(autouse=True)
def _steady_cursors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A focused input's cursor stays shown: it blinks every 0.5 s, so a snapshot taken later
    than that on a loaded machine caught it hidden (two budget snapshots failed so in CI)."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)


def pytest_configure(config: Any) -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
