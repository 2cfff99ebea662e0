"""Importing slop_tui (and making providers) must not import a provider SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert names, "importtime printed nothing"
    return {name.split(".")[0] for name in names}


def test_cli_import_loads_no_sdk() -> None:
    top = imported_modules("import slop_tui.cli")
    assert "slop_tui" in top
    assert "anthropic" not in top and "openai" not in top


def test_providers_and_testing_packages_load_no_sdk_until_a_call() -> None:
    code = (
        "import slop_tui.providers, slop_tui.testing\n"
        "from slop_tui.config import ModelSpec, ProviderSpec\n"
        "from slop_tui.models import Tier\n"
        "from slop_tui.providers import make_provider\n"
        "for kind in ('openai', 'anthropic'):\n"
        "    make_provider(ModelSpec(tier=Tier.WORKER, provider=ProviderSpec(name=kind, kind=kind), model='m'))\n"
    )
    top = imported_modules(code)
    assert "anthropic" not in top and "openai" not in top and "httpx2" not in top


def test_the_check_itself_sees_an_sdk_import() -> None:
    # Guards the test above against passing because the parsing found nothing.
    assert "openai" in imported_modules("import slop_tui.providers.openai_compat, openai")
