"""The TUI says at the start, once and clearly, when commands will run without the OS sandbox.

Unavailability is real: `SLOP_BWRAP=""` is the detector's own "no bwrap" override.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slop_tui import sandbox
from slop_tui.demo import copy_sample_repo
from slop_tui.ui.launch import build_app
from tests.ui.helpers import wait_for


def _notices(app: object) -> list[str]:
    return [str(n.message) for n in app._notifications]  # type: ignore[attr-defined]


async def test_no_sandbox_is_said_at_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sandbox.BWRAP_ENV, "")
    app = build_app(copy_sample_repo(tmp_path / "repo"), demo=True, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "p")})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: any("UNSANDBOXED" in n for n in _notices(app)), pilot=pilot)
        notice = next(n for n in _notices(app) if "UNSANDBOXED" in n)
        assert "slop doctor" in notice and sandbox.BWRAP_ENV in notice  # the reason names the override


@pytest.mark.skipif(not sandbox.detect().available, reason="bwrap cannot create namespaces here")
async def test_with_a_sandbox_nothing_is_said(tmp_path: Path) -> None:
    app = build_app(copy_sample_repo(tmp_path / "repo"), demo=True, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "p")})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        assert not any("UNSANDBOXED" in n for n in _notices(app))
