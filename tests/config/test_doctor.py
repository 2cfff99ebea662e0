"""`slop doctor` through the real entry point, as a subprocess with a controlled environment."""

from __future__ import annotations

from tests.config.helpers import ALL_KEYS, Setup


def test_everything_ready(setup: Setup) -> None:
    result = setup.doctor(keys=ALL_KEYS)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"config directory     {setup.config}  (from $SLOP_CONFIG_DIR)" in out
    assert f"{setup.config / 'agents.toml'}  (not found: built-in defaults)" in out
    assert f"{setup.config / 'credentials.toml'}  (not found: keys from the environment only)" in out
    # --repo defaults to the current directory.
    assert f"{setup.repo.resolve() / '.slop.toml'}  (not found)" in out
    assert "planner        anthropic:claude-sonnet-4-5" in out
    assert "worker         deepseek:deepseek-chat" in out
    assert "at https://api.deepseek.com" in out
    # Masked: the first 4 characters and the length, never more.
    assert "key sk-a… (28 chars) from $ANTHROPIC_API_KEY" in out
    assert "key sk-d… (33 chars) from $DEEPSEEK_API_KEY" in out
    for value in ALL_KEYS.values():
        assert value not in out and value[:5] not in out
        assert value not in result.stderr
    assert out.rstrip().endswith("every tier can run")


def test_missing_key_exits_non_zero_with_the_fix(setup: Setup) -> None:
    keys = {k: v for k, v in ALL_KEYS.items() if k != "DEEPSEEK_API_KEY"}
    result = setup.doctor(keys=keys)
    assert result.returncode == 1
    out = result.stdout
    assert "worker         deepseek:deepseek-chat               CANNOT RUN" in out
    assert "planner        anthropic:claude-sonnet-4-5          ok: key" in out
    assert "no API key for provider 'deepseek'; export DEEPSEEK_API_KEY=... or add [deepseek]" in out
    assert result.stderr == ""


def test_credentials_readable_by_others(setup: Setup) -> None:
    secret = "sk-doctor-perm-0123456789abcdef"
    path = setup.credentials(f'[openai]\napi_key = "{secret}"\n', mode=0o644)
    result = setup.doctor(keys=ALL_KEYS)
    assert result.returncode == 1
    out = result.stdout
    assert f"{path}  (found, mode 0644)" in out
    assert f"readable by group or others (mode 0644); keys must be private: run chmod 600 {path}" in out
    # The rest is still reported, with keys from the environment.
    assert "default_cheap  openai:gpt-4o-mini                   ok: key sk-o… (31 chars) from $OPENAI_API_KEY" in out
    assert secret not in out and secret not in result.stderr


def test_credentials_key_is_masked_and_sourced(setup: Setup) -> None:
    secret = "sk-doctor-file-0123456789abcdef"
    path = setup.credentials(f'[deepseek]\napi_key = "{secret}"\n')
    result = setup.doctor(keys={k: v for k, v in ALL_KEYS.items() if k != "DEEPSEEK_API_KEY"})
    assert result.returncode == 0, result.stdout
    assert f"ok: key sk-d… (31 chars) from {path}" in result.stdout
    assert secret not in result.stdout


def test_bad_toml_names_the_file_and_line(setup: Setup) -> None:
    path = setup.agents("[models]\nplanner = openai:gpt-4o\n")
    result = setup.doctor(keys=ALL_KEYS)
    assert result.returncode == 1
    assert f"  - {path}:2: not valid TOML: Invalid value (column 11); fix the file named above" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_repository_providers_table_is_reported(setup: Setup) -> None:
    local = setup.repo_agents('[providers.openai]\nbase_url = "https://evil.example"\n')
    result = setup.doctor(keys=ALL_KEYS)
    assert result.returncode == 1
    assert f"{local}  (found)" in result.stdout
    assert f"{local}:1: providers: a repository's .slop.toml may not set this" in result.stdout


def test_unknown_provider_in_the_repository(setup: Setup) -> None:
    local = setup.repo_agents('[models]\nworker = "nope:model"\n')
    result = setup.doctor(keys=ALL_KEYS)
    assert result.returncode == 1
    # Refused when the config is loaded, before any tier is considered.
    assert f"  - {local}:2: models.worker: unknown provider 'nope'; a repository may only choose" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_offline_scripted_setup_needs_no_key(setup: Setup) -> None:
    scenario = setup.repo / "scenario.json"
    scenario.write_text("{}")
    setup.agents(
        '[models]\nplanner = "scripted:"\nlead = "scripted:demo"\n'
        'worker = "scripted:scenario.json"\ndefault_cheap = "ollama:llama3.2"\n'
    )
    other = setup.repo.parent / "elsewhere"
    other.mkdir()
    # --repo from another folder; no key anywhere.
    result = setup.doctor("--repo", str(setup.repo), cwd=other)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert "offline built-in demo scenario" in out
    assert f"offline scenario {scenario.resolve()}" in out
    assert "ok: no key needed at http://localhost:11434/v1" in out


def test_warning_for_a_writable_agents_toml(setup: Setup) -> None:
    path = setup.agents("[run]\nworkers = 2\n")
    path.chmod(0o666)
    result = setup.doctor(keys=ALL_KEYS)
    assert result.returncode == 0  # a warning, not a tier that cannot run
    assert f"warning: {path}: writable by group or others (mode 0666)" in result.stdout
