from __future__ import annotations

from collections.abc import Iterator

import pytest

from slop_tui.testing import LLMServer
from tests.providers.helpers import KEY


@pytest.fixture
def srv() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as server:
        yield server
