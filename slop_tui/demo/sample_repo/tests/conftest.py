"""Every test starts from a clean environment: no PENNY_* variable leaks in or out."""

import os

import pytest


@pytest.fixture(autouse=True)
def clean_environment(tmp_path):
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("PENNY_"):
            del os.environ[name]
    os.environ["PENNY_DATA_DIR"] = str(tmp_path / "data")
    yield
    os.environ.clear()
    os.environ.update(saved)
