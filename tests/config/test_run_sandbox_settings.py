"""`[run] network`, `allow_unsandboxed` and `env` in the user's own config; keys with a control
character refused at load naming where they came from, never the value; and `Config.secrets`,
the values masked everywhere (used, shadowed and refused keys, secret-looking variables)."""

from __future__ import annotations

import pytest

from slop_tui.config import ConfigError, RunSettings, load_config
from slop_tui.models import Tier, looks_secret, secret_forms
from tests.config.helpers import ALL_KEYS, Setup


def test_defaults_are_network_off_sandbox_required_no_env() -> None:
    run = RunSettings()
    assert (run.network, run.allow_unsandboxed, run.env) == ("off", False, {})


def test_the_user_sets_network_allow_unsandboxed_and_env(setup: Setup) -> None:
    setup.agents('[run]\nnetwork = "on"\nallow_unsandboxed = true\n[run.env]\nPIP_INDEX_URL = "http://127.0.0.1:1/"\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    assert config.run.network == "on"
    assert config.run.allow_unsandboxed is True
    assert config.run.env == {"PIP_INDEX_URL": "http://127.0.0.1:1/"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('network = "yes"', "must be \"off\" or \"on\", not 'yes'"),
        ("network = true", 'must be "off" or "on", not a boolean'),
        ('allow_unsandboxed = "true"', "must be true or false, not a string"),
        ('env = "LD_PRELOAD=x"', "must be a table"),
        ('env = { "1BAD" = "x" }', "not an environment variable name"),
        ("env = { X = 1 }", "must be a string, not an integer"),
    ],
)
def test_bad_user_values_are_one_line_errors_naming_the_key(setup: Setup, body: str, expected: str) -> None:
    setup.agents(f"[run]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env(**ALL_KEYS))
    message = str(caught.value)
    assert "agents.toml:2: run." in message and expected in message and "\n" not in message


@pytest.mark.parametrize("bad", ["\n", "\r", "\x1b"])
def test_an_environment_key_with_a_control_character_is_refused_naming_the_variable(
    setup: Setup, bad: str
) -> None:
    key = f"sk-proj-abcdef{bad}0123456789"
    config = load_config(setup.repo, env=setup.env(**{**ALL_KEYS, "OPENAI_API_KEY": key}))
    assert "openai" not in config.keys  # never handed to an SDK, so never quoted by httpx
    setup.agents('[models]\ndefault_cheap = "openai:gpt-4o-mini"\n')
    config = load_config(setup.repo, env=setup.env(**{**ALL_KEYS, "OPENAI_API_KEY": key}))
    with pytest.raises(ConfigError) as caught:
        config.model_for(Tier.DEFAULT_CHEAP)
    message = str(caught.value)
    assert "$OPENAI_API_KEY" in message and "control character" in message
    assert "sk-proj" not in message and "0123456789" not in message and "\n" not in message


def test_a_credentials_key_with_a_newline_is_refused_naming_the_file(setup: Setup) -> None:
    setup.credentials('[openai]\napi_key = "sk-proj-abcdef\\n0123456789"\n')
    config = load_config(setup.repo, env=setup.env())
    with pytest.raises(ConfigError) as caught:
        config.model_for(Tier.DEFAULT_CHEAP)
    message = str(caught.value)
    assert "credentials.toml:2: [openai] api_key" in message and "U+000A" in message
    assert "sk-proj" not in message and "0123456789" not in message


def test_secrets_hold_shadowed_and_refused_keys_and_secret_looking_variables(setup: Setup) -> None:
    setup.agents('[providers.mine]\nkind = "openai"\nbase_url = "http://127.0.0.1:1"\nkey_env = "MY_LLM"\n')
    setup.credentials('[openai]\napi_key = "sk-from-the-credentials-file-01"\n')
    env = setup.env(
        OPENAI_API_KEY="sk-shadowed-by-the-credentials-02",  # shadowed: never used, still masked
        MY_LLM="custom-name-key-03-abcdef",  # a key_env whose name does not look secret
        ANTHROPIC_API_KEY="sk-ant-bad\ncharacter-04",  # refused for its newline, still masked
        MY_CUSTOM_TOKEN="not-configured-token-05",
        AWS_SECRET_ACCESS_KEY="aws-value-06-abcdef",
        GH_TOKEN="ghp_value07abcdef",
        SHORT_TOKEN="short",  # under 8 characters: not a key
        EDITOR="vim-is-not-a-secret",
    )
    config = load_config(setup.repo, env=env)
    values = {secret.reveal() for secret in config.secrets(env)}
    for number in ("01", "02", "03", "04", "05", "06", "07"):
        assert any(number in value for value in values), number
    assert "short" not in values and "vim-is-not-a-secret" not in values
    assert "sk-shadowed-by-the-credentials-02" not in str(config.secrets(env))  # Secret masks repr


def test_secret_names_and_forms() -> None:
    for name in ("OPENAI_API_KEY", "MY_CUSTOM_TOKEN", "DB_PASSWORD", "X_SECRET", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "GITHUB_TOKEN", "GH_TOKEN", "HF_TOKEN", "gemini_api_key"):
        assert looks_secret(name), name
    for name in ("PATH", "HOME", "KEYBOARD", "TOKENIZERS_PARALLELISM", "EDITOR",
                 # AWS settings, not secrets: a region in every log line must stay readable.
                 "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "aws_config_file"):
        assert not looks_secret(name), name
    forms = secret_forms('sk-a"b\\c/d+e f\n')
    assert 'sk-a"b\\c/d+e f\n' in forms
    assert 'sk-a\\"b\\\\c/d+e f\\n' in forms  # JSON
    assert "sk-a\"b\\\\c/d+e f\\n" in forms  # repr
    assert "sk-a%22b%5Cc%2Fd%2Be%20f%0A" in forms  # URL path, nothing safe
    assert "sk-a%22b%5Cc%2Fd%2Be+f%0A" in forms  # URL query
    assert secret_forms("short") == []
