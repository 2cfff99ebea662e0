"""`[run] map_tokens`: the budget of Tier 1's overview and Tier 2's map; a repository may only
lower it, below the user's own value, and never to nothing."""

from __future__ import annotations

import pytest

from slop_tui.config import REPO_OVERRIDES, ConfigError, Rule, RunSettings, load_config
from tests.config.helpers import ALL_KEYS, Setup


def test_the_default_is_4096_apart_from_the_workers_budget() -> None:
    settings = RunSettings()
    assert settings.map_tokens == 4096
    assert settings.context_tokens == 12000
    assert REPO_OVERRIDES["run.map_tokens"] is Rule.LOWER


def test_a_repository_may_lower_the_users_own_value_never_raise_it(setup: Setup) -> None:
    setup.agents("[run]\nmap_tokens = 2000\n")
    setup.repo_agents("[run]\nmap_tokens = 1024\n")
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.run.map_tokens == 1024
    assert config.repo_overrides == [".slop.toml: run.map_tokens 2000 → 1024 (lowered)"]

    # Above the user's 2000 though below the default: refused, naming both values.
    local = setup.repo_agents("[run]\nmap_tokens = 3000\n")
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert str(caught.value) == (
        f"{local}:2: run.map_tokens: 3000 is above your own limit 2000; "
        "a repository may only lower [run] limits"
    )


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_a_map_of_nothing_is_refused(setup: Setup, value: str) -> None:
    local = setup.repo_agents(f"[run]\nmap_tokens = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env(**ALL_KEYS))
    message = str(caught.value)
    assert message.startswith(f"{local}:2: run.map_tokens")
    assert "\n" not in message
