"""Loading: the user's `agents.toml` and `credentials.toml`, then the repository's `.slop.toml`.

Files live in `$SLOP_CONFIG_DIR` or the platform's user config folder. The repository's file is
checked against the override rule (`overrides.py`), so a cloned repository cannot send the
user's key to a server of its choosing, pick a scripted model, or loosen a limit.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import msgspec

from slop_tui.config.files import (
    ConfigError,
    CredentialsError,
    CredentialsPermissionError,
    TomlFile,
    dotted,
    number,
    parse_toml,
    read_config_text,
    read_toml,
    type_name,
)
from slop_tui.config.mcp import McpServerSpec, parse_mcp, resolve_headers
from slop_tui.config.overrides import RUN_MINIMUM, apply_repo_file, network_setting
from slop_tui.config.spec import (
    AGENTS_FILE,
    BUILTIN_PROVIDERS,
    CREDENTIALS_FILE,
    DEFAULT_MODELS,
    DEFAULT_PRICES,
    DEFAULT_WINDOWS,
    REPO_AGENTS,
    Config,
    KeyOrigin,
    PriceSpec,
    ProviderKind,
    ProviderSpec,
    RunSettings,
    config_dir,
)
from slop_tui.models import Secret

_USER_TABLES = ("models", "providers", "run", "prices", "mcp")
# `[models.windows]`: "provider:model" = context window in tokens (beside the tiers' strings).
WINDOWS_KEY = "windows"
_PROVIDER_KEYS = ("kind", "base_url", "key_env", "max_retries", "timeout_s")
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_config(
    repo: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    read_credentials: bool = True,
) -> Config:
    """Read the user's `agents.toml` and `credentials.toml`, then `REPO/.slop.toml`.

    Missing files mean built-in defaults. A bad file raises `ConfigError` naming the file, the
    line where known, and the key; so does anything the repository may not set. A
    `CredentialsError` is about `credentials.toml` alone: `read_credentials=False` skips that
    file (keys come from the environment only), which `slop doctor` uses to go on.
    Keys: `credentials.toml` wins over the environment, being the more specific of the two.
    """
    env = os.environ if env is None else env
    directory = config_dir(env)
    models = dict(DEFAULT_MODELS)
    providers = {name: msgspec.structs.replace(spec) for name, spec in BUILTIN_PROVIDERS.items()}
    prices = {label: msgspec.structs.replace(p) for label, p in DEFAULT_PRICES.items()}
    windows = dict(DEFAULT_WINDOWS)
    run: dict[str, Any] = {}
    origins: dict[str, KeyOrigin] = {}
    sources: list[str] = []
    warnings: list[str] = []
    repo_overrides: list[str] = []
    mcp: dict[str, McpServerSpec] = {}

    user = read_toml(directory / AGENTS_FILE, nofollow=False)
    if user is not None:
        sources.append(str(user.path))
        _check_tables(user, _USER_TABLES)
        _warn_if_writable(user.path, warnings)
        models.update(_models(user, origins))
        windows.update(_windows(user))
        providers.update(_providers(user, providers))
        prices.update(_prices(user))
        run.update(_run(user))
        mcp = parse_mcp(user)

    repo_root = repo.resolve() if repo is not None else None
    if repo_root is not None:
        # The repository's own file, never through a symlink: a clone is untrusted input.
        local = read_toml(repo_root / REPO_AGENTS, nofollow=True)
        if local is not None:
            sources.append(str(local.path))
            changes = apply_repo_file(
                local,
                models=models,
                run=RunSettings(**run),
                providers=providers,
                user_agents=directory / AGENTS_FILE,
            )
            models.update(changes.models)
            run.update(changes.run)
            origins.update(changes.origins)
            repo_overrides = changes.lines

    keys: dict[str, Secret] = {}
    key_sources: dict[str, str] = {}
    key_problems: dict[str, str] = {}
    credentials_path = directory / CREDENTIALS_FILE
    stored: dict[str, tuple[int | None, str]] | None = None
    if read_credentials:
        stored = _read_credentials(credentials_path, warnings)
        if stored is not None:
            sources.append(str(credentials_path))
            resolve_headers(mcp, stored, str(credentials_path))
            # An MCP server's header takes its value from credentials.toml, not a provider's.
            referenced = {n for spec in mcp.values() for n in spec.credential_names}
            for name, (line, secret) in stored.items():
                if name not in providers and name not in referenced:
                    warnings.append(
                        f"{credentials_path}: [{name}] is not a known provider, so its key is unused"
                    )
                where = f"{credentials_path}{f':{line}' if line else ''}: [{name}] api_key"
                _take_key(name, secret, where, keys, key_sources, key_problems, str(credentials_path))
    # Every configured key is masked wherever slop writes: the one used, one the credentials
    # file shadows, and one refused for a bad character alike.
    known_keys = [Secret(secret) for _line, secret in (stored or {}).values()]
    for name, spec in providers.items():
        if not spec.key_env:
            continue
        value = env.get(spec.key_env, "")
        if value.strip():
            known_keys.append(Secret(value))
        if name in keys or name in key_problems:
            continue
        if value.strip():
            source = f"${spec.key_env}"
            _take_key(name, value.strip(), source, keys, key_sources, key_problems, source)

    return Config(
        models=models,
        providers=providers,
        run=RunSettings(**run),
        prices=prices,
        sources=sources,
        config_dir=str(directory),
        repo=str(repo_root) if repo_root is not None else None,
        keys=keys,
        key_sources=key_sources,
        key_problems=key_problems,
        origins=origins,
        warnings=warnings,
        repo_overrides=repo_overrides,
        known_keys=known_keys,
        mcp=mcp,
        windows=windows,
    )


def _take_key(
    name: str,
    value: str,
    where: str,
    keys: dict[str, Secret],
    key_sources: dict[str, str],
    key_problems: dict[str, str],
    source: str,
) -> None:
    # An SDK puts the key in an HTTP header; a pasted smart quote or non-breaking space would
    # surface much later as a baffling "malformed response". Say what it is, where it came from.
    bad = next((i for i, ch in enumerate(value) if not (ch.isascii() and ch.isprintable())), None)
    if bad is not None:
        what = "a non-ASCII character" if not value[bad].isascii() else "a control character"
        key_problems[name] = (
            f"the key for provider {name!r} from {where} has {what} (U+{ord(value[bad]):04X} at "
            f"position {bad + 1}); an API key is plain ASCII: copy it again"
        )
        return
    keys[name] = Secret(value)
    key_sources[name] = source


def _check_tables(file: TomlFile, allowed: tuple[str, ...]) -> None:
    run_keys = {f.name for f in msgspec.structs.fields(RunSettings)}
    for key, value in file.data.items():
        if key not in allowed:
            hint = f"; did you mean {key} under [run]?" if key in run_keys else ""
            raise ConfigError(
                f"{file.where(key)}: unknown top-level key (allowed tables: "
                f"{', '.join(f'[{t}]' for t in allowed)}){hint}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{file.where(key)}: must be a table, [{key}]")


def _models(file: TomlFile, origins: dict[str, KeyOrigin]) -> dict[str, str]:
    table: dict[str, Any] = file.data.get("models", {})
    found: dict[str, str] = {}
    for key, value in table.items():
        if key == WINDOWS_KEY:
            continue  # `_windows` reads it
        if key not in DEFAULT_MODELS:
            raise ConfigError(
                f"{file.where('models', key)}: unknown tier (tiers: {', '.join(DEFAULT_MODELS)}; "
                f"context windows go under [models.{WINDOWS_KEY}])"
            )
        if not isinstance(value, str):
            raise ConfigError(
                f"{file.where('models', key)}: must be a string \"provider:model\", "
                f"not {type_name(value)}"
            )
        found[key] = value
        origins[f"models.{key}"] = KeyOrigin(file=str(file.path), line=file.line("models", key))
    return found


def _check_model_label(file: TomlFile, keys: tuple[str, ...], example: str) -> None:
    """A table keyed by model (`[prices]`, `[models.windows]`) names each as "provider:model"."""
    if ":" not in keys[-1]:
        raise ConfigError(f'{file.where(*keys)}: name the model as "provider:model", e.g. {example}')


def _windows(file: TomlFile) -> dict[str, int]:
    """`[models.windows]`: "provider:model" = the model's context window, in tokens."""
    models: dict[str, Any] = file.data.get("models", {})
    table = models.get(WINDOWS_KEY, {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"{file.where('models', WINDOWS_KEY)}: must be a table of \"provider:model\" = tokens, "
            f"[models.{WINDOWS_KEY}]"
        )
    found: dict[str, int] = {}
    for label, value in table.items():
        _check_model_label(file, ("models", WINDOWS_KEY, label), '"ollama:qwen2.5-coder" = 32768')
        found[label] = int(number(file, ("models", WINDOWS_KEY, label), value, int, 1, True))
    return found


def _providers(file: TomlFile, known: dict[str, ProviderSpec]) -> dict[str, ProviderSpec]:
    table: dict[str, Any] = file.data.get("providers", {})
    found: dict[str, ProviderSpec] = {}
    for name, body in table.items():
        if not _PROVIDER_NAME.match(name):
            raise ConfigError(
                f"{file.where('providers', name)}: a provider name may hold only letters, "
                f"digits, '-' and '_' (it is written before the ':' in \"provider:model\")"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{file.where('providers', name)}: must be a table, [providers.{name}]")
        for key in body:
            if key == "api_key":
                raise ConfigError(
                    f"{file.where('providers', name, key)}: keys do not belong in agents.toml; "
                    f"put [{name}] api_key = \"...\" in credentials.toml (chmod 600) or use key_env"
                )
            if key not in _PROVIDER_KEYS:
                raise ConfigError(
                    f"{file.where('providers', name, key)}: unknown key (allowed: "
                    f"{', '.join(_PROVIDER_KEYS)})"
                )
        base = known.get(name)
        if base is None and "kind" not in body:
            raise ConfigError(
                f"{file.where('providers', name)}: a new provider needs kind = "
                f"{' | '.join(repr(k) for k in get_args(ProviderKind))}"
            )
        spec = msgspec.structs.replace(base) if base is not None else ProviderSpec(
            name=name, kind="openai"
        )
        if "kind" in body:
            kind = body["kind"]
            if kind not in get_args(ProviderKind):
                raise ConfigError(
                    f"{file.where('providers', name, 'kind')}: must be one of "
                    f"{', '.join(repr(k) for k in get_args(ProviderKind))}"
                )
            spec.kind = kind
        if "base_url" in body:
            url = body["base_url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{file.where('providers', name, 'base_url')}: must be an http:// or "
                    f"https:// URL string"
                )
            spec.base_url = url
        if "key_env" in body:
            var = body["key_env"]
            if not isinstance(var, str) or (var and not _ENV_NAME.match(var)):
                raise ConfigError(
                    f"{file.where('providers', name, 'key_env')}: must be an environment "
                    f"variable name (or \"\" for a provider that needs no key)"
                )
            spec.key_env = var or None
        if "max_retries" in body:
            spec.max_retries = int(
                number(file, ("providers", name, "max_retries"), body["max_retries"], int, 0, True)
            )
        if "timeout_s" in body:
            spec.timeout_s = number(
                file, ("providers", name, "timeout_s"), body["timeout_s"], float, 0, False
            )
        found[name] = spec
    return found


_PRICE_KEYS = ("input", "output", "cache_read", "cache_write")


def _prices(file: TomlFile) -> dict[str, PriceSpec]:
    table: dict[str, Any] = file.data.get("prices", {})
    found: dict[str, PriceSpec] = {}
    for label, body in table.items():
        _check_model_label(file, ("prices", label), '[prices."openai:gpt-4o-mini"]')
        if not isinstance(body, dict):
            raise ConfigError(f"{file.where('prices', label)}: must be a table with input and output")
        for key in body:
            if key not in _PRICE_KEYS:
                raise ConfigError(
                    f"{file.where('prices', label, key)}: unknown key (allowed: "
                    f"{', '.join(_PRICE_KEYS)}, in USD per million tokens)"
                )
        values: dict[str, float] = {}
        for key in ("input", "output"):
            if key not in body:
                raise ConfigError(
                    f"{file.where('prices', label)}: missing {key} (USD per million tokens)"
                )
        for key in _PRICE_KEYS:
            if key in body:
                values[key] = number(file, ("prices", label, key), body[key], float, 0, True)
        found[label] = PriceSpec(
            input=values["input"],
            output=values["output"],
            cache_read=values.get("cache_read"),
            cache_write=values.get("cache_write"),
        )
    return found


def _run(file: TomlFile) -> dict[str, Any]:
    table: dict[str, Any] = file.data.get("run", {})
    fields = {f.name: f.type for f in msgspec.structs.fields(RunSettings)}
    found: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(
                f"{file.where('run', key)}: unknown key (allowed: {', '.join(fields)})"
            )
        if key == "network":
            found[key] = network_setting(file, value)
        elif key == "allow_unsandboxed":
            if not isinstance(value, bool):
                raise ConfigError(f"{file.where('run', key)}: must be true or false, not {type_name(value)}")
            found[key] = value
        elif key == "env":
            found[key] = _run_env(file, value)
        else:
            minimum, inclusive = RUN_MINIMUM.get(key, (0, True))
            found[key] = number(file, ("run", key), value, fields[key], minimum, inclusive)
    return found


def _run_env(file: TomlFile, value: Any) -> dict[str, str]:
    """`[run] env`: variable name -> text, added to every command's environment."""
    if not isinstance(value, dict):
        raise ConfigError(f"{file.where('run', 'env')}: must be a table of NAME = \"value\"")
    found: dict[str, str] = {}
    for name, text in value.items():
        # An inline table's keys have no line of their own: the `env` line names them.
        line = file.line("run", "env", name) or file.line("run", "env")
        where = f"{file.path}{f':{line}' if line else ''}: {dotted(('run', 'env', name))}"
        if not _ENV_NAME.match(name):
            raise ConfigError(f"{where}: not an environment variable name")
        if not isinstance(text, str):
            raise ConfigError(f"{where}: must be a string, not {type_name(text)}")
        if "\0" in text:
            raise ConfigError(f"{where}: an environment variable cannot hold a NUL character")
        found[name] = text
    return found


def _read_credentials(path: Path, warnings: list[str]) -> dict[str, tuple[int | None, str]] | None:
    """Provider name -> (line, key) from `credentials.toml`; no message ever quotes its content."""
    read = read_config_text(path, nofollow=False, error=CredentialsError)
    if read is None:
        return None
    if os.name != "nt":
        _check_private(path, read.mode, read.uid)
    file = parse_toml(path, read.text, quote_message=False, error=CredentialsError)
    keys: dict[str, tuple[int | None, str]] = {}
    for name, body in file.data.items():
        if not isinstance(body, dict):
            raise CredentialsError(
                f"{file.where(name)}: each key goes under its provider's table, "
                f"e.g. [openai] then api_key = \"...\""
            )
        for key in body:
            if key != "api_key":
                raise CredentialsError(f"{file.where(name, key)}: unknown key (allowed: api_key)")
        if "api_key" not in body:
            continue
        value = body["api_key"]
        if not isinstance(value, str):
            raise CredentialsError(
                f"{file.where(name, 'api_key')}: must be a string, not {type_name(value)}"
            )
        if not value.strip():
            warnings.append(f"{file.where(name, 'api_key')}: empty, so it is ignored")
            continue
        keys[name] = (file.line(name, "api_key"), value.strip())
    return keys


def _check_private(path: Path, mode: int, uid: int) -> None:
    """Refuse keys anyone else could read or swap, as ssh refuses such a private key."""
    me = os.getuid()
    if uid != me:
        raise CredentialsPermissionError(
            f"{path}: owned by user id {uid}, not you ({me}); keys must be your own: "
            f"run chown {me} {path}"
        )
    if stat.S_IMODE(mode) & 0o077:
        raise CredentialsPermissionError(
            f"{path}: readable by group or others (mode {stat.S_IMODE(mode):04o}); keys must be "
            f"private: run chmod 600 {path}"
        )
    folder = path.parent
    try:
        info = folder.stat()
    except OSError as exc:
        raise CredentialsPermissionError(f"{folder}: cannot check: {exc.strerror or exc}") from None
    # Whoever can write the folder can replace the file with theirs.
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise CredentialsPermissionError(
            f"{path}: its folder is writable by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}), so someone else could replace it: run chmod go-w {folder}"
        )
    if info.st_uid not in (me, 0):
        raise CredentialsPermissionError(
            f"{path}: its folder is owned by user id {info.st_uid}, not you ({me}), so they could "
            f"replace it: move your config to a folder you own"
        )


def _warn_if_writable(path: Path, warnings: list[str]) -> None:
    # Whoever can write agents.toml can point a provider's base_url at their own server.
    if os.name == "nt":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o022:
        warnings.append(
            f"{path}: writable by group or others (mode {mode:04o}); anyone who can write it can "
            f"redirect your keys: run chmod 644 {path}"
        )
