"""`slop doctor` names the `bwrap` commands run under, its version and the self-test's result;
where there is none, it says so with the fix and what that means for the clutch and `--yes`."""

from __future__ import annotations

import pytest

from slop_tui import sandbox
from tests.config.helpers import ALL_KEYS, Setup


@pytest.mark.skipif(not sandbox.detect().available, reason="no working bwrap here")
def test_doctor_prints_the_bwrap_its_version_and_a_passing_self_test(setup: Setup) -> None:
    done = setup.doctor(keys=ALL_KEYS)
    info = sandbox.detect()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "sandbox" in out
    assert f"bwrap              {info.bwrap} ({info.version}" in out
    assert "network            off ([run] network)" in out
    assert "self-test          ok: namespaces created, network off, home hidden" in out


def test_doctor_without_a_sandbox_says_so_and_what_it_means(setup: Setup) -> None:
    done = setup.doctor(keys={**ALL_KEYS, "SLOP_BWRAP": ""})
    out = done.stdout
    assert done.returncode == 0, out + done.stderr  # every tier can still run, asking per command
    assert "  unavailable: " in out
    assert "marked unsandboxed at the clutch, and --yes is refused" in out
    assert "self-test" not in out


def test_doctor_without_a_sandbox_notes_the_users_allow(setup: Setup) -> None:
    setup.agents("[run]\nallow_unsandboxed = true\n")
    done = setup.doctor(keys={**ALL_KEYS, "SLOP_BWRAP": ""})
    assert "commands run unsandboxed ([run] allow_unsandboxed = true in your config)" in done.stdout
