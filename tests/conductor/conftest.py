from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conductor.demo import VENV_BIN


@pytest.fixture(scope="session", autouse=True)
def python_on_path() -> Iterator[None]:
    """The scenario's commands say `python`: make it the interpreter running the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        yield
