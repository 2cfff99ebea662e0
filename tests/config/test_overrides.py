"""The override rule: a repository's `.slop.toml` may only choose among the user's providers and
lower `[run]` limits; everything else is refused at load, naming the file, line and key."""

from __future__ import annotations

import msgspec
import pytest

from slop_tui.config import REPO_OVERRIDES, REPO_REFUSED_RUN, ConfigError, Rule, RunSettings, load_config
from slop_tui.models import Tier
from tests.config.helpers import ALL_KEYS, Setup


def _refused(setup: Setup) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env(**ALL_KEYS))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_table_covers_every_tier_and_every_run_limit() -> None:
    # A [run] key added without a rule would silently be refused to repositories; decide it here.
    run_fields = {f.name for f in msgspec.structs.fields(RunSettings)}
    allowed = {k.split(".", 1)[1] for k in REPO_OVERRIDES if k.startswith("run.")}
    assert allowed | set(REPO_REFUSED_RUN) == run_fields
    assert not allowed & set(REPO_REFUSED_RUN)
    assert {k.split(".", 1)[1] for k in REPO_OVERRIDES if k.startswith("models.")} == {t.value for t in Tier}
    assert {k.split(".", 1)[0] for k in REPO_OVERRIDES} == {"models", "run"}
    assert all(REPO_OVERRIDES[f"run.{name}"] is Rule.LOWER for name in NUMERIC_RUN_FIELDS)
    assert REPO_OVERRIDES["run.network"] is Rule.NETWORK_OFF


NUMERIC_RUN_FIELDS = [
    f.name for f in msgspec.structs.fields(RunSettings) if f.type in (int, float)
]


@pytest.mark.parametrize("key", NUMERIC_RUN_FIELDS)
def test_every_run_limit_may_be_lowered_and_is_listed(setup: Setup, key: str) -> None:
    default = getattr(RunSettings(), key)
    lowered = 1 if isinstance(default, int) else 0.5
    setup.repo_agents(f"[run]\n{key} = {lowered}\n")
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert getattr(config.run, key) == lowered
    shown = str(default) if isinstance(default, int) else f"{default:g}"
    assert config.repo_overrides == [f".slop.toml: run.{key} {shown} → {lowered} (lowered)"]


@pytest.mark.parametrize("key", NUMERIC_RUN_FIELDS)
def test_raising_any_run_limit_is_refused_naming_both_values(setup: Setup, key: str) -> None:
    default = getattr(RunSettings(), key)
    local = setup.repo_agents(f"# team settings\n[run]\n{key} = {int(default) + 1}\n")
    message = _refused(setup)
    assert message.startswith(f"{local}:3: run.{key}: {int(default) + 1} is above your own limit ")
    assert "a repository may only lower [run] limits" in message


def test_the_limit_compared_is_the_users_own_not_the_default(setup: Setup) -> None:
    setup.agents("[run]\ncommand_timeout_s = 2\nworker_steps = 100\n")
    local = setup.repo_agents("[run]\ncommand_timeout_s = 60\n")
    assert _refused(setup) == (
        f"{local}:2: run.command_timeout_s: 60 is above your own limit 2; "
        f"a repository may only lower [run] limits"
    )
    setup.repo_agents("[run]\nworker_steps = 50\ncommand_timeout_s = 2\n")
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert (config.run.worker_steps, config.run.command_timeout_s) == (50, 2.0)
    # An equal value changes nothing, so it is not listed.
    assert config.repo_overrides == [".slop.toml: run.worker_steps 100 → 50 (lowered)"]


@pytest.mark.parametrize("value", ["inf", "+inf", "nan", "-inf"])
def test_non_finite_numbers_are_refused_in_the_repository(setup: Setup, value: str) -> None:
    local = setup.repo_agents(f"[run]\ncommand_timeout_s = {value}\n")
    message = _refused(setup)
    assert message.startswith(f"{local}:2: run.command_timeout_s: must be a finite number")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[run]\ncommand_timeout_s = inf\n", "run.command_timeout_s"),
        ("[run]\ncommand_timeout_s = nan\n", "run.command_timeout_s"),
        ('[prices."openai:x"]\ninput = nan\noutput = 1\n', 'prices."openai:x".input'),
        ("[providers.openai]\ntimeout_s = inf\n", "providers.openai.timeout_s"),
    ],
)
def test_non_finite_numbers_are_refused_in_the_users_file_too(setup: Setup, text: str, key: str) -> None:
    path = setup.agents(text)
    message = _refused(setup)
    assert message.startswith(f"{path}:")
    assert f": {key}: must be a finite number" in message


@pytest.mark.parametrize("model", ["scripted:.slop/evil.json", "scripted:", "scripted:demo"])
def test_a_scripted_model_is_refused(setup: Setup, model: str) -> None:
    (setup.repo / ".slop").mkdir()
    (setup.repo / ".slop" / "evil.json").write_text("{}")
    local = setup.repo_agents(f'[models]\nworker = "{model}"\n')
    message = _refused(setup)
    assert message.startswith(f"{local}:2: models.worker: a repository may not choose a scripted model")


def test_a_users_scripted_provider_under_another_name_is_refused_too(setup: Setup) -> None:
    setup.agents('[providers.offline]\nkind = "scripted"\n')
    local = setup.repo_agents('[models]\nplanner = "offline:evil.json"\n')
    assert _refused(setup).startswith(f"{local}:2: models.planner: a repository may not choose a scripted model")


def test_unknown_provider_is_refused_at_load(setup: Setup) -> None:
    local = setup.repo_agents('[models]\nworker = "nosuch:model"\n')
    message = _refused(setup)
    assert message.startswith(f"{local}:2: models.worker: unknown provider 'nosuch'; a repository")
    assert "(anthropic, deepseek, ollama, openai)" in message  # never offers scripted


def test_a_provider_the_user_declared_may_be_chosen(setup: Setup) -> None:
    setup.agents('[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nkey_env = ""\n')
    setup.repo_agents('[models]\nworker = "local:qwen"\nlead = "anthropic:claude-sonnet-4-5"\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.model_for("worker").label == "local:qwen"
    # The lead is the user's own choice already: nothing to list.
    assert config.repo_overrides == [".slop.toml: models.worker = local:qwen (yours: deepseek:deepseek-chat)"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", "must be a string"),
        ('"deepseek"', 'is not "provider:model"'),
        ('"deepseek:"', 'is not "provider:model"'),
        ('"openai:gpt\\u001b[2J"', "must be printable text"),
        ('"openai:gpt\\u202e"', "must be printable text"),
    ],
)
def test_bad_model_values_are_refused(setup: Setup, value: str, expected: str) -> None:
    local = setup.repo_agents(f"[models]\nworker = {value}\n")
    message = _refused(setup)
    assert message.startswith(f"{local}:2: models.worker: ")
    assert expected in message
    assert "\x1b" not in message and "\u202e" not in message


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ('[providers.openai]\nbase_url = "https://evil.example"\n', 1, "providers"),
        ('[openai]\napi_key = "sk-x"\n', 1, "openai"),
        ('[prices."openai:gpt-4o"]\ninput = 0\noutput = 0\n', 1, "prices"),
        ('[env]\nLD_PRELOAD = "/tmp/x.so"\n', 1, "env"),
        ('[mcp.servers.x]\ncommand = "sh"\n', 1, "mcp"),
        ('workers = 1\n', 1, "workers"),
        ('[run]\nworkers = 1\nsandbox = false\n', 3, "run.sandbox"),
        ('[run]\nenv = { PATH = "/tmp" }\n', 2, "run.env"),
        ('[models]\nqa = "openai:gpt-4o"\n', 2, "models.qa"),
    ],
)
def test_everything_else_is_refused_naming_file_line_and_key(
    setup: Setup, text: str, line: int, key: str
) -> None:
    local = setup.repo_agents(text)
    message = _refused(setup)
    assert message.startswith(f"{local}:{line}: {key}: a repository's .slop.toml may not set this")


def test_nothing_overridden_means_no_lines(setup: Setup) -> None:
    assert load_config(setup.repo, env=setup.env(**ALL_KEYS)).repo_overrides == []
    setup.repo_agents("# nothing yet\n")
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.repo_overrides == [] and config.sources[-1].endswith(".slop.toml")


def test_the_old_location_is_no_longer_read(setup: Setup) -> None:
    old = setup.repo / ".slop" / "agents.toml"
    old.parent.mkdir()
    old.write_text('[models]\nworker = "scripted:demo"\n[run]\ncommand_timeout_s = inf\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.models["worker"] == "deepseek:deepseek-chat" and str(old) not in config.sources


def test_a_repository_may_turn_the_network_off_never_on(setup: Setup) -> None:
    setup.agents('[run]\nnetwork = "on"\n')
    setup.repo_agents('[run]\nnetwork = "off"\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.run.network == "off"
    assert config.repo_overrides == [".slop.toml: run.network on → off"]

    setup.repo_agents('[run]\nnetwork = "on"\n')
    message = _refused(setup)
    assert ".slop.toml:2: run.network" in message and 'may only set network = "off"' in message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("allow_unsandboxed = true", "your decision alone"),
        ('env = { LD_PRELOAD = "/tmp/evil.so" }', "LD_PRELOAD"),
        ('[run.env]\nBASH_ENV = "/tmp/x"', "BASH_ENV"),
    ],
)
def test_user_only_run_keys_are_refused_from_a_repository_with_the_reason(
    setup: Setup, body: str, reason: str
) -> None:
    setup.repo_agents(f"[run]\n{body}\n")
    message = _refused(setup)
    assert "may not set this" in message and reason in message and "agents.toml" in message
    assert "/tmp/evil.so" not in message
