"""Config files as hostile input: bounded, regular files only, the repository's never through a
symlink, every failure one line naming the file; credentials private to the user, keys ASCII."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from slop_tui.config import (
    ConfigError,
    CredentialsError,
    CredentialsPermissionError,
    load_config,
)
from tests.config.helpers import ALL_KEYS, Setup


def _refused(setup: Setup, error: type[ConfigError] = ConfigError, **keys: str) -> str:
    with pytest.raises(error) as caught:
        load_config(setup.repo, env=setup.env(**keys))
    message = str(caught.value)
    # The test's own folders are as long as pytest makes them: measured without them.
    short = message.replace(str(setup.repo.resolve()), "REPO").replace(str(setup.config), "CONFIG")
    assert "\n" not in message and len(short) < 400, message[:500]
    return message


def test_repository_file_symlink_to_dev_zero_is_refused(setup: Setup) -> None:
    (setup.repo / ".slop.toml").symlink_to("/dev/zero")
    message = _refused(setup)
    assert message == (
        f"{setup.repo.resolve() / '.slop.toml'}: is a symbolic link; a repository's config must be "
        f"a regular file, so it is not read"
    )


def test_repository_file_symlink_to_a_good_file_is_refused_too(setup: Setup, tmp_path: Path) -> None:
    elsewhere = tmp_path / "outside.toml"
    elsewhere.write_text("[run]\nworkers = 1\n")
    (setup.repo / ".slop.toml").symlink_to(elsewhere)
    assert "is a symbolic link" in _refused(setup)


def test_user_file_that_is_a_device_is_refused(setup: Setup) -> None:
    # The user's own file may be a symlink (dotfile managers), but only to a regular file.
    (setup.config / "agents.toml").symlink_to("/dev/zero")
    assert _refused(setup) == (
        f"{setup.config / 'agents.toml'}: not a regular file (a character device), so it is not read"
    )


def test_a_folder_named_like_the_file_is_refused(setup: Setup) -> None:
    (setup.repo / ".slop.toml").mkdir()
    assert "not a regular file (a folder)" in _refused(setup)


@pytest.mark.parametrize("where", ["user", "repo"])
def test_a_50_mb_file_is_refused_without_reading_it(setup: Setup, where: str) -> None:
    path = setup.config / "agents.toml" if where == "user" else setup.repo / ".slop.toml"
    with path.open("wb") as file:
        file.truncate(50_000_000)  # sparse: the test stays fast, the size is real
    message = _refused(setup)
    assert message.startswith(f"{path.resolve() if where == 'repo' else path}: 50000000 bytes; ")
    assert "at most 1 MB" in message


def test_100000_nested_arrays_is_one_line(setup: Setup) -> None:
    local = setup.repo / ".slop.toml"
    local.write_text("[run]\nworkers = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert _refused(setup) == f"{local.resolve()}: not valid TOML: arrays or tables nested too deeply"


def test_bad_toml_in_the_repository_is_one_line_naming_it(setup: Setup) -> None:
    local = setup.repo_agents("[run\n")
    assert _refused(setup).startswith(f"{local.resolve()}:1: not valid TOML")


def test_a_long_model_string_is_clipped_in_the_error(setup: Setup) -> None:
    long = "x" * 900_000
    setup.repo_agents(f'[models]\nworker = "{long}"\n')
    message = _refused(setup)
    assert "not \"provider:model\"" in message and "(900000 characters)" in message


def test_a_long_provider_name_is_clipped_in_the_error(setup: Setup) -> None:
    setup.repo_agents(f'[models]\nworker = "{"p" * 900_000}:m"\n')
    message = _refused(setup)
    assert "unknown provider" in message and "(900000 characters)" in message


def test_fifo_credentials_do_not_hang(setup: Setup) -> None:
    fifo = setup.config / "credentials.toml"
    os.mkfifo(fifo, 0o600)
    outcome: list[str] = []
    # A hang would block here forever; the thread lets the test fail instead of hanging.
    worker = threading.Thread(target=lambda: outcome.append(_refused(setup, CredentialsError)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert outcome == [f"{fifo}: not a regular file (a named pipe), so it is not read"]


def test_credentials_owned_by_another_user_are_refused(setup: Setup) -> None:
    path = setup.credentials('[openai]\napi_key = "sk-owned-by-nobody-0123456789"\n')
    os.chown(path, 65534, -1)
    message = _refused(setup, CredentialsPermissionError)
    assert message.startswith(f"{path}: owned by user id 65534, not you ({os.getuid()}); ")
    assert f"chown {os.getuid()} {path}" in message
    assert "sk-owned" not in message


@pytest.mark.parametrize("mode", [0o770, 0o757, 0o777])
def test_credentials_in_a_writable_folder_are_refused(setup: Setup, mode: int) -> None:
    path = setup.credentials('[openai]\napi_key = "sk-folder-0123456789"\n')
    setup.config.chmod(mode)
    try:
        message = _refused(setup, CredentialsPermissionError)
    finally:
        setup.config.chmod(0o700)
    assert message.startswith(f"{path}: its folder is writable by group or others (mode {mode:04o})")
    assert f"chmod go-w {setup.config}" in message


def test_credentials_readable_by_others_still_refused(setup: Setup) -> None:
    path = setup.credentials('[openai]\napi_key = "sk-x-0123456789"\n', mode=0o640)
    assert "chmod 600" in _refused(setup, CredentialsPermissionError)
    path.chmod(0o600)
    assert load_config(setup.repo, env=setup.env()).keys["openai"].reveal() == "sk-x-0123456789"


def test_non_ascii_key_in_credentials_is_named_as_such(setup: Setup) -> None:
    secret = "sk-nbsp-0123456789\u00a0abcdef"
    path = setup.credentials(f'# keys\n[deepseek]\napi_key = "{secret}"\n')
    config = load_config(setup.repo, env=setup.env(**ALL_KEYS))
    with pytest.raises(ConfigError) as caught:
        config.model_for("worker")
    message = str(caught.value)
    assert message == (
        "models.worker (built-in default): the key for provider 'deepseek' from "
        f"{path}:3: [deepseek] api_key has a non-ASCII character (U+00A0 at position 19); "
        "an API key is plain ASCII: copy it again"
    )
    assert "sk-nbsp" not in message and "sk-nbsp" not in repr(config)
    # The other tiers are unaffected.
    assert config.model_for("planner").api_key is not None


@pytest.mark.parametrize(("value", "what"), [("sk-\u201ckey\u201d-01234", "a non-ASCII"), ("sk-key\x1b-0123", "a control")])
def test_non_ascii_key_in_the_environment_is_named_as_such(setup: Setup, value: str, what: str) -> None:
    config = load_config(setup.repo, env=setup.env(**{**ALL_KEYS, "OPENAI_API_KEY": value}))
    with pytest.raises(ConfigError) as caught:
        config.model_for("default_cheap")
    message = str(caught.value)
    assert "the key for provider 'openai' from $OPENAI_API_KEY has " + what in message
    assert value not in message
