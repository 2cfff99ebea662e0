"""credentials.toml and key variables: where keys come from, and that they never show."""

from __future__ import annotations

import msgspec
import pytest

from slop_tui.config import ConfigError, CredentialsPermissionError, load_config
from slop_tui.models import Secret, enc_hook
from tests.config.helpers import ALL_KEYS, Setup

SECRET = "sk-credentials-file-9f8e7d6c5b4a"


def test_key_from_credentials_file(setup: Setup) -> None:
    path = setup.credentials(f'[openai]\napi_key = "{SECRET}"\n')
    config = load_config(setup.repo, env=setup.env())
    spec = config.model_for("default_cheap")
    assert isinstance(spec.api_key, Secret) and spec.api_key.reveal() == SECRET
    assert config.key_sources["openai"] == str(path)
    assert str(path) in config.sources


def test_key_from_the_usual_variables(setup: Setup) -> None:
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    for tier, var in [("planner", "ANTHROPIC_API_KEY"), ("worker", "DEEPSEEK_API_KEY"),
                      ("default_cheap", "OPENAI_API_KEY")]:
        spec = config.model_for(tier)
        assert spec.api_key is not None and spec.api_key.reveal() == ALL_KEYS[var]
        assert config.key_sources[spec.provider.name] == f"${var}"


def test_credentials_file_wins_over_the_environment(setup: Setup) -> None:
    setup.credentials(f'[openai]\napi_key = "{SECRET}"\n')
    spec = load_config(setup.repo, env=setup.env(**ALL_KEYS)).model_for("default_cheap")
    assert spec.api_key is not None and spec.api_key.reveal() == SECRET


def test_missing_key_says_how_to_fix_it(setup: Setup) -> None:
    config = load_config(setup.repo, env=setup.env(OPENAI_API_KEY="  "))
    with pytest.raises(ConfigError) as caught:
        config.model_for("default_cheap")
    message = str(caught.value)
    assert message.startswith("models.default_cheap (built-in default): no API key for provider 'openai'")
    assert "export OPENAI_API_KEY=" in message
    assert f'[openai] api_key = "..." to {setup.config / "credentials.toml"}' in message


def test_custom_key_env_is_read(setup: Setup) -> None:
    setup.agents('[providers.openai]\nkey_env = "WORK_OPENAI_KEY"\n')
    config = load_config(setup.repo, env=setup.env(OPENAI_API_KEY="ignored-0000", WORK_OPENAI_KEY=SECRET))
    spec = config.model_for("default_cheap")
    assert spec.api_key is not None and spec.api_key.reveal() == SECRET


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_credentials_readable_by_others_are_refused(setup: Setup, mode: int) -> None:
    path = setup.credentials(f'[openai]\napi_key = "{SECRET}"\n', mode=mode)
    with pytest.raises(CredentialsPermissionError) as caught:
        load_config(setup.repo, env=setup.env())
    message = str(caught.value)
    assert message == (
        f"{path}: readable by group or others (mode {mode:04o}); keys must be private: "
        f"run chmod 600 {path}"
    )


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_credentials_are_accepted(setup: Setup, mode: int) -> None:
    setup.credentials(f'[openai]\napi_key = "{SECRET}"\n', mode=mode)
    assert "openai" in load_config(setup.repo, env=setup.env()).keys


def test_read_credentials_false_skips_the_file(setup: Setup) -> None:
    setup.credentials(f'[openai]\napi_key = "{SECRET}"\n', mode=0o644)
    config = load_config(setup.repo, env=setup.env(), read_credentials=False)
    assert "openai" not in config.keys


def test_bad_toml_in_credentials_gives_the_line_but_never_the_text(setup: Setup) -> None:
    # Unquoted: the parser fails right on the secret; its message must not quote it.
    path = setup.credentials(f"[openai]\napi_key = {SECRET}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env())
    message = str(caught.value)
    assert message.startswith(f"{path}:2: not valid TOML (column")
    for piece in (SECRET, SECRET[:6], "sk-"):
        assert piece not in message


def test_invalid_character_in_credentials_is_not_quoted(setup: Setup) -> None:
    # tomllib's own message for this quotes the character: ours must not.
    path = setup.credentials('[openai]\napi_key = "ab\x01cd"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:2: not valid TOML")
    assert "\\x01" not in str(caught.value) and "\x01" not in str(caught.value)


def test_unknown_key_in_credentials_names_it_without_the_value(setup: Setup) -> None:
    path = setup.credentials(f'[openai]\napikey = "{SECRET}"\n')
    with pytest.raises(ConfigError, match="unknown key") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:2: openai.apikey:")
    assert SECRET not in str(caught.value)


def test_top_level_key_in_credentials(setup: Setup) -> None:
    path = setup.credentials(f'api_key = "{SECRET}"\n')
    with pytest.raises(ConfigError, match="under its provider's table") as caught:
        load_config(setup.repo, env=setup.env())
    assert str(caught.value).startswith(f"{path}:1: api_key:")
    assert SECRET not in str(caught.value)


def test_non_string_key_in_credentials(setup: Setup) -> None:
    setup.credentials("[openai]\napi_key = 123456789\n")
    with pytest.raises(ConfigError, match="must be a string, not an integer") as caught:
        load_config(setup.repo, env=setup.env())
    assert "123456789" not in str(caught.value)


def test_credentials_for_an_unknown_provider_is_a_warning(setup: Setup) -> None:
    path = setup.credentials(f'[antropic]\napi_key = "{SECRET}"\n')
    config = load_config(setup.repo, env=setup.env())
    assert config.warnings == [f"{path}: [antropic] is not a known provider, so its key is unused"]


def test_credentials_for_a_provider_without_key_env_are_passed(setup: Setup) -> None:
    # "No key needed when key_env is absent *and credentials.toml has none*".
    setup.credentials(f'[ollama]\napi_key = "{SECRET}"\n')
    setup.agents('[models]\nworker = "ollama:llama3"\n')
    spec = load_config(setup.repo, env=setup.env()).model_for("worker")
    assert spec.api_key is not None and spec.api_key.reveal() == SECRET


def test_keys_never_show_in_repr_or_json(setup: Setup) -> None:
    setup.credentials(f'[openai]\napi_key = "{SECRET}"\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    spec = config.model_for("default_cheap")
    texts = [
        repr(config),
        str(config),
        repr(spec),
        msgspec.json.encode(config, enc_hook=enc_hook).decode(),
        msgspec.json.encode(spec, enc_hook=enc_hook).decode(),
    ]
    for text in texts:
        for value in (SECRET, *ALL_KEYS.values()):
            assert value not in text
    # Without the project's hook the encoder refuses rather than writing the key.
    with pytest.raises(TypeError):
        msgspec.json.encode(config)
