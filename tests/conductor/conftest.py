from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from tests.conductor.demo import VENV_BIN, DemoRun, demo_setup, run_demo


@pytest.fixture(scope="session", autouse=True)
def python_on_path() -> Iterator[None]:
    """The scenario's commands say `python`: make it the interpreter running the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        yield


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo run to the end once (latencies removed); tests copy its repository."""
    repo, _, config = demo_setup(tmp_path_factory.mktemp("demo"))
    return asyncio.run(run_demo(repo, config))
