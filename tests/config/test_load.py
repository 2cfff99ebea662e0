"""agents.toml: defaults, the user's file, the repository's overrides, and every refusal."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from slop_tui.config import (
    BUILTIN_PROVIDERS,
    DEFAULT_MODELS,
    ConfigError,
    PriceSpec,
    RunSettings,
    config_dir,
    load_config,
)
from slop_tui.models import Tier
from tests.config.helpers import ALL_KEYS, Setup


def test_config_dir_is_slop_config_dir_when_set(tmp_path: Path) -> None:
    assert config_dir({"SLOP_CONFIG_DIR": str(tmp_path)}) == tmp_path


def test_config_dir_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_dir({"SLOP_CONFIG_DIR": "~/slopcfg"}) == tmp_path / "slopcfg"


def test_config_dir_defaults_to_platformdirs() -> None:
    expected = Path(platformdirs.user_config_dir("slop-tui"))
    assert config_dir({}) == expected
    assert config_dir({"SLOP_CONFIG_DIR": "  "}) == expected


def test_no_files_gives_defaults_for_every_tier(setup: Setup) -> None:
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.models == DEFAULT_MODELS
    assert set(config.models) == {t.value for t in Tier}
    assert config.sources == []
    assert config.run == RunSettings()
    assert set(config.providers) == {"anthropic", "openai", "deepseek", "ollama", "scripted"}
    for tier in Tier:
        spec = config.model_for(tier)
        assert spec.label == DEFAULT_MODELS[tier.value]
        assert spec.api_key is not None
    assert config.model_for("worker").provider.base_url == "https://api.deepseek.com"


def test_user_file_sets_models_run_providers_and_prices(setup: Setup) -> None:
    path = setup.agents(
        """
[models]
planner = "openai:gpt-4.1"

[run]
workers = 2
command_timeout_s = 5

[providers.deepseek]
max_retries = 5
timeout_s = 12.5

[prices."openai:gpt-4.1"]
input = 2
output = 8
"""
    )
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.sources == [str(path)]
    assert config.models["planner"] == "openai:gpt-4.1"
    assert config.models["worker"] == DEFAULT_MODELS["worker"]
    assert config.run == RunSettings(workers=2, command_timeout_s=5.0)
    deepseek = config.providers["deepseek"]
    # Overridden per key: the built-in base_url and key_env stay.
    assert (deepseek.max_retries, deepseek.timeout_s) == (5, 12.5)
    assert deepseek.base_url == "https://api.deepseek.com"
    assert deepseek.key_env == "DEEPSEEK_API_KEY"
    assert config.model_for(Tier.PLANNER).price == PriceSpec(input=2.0, output=8.0)
    # The built-in table is untouched by one load's overrides.
    assert BUILTIN_PROVIDERS["deepseek"].max_retries == 2


def test_repository_overrides_models_and_run_per_key(setup: Setup) -> None:
    setup.agents('[models]\nplanner = "openai:gpt-4.1"\nworker = "openai:gpt-4.1-mini"\n[run]\nworkers = 2\nworker_steps = 9\n')
    local = setup.repo_agents('[models]\nworker = "ollama:qwen2.5-coder:7b"\n[run]\nworkers = 1\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.sources[-1] == str(local)
    assert config.models["planner"] == "openai:gpt-4.1"  # the user's, untouched
    assert config.models["worker"] == "ollama:qwen2.5-coder:7b"  # the repository's
    assert config.run.workers == 1 and config.run.worker_steps == 9
    worker = config.model_for("worker")
    # Split at the first colon only: Ollama model names have colons of their own.
    assert worker.model == "qwen2.5-coder:7b"
    assert worker.provider.kind == "openai"
    assert worker.provider.base_url == "http://localhost:11434/v1"
    assert worker.api_key is None  # ollama needs no key
    assert config.repo_overrides == [
        f".slop.toml: models.worker = ollama:qwen2.5-coder:7b (yours: openai:gpt-4.1-mini)",
        ".slop.toml: run.workers 2 → 1 (lowered)",
    ]


def test_repository_file_is_ignored_without_a_repo(setup: Setup) -> None:
    setup.repo_agents('[models]\nworker = "ollama:x"\n')
    assert load_config(None, env=setup.env()).models["worker"] == DEFAULT_MODELS["worker"]


def test_repository_providers_table_is_refused(setup: Setup) -> None:
    local = setup.repo_agents(
        '[models]\nworker = "openai:gpt-4o"\n\n[providers.openai]\nbase_url = "https://evil.example"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env(**ALL_KEYS))
    message = str(caught.value)
    assert message.startswith(f"{local}:4: providers: a repository's .slop.toml may not set this")
    assert "cannot send your key" in message


@pytest.mark.parametrize("table", ["prices", "credentials", "openai"])
def test_repository_other_tables_are_refused(setup: Setup, table: str) -> None:
    local = setup.repo_agents(f"[{table}]\nx = 1\n")
    with pytest.raises(ConfigError, match="may not set this") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{local}:1: {table}:")


def test_bad_toml_names_file_and_line(setup: Setup) -> None:
    path = setup.agents('[models]\nplanner = "openai:gpt-4o"\nworker = \n')
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:3: not valid TOML: Invalid value (column")


def test_bad_toml_in_repository_file(setup: Setup) -> None:
    local = setup.repo_agents("[models\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{local}:1:")


def test_file_that_is_not_utf8(setup: Setup) -> None:
    (setup.config / "agents.toml").write_bytes(b"[models]\nplanner = \"\xff\"\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(setup.repo, env=setup.env())


def test_unknown_top_level_table_is_refused(setup: Setup) -> None:
    path = setup.agents('[models]\nplanner = "openai:gpt-4o"\n\n[modles]\nworker = "x:y"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:4: modles: unknown top-level key")


def test_top_level_run_key_gets_a_hint(setup: Setup) -> None:
    path = setup.agents("workers = 3\n")
    with pytest.raises(ConfigError, match=r"did you mean workers under \[run\]") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:1: workers:")


def test_unknown_run_key_is_refused(setup: Setup) -> None:
    path = setup.agents("[run]\nworkers = 2\nwrokers = 3\n")
    with pytest.raises(ConfigError, match="unknown key") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:3: run.wrokers:")


def test_unknown_run_key_in_repository_is_refused(setup: Setup) -> None:
    local = setup.repo_agents("[run]\ncommand_timeout = 3\n")
    with pytest.raises(ConfigError, match="may not set this") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{local}:2: run.command_timeout:")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('workers = "four"', "must be an integer, not a string"),
        ("workers = 2.5", "must be an integer, not a number"),
        ("workers = true", "must be an integer, not a boolean"),
        ("workers = 0", "must be at least 1"),
        ("plan_retries = -1", "must be at least 0"),
        ("command_timeout_s = 0", "must be more than 0"),
        ('command_timeout_s = "slow"', "must be a number, not a string"),
    ],
)
def test_bad_run_values_name_the_key_not_the_value(setup: Setup, line: str, expected: str) -> None:
    path = setup.agents(f"[run]\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env())
    message = str(caught.value)
    key = line.split(" = ")[0]
    assert message == f"{path}:2: run.{key}: {expected}"


def test_dotted_keys_still_get_a_line(setup: Setup) -> None:
    path = setup.agents('run.workers = 2\nrun.worker_steps = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:2: run.worker_steps:")


def test_unknown_tier_is_refused(setup: Setup) -> None:
    path = setup.agents('[models]\nplaner = "openai:gpt-4o"\n')
    with pytest.raises(ConfigError, match="unknown tier") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:2: models.planer:")


def test_model_must_be_a_string(setup: Setup) -> None:
    path = setup.agents("[models]\nworker = 3\n")
    with pytest.raises(ConfigError, match="must be a string") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:2: models.worker:")


def test_unknown_provider_names_file_line_and_key(setup: Setup) -> None:
    local = setup.agents('# mine\n[models]\nlead = "antropic:claude-sonnet-4-5"\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    with pytest.raises(ConfigError) as caught:
        config.model_for("lead")
    message = str(caught.value)
    assert message.startswith(f"{local}:3: models.lead: unknown provider 'antropic'")
    assert "anthropic, deepseek, ollama, openai, scripted" in message
    # The other tiers are unaffected: doctor reports tier by tier.
    assert config.model_for("planner").label == DEFAULT_MODELS["planner"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('""', "tier 'worker' has no model"),
        ('"  "', "tier 'worker' has no model"),
        ('"deepseek-chat"', "is not \"provider:model\""),
        ('"deepseek:"', "names provider 'deepseek' but no model"),
    ],
)
def test_tier_without_a_model(setup: Setup, value: str, expected: str) -> None:
    path = setup.agents(f"[models]\nworker = {value}\n")
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    with pytest.raises(ConfigError, match=expected) as caught:
        config.model_for(Tier.WORKER)
    assert str(caught.value).startswith(f"{path}:2: models.worker:")


def test_unknown_tier_name_in_model_for(setup: Setup) -> None:
    config = load_config(setup.repo, env=setup.env())
    with pytest.raises(ConfigError, match="unknown tier 'qa'"):
        config.model_for("qa")


def test_user_declared_provider(setup: Setup) -> None:
    setup.agents(
        """
[models]
worker = "local:my-model"
lead = "router:some/model"

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1/"

[providers.router]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
key_env = "OPENROUTER_API_KEY"
max_retries = 0
"""
    )
    config = load_config(setup.repo, env=setup.env(OPENROUTER_API_KEY="or-0123456789"))
    worker = config.model_for("worker")
    assert worker.provider.base_url == "http://127.0.0.1:8000/v1/"  # handed over as it is
    assert worker.api_key is None  # no key_env, no credentials: no key needed
    lead = config.model_for("lead")
    assert lead.model == "some/model"
    assert lead.api_key is not None and lead.api_key.reveal() == "or-0123456789"
    assert lead.provider.max_retries == 0
    assert config.key_sources["router"] == "$OPENROUTER_API_KEY"


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('base_url = "http://x"', "providers.new", "a new provider needs kind"),
        ('kind = "gemini"', "providers.new.kind", "must be one of 'openai', 'anthropic', 'scripted'"),
        ('kind = "openai"\nbase_url = "localhost:8000"', "providers.new.base_url", "http:// or https://"),
        ('kind = "openai"\nkey_env = "MY KEY"', "providers.new.key_env", "environment variable name"),
        ('kind = "openai"\nmax_retries = -1', "providers.new.max_retries", "at least 0"),
        ('kind = "openai"\ntimeout_s = 0', "providers.new.timeout_s", "more than 0"),
        ('kind = "openai"\nbaseurl = "http://x"', "providers.new.baseurl", "unknown key"),
    ],
)
def test_bad_provider_declarations(setup: Setup, body: str, key: str, expected: str) -> None:
    path = setup.agents(f"[providers.new]\n{body}\n")
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:")
    assert f": {key}:" in str(caught.value)


def test_provider_name_with_a_colon_is_refused(setup: Setup) -> None:
    path = setup.agents('[providers."a:b"]\nkind = "openai"\n')
    with pytest.raises(ConfigError, match="only letters") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f'{path}:1: providers."a:b":')


def test_api_key_in_agents_toml_is_refused_without_echoing_it(setup: Setup) -> None:
    secret = "sk-do-not-print-me-0123456789"
    path = setup.agents(f'[providers.openai]\napi_key = "{secret}"\n')
    with pytest.raises(ConfigError, match="credentials.toml") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:2: providers.openai.api_key:")
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)


def test_user_may_drop_key_env_of_a_builtin(setup: Setup) -> None:
    # A local proxy that speaks the OpenAI API needs no key.
    setup.agents('[providers.openai]\nbase_url = "http://127.0.0.1:9/v1"\nkey_env = ""\n')
    spec = load_config(setup.repo, env=setup.env()).model_for("default_cheap")
    assert spec.api_key is None and spec.provider.key_env is None


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[prices."openai:x"]\ninput = 1\n', 'prices."openai:x"', "missing output"),
        ('[prices."openai:x"]\ninput = 1\noutput = -2\n', 'prices."openai:x".output', "at least 0"),
        ('[prices."openai:x"]\ninput = 1\noutput = 2\ncached = 1\n', 'prices."openai:x".cached', "unknown key"),
        ("[prices.gpt]\ninput = 1\noutput = 2\n", "prices.gpt", '"provider:model"'),
    ],
)
def test_bad_prices(setup: Setup, text: str, key: str, expected: str) -> None:
    path = setup.agents(text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:")
    assert f": {key}:" in str(caught.value)


def test_default_prices_reach_the_model_spec(setup: Setup) -> None:
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.model_for("default_cheap").price == config.prices["openai:gpt-4o-mini"]
    # Each load has its own copies: changing one config changes no other.
    config.prices["openai:gpt-4o-mini"].input = 99.0
    config.providers["openai"].timeout_s = 1.0
    fresh = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert fresh.prices["openai:gpt-4o-mini"].input == 0.15
    assert fresh.providers["openai"].timeout_s == 60.0
    setup.agents('[models]\nworker = "openai:unpriced-model"\n')
    assert load_config(setup.repo, env=setup.env(**ALL_KEYS)).model_for("worker").price is None


def test_scripted_scenario_relative_to_the_repository(setup: Setup) -> None:
    scenario = setup.repo / "scenarios" / "one.json"
    scenario.parent.mkdir()
    scenario.write_text("{}")
    setup.agents('[models]\nworker = "scripted:scenarios/one.json"\n')
    spec = load_config(setup.repo, env=setup.env()).model_for("worker")
    assert spec.provider.kind == "scripted"
    assert spec.model == str(scenario.resolve())
    assert spec.api_key is None


def test_scripted_scenario_absolute_path(setup: Setup, tmp_path: Path) -> None:
    scenario = tmp_path / "abs.json"
    scenario.write_text("{}")
    setup.agents(f'[models]\nplanner = "scripted:{scenario}"\n')
    assert load_config(setup.repo, env=setup.env()).model_for("planner").model == str(scenario)


def test_scripted_scenario_missing(setup: Setup) -> None:
    local = setup.agents('[models]\nworker = "scripted:nope.json"\n')
    config = load_config(setup.repo, env=setup.env())
    with pytest.raises(ConfigError, match="scenario file not found") as caught:
        config.model_for("worker")
    assert str(caught.value).startswith(f"{local}:2: models.worker:")


@pytest.mark.parametrize("value", ["scripted:", "scripted:demo"])
def test_scripted_demo(setup: Setup, value: str) -> None:
    setup.agents(f'[models]\nplanner = "{value}"\nlead = "{value}"\nworker = "{value}"\ndefault_cheap = "{value}"\n')
    config = load_config(setup.repo, env=setup.env())  # no key anywhere
    for tier in Tier:
        spec = config.model_for(tier)
        assert spec.provider.kind == "scripted" and spec.model == ""


def test_key_env_names_cover_every_provider(setup: Setup) -> None:
    setup.agents('[providers.mine]\nkind = "anthropic"\nbase_url = "https://x.example"\nkey_env = "MINE_KEY"\n'
                 '[providers.openai]\nkey_env = "MY_OPENAI"\n')
    names = load_config(setup.repo, env=setup.env()).key_env_names()
    assert {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY", "MINE_KEY", "MY_OPENAI"} <= names


def test_world_writable_agents_toml_is_a_warning(setup: Setup) -> None:
    path = setup.agents("[run]\nworkers = 2\n")
    path.chmod(0o666)
    config = load_config(setup.repo, env=setup.env())
    assert any(str(path) in w and "chmod 644" in w for w in config.warnings)
    path.chmod(0o644)
    assert load_config(setup.repo, env=setup.env()).warnings == []
