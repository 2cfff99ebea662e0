"""Which model each tier uses (`agents.toml`) and where keys come from (`credentials.toml`).

Files live in `$SLOP_CONFIG_DIR` or the platform's user config folder; a repository's
`.slop/agents.toml` may override `[models]` and `[run]` only, never a provider, so a cloned
repository cannot send the user's key to a server of its choosing.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec
import platformdirs

from slop_tui.errors import SlopError
from slop_tui.models import Secret, Tier

ProviderKind = Literal["openai", "anthropic", "scripted"]


class ConfigError(SlopError):
    """Bad or missing configuration; the message names the file, line where known, and key."""


class PriceSpec(msgspec.Struct, forbid_unknown_fields=True):
    """US dollars per million tokens."""

    input: float
    output: float


class ProviderSpec(msgspec.Struct, kw_only=True):
    """One API endpoint family. `base_url` and `key_env` come only from the user's own config."""

    name: str
    kind: ProviderKind
    base_url: str | None = None
    key_env: str | None = None
    max_retries: int = 2
    timeout_s: float = 60.0


class ModelSpec(msgspec.Struct, kw_only=True):
    """Everything a provider adapter needs for one tier's calls."""

    tier: Tier
    provider: ProviderSpec
    model: str  # for `scripted`, the scenario file path (may be empty for the built-in demo)
    api_key: Secret | None = None
    price: PriceSpec | None = None

    @property
    def label(self) -> str:
        """`provider:model`, as written in `agents.toml`."""
        return f"{self.provider.name}:{self.model}"


class RunSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    workers: int = 4
    plan_retries: int = 2
    worker_steps: int = 30
    context_tokens: int = 12000
    command_timeout_s: float = 60.0


# ---------------------------------------------------------------------------
# Built-in defaults
# ---------------------------------------------------------------------------

CONFIG_DIR_ENV = "SLOP_CONFIG_DIR"
AGENTS_FILE = "agents.toml"
CREDENTIALS_FILE = "credentials.toml"
REPO_AGENTS = Path(".slop") / AGENTS_FILE

# The variables each built-in provider reads its key from, as their own SDKs do.
USUAL_KEY_ENVS: frozenset[str] = frozenset({"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY"})
# Other providers' well-known key variables. None of them is ours to read, but a command a
# worker runs must not see them either, so they are scrubbed with the rest.
OTHER_KEY_ENVS: frozenset[str] = frozenset(
    {
        "ANTHROPIC_AUTH_TOKEN",
        "OPENROUTER_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GROQ_API_KEY",
        "MISTRAL_API_KEY",
        "TOGETHER_API_KEY",
        "XAI_API_KEY",
        "AZURE_OPENAI_API_KEY",
    }
)

BUILTIN_PROVIDERS: dict[str, ProviderSpec] = {
    "anthropic": ProviderSpec(name="anthropic", kind="anthropic", key_env="ANTHROPIC_API_KEY"),
    "openai": ProviderSpec(name="openai", kind="openai", key_env="OPENAI_API_KEY"),
    "deepseek": ProviderSpec(
        name="deepseek", kind="openai", base_url="https://api.deepseek.com", key_env="DEEPSEEK_API_KEY"
    ),
    # Local: no key_env, so no key is needed (the SDK gets none unless credentials.toml has one).
    "ollama": ProviderSpec(name="ollama", kind="openai", base_url="http://localhost:11434/v1"),
    # Offline: `scripted:PATH` plays a scenario file; `scripted:` or `scripted:demo` the demo.
    "scripted": ProviderSpec(name="scripted", kind="scripted"),
}

DEFAULT_MODELS: dict[str, str] = {
    Tier.PLANNER.value: "anthropic:claude-sonnet-4-5",
    Tier.LEAD.value: "anthropic:claude-sonnet-4-5",
    Tier.WORKER.value: "deepseek:deepseek-chat",
    Tier.DEFAULT_CHEAP.value: "openai:gpt-4o-mini",
}

# List prices (USD per million tokens, cache misses) of the default models when this was
# written, so a fresh install can show a cost estimate; `[prices."provider:model"]` overrides.
DEFAULT_PRICES: dict[str, PriceSpec] = {
    "anthropic:claude-sonnet-4-5": PriceSpec(input=3.0, output=15.0),
    "openai:gpt-4o-mini": PriceSpec(input=0.15, output=0.60),
    "deepseek:deepseek-chat": PriceSpec(input=0.28, output=0.42),
}

# Names that `scripted:NAME` reads as the built-in demo scenario rather than a file.
DEMO_SCENARIO_NAMES = frozenset({"", "demo"})

_USER_TABLES = ("models", "providers", "run", "prices")
_REPO_TABLES = ("models", "run")
_PROVIDER_KEYS = ("kind", "base_url", "key_env", "max_retries", "timeout_s")
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Smallest allowed value per [run] key, and whether the bound itself is allowed.
_RUN_MINIMUM: dict[str, tuple[float, bool]] = {
    "workers": (1, True),
    "plan_retries": (0, True),
    "worker_steps": (1, True),
    "context_tokens": (1, True),
    "command_timeout_s": (0, False),
}


class CredentialsPermissionError(ConfigError):
    """`credentials.toml` can be read by group or others; refused, as ssh refuses a key."""


class KeyOrigin(msgspec.Struct, frozen=True):
    """Where a setting came from, for error messages: a file (and line) or the built-ins."""

    file: str | None = None
    line: int | None = None


# ---------------------------------------------------------------------------
# The loaded configuration
# ---------------------------------------------------------------------------


class Config(msgspec.Struct, kw_only=True):
    """Everything `agents.toml`, `credentials.toml` and the repository's overrides say.

    Keys are held only as `Secret` (masked in repr and encoders). `model_for` is where a tier
    is checked for being runnable, so `slop doctor` can report every tier's problem at once.
    """

    models: dict[str, str]  # tier name -> "provider:model"
    providers: dict[str, ProviderSpec]  # built-ins merged with the user's [providers.*]
    run: RunSettings
    prices: dict[str, PriceSpec]  # "provider:model" -> price
    sources: list[str]  # the files that were read, in order
    config_dir: str = ""
    repo: str | None = None
    keys: dict[str, Secret] = msgspec.field(default_factory=dict)  # provider -> key
    key_sources: dict[str, str] = msgspec.field(default_factory=dict)  # provider -> "$VAR" | file
    origins: dict[str, KeyOrigin] = msgspec.field(default_factory=dict)  # "models.worker" -> where
    warnings: list[str] = msgspec.field(default_factory=list)

    @property
    def agents_path(self) -> Path:
        return Path(self.config_dir) / AGENTS_FILE

    @property
    def credentials_path(self) -> Path:
        return Path(self.config_dir) / CREDENTIALS_FILE

    def model_for(self, tier: Tier | str) -> ModelSpec:
        """The model, provider, key and price for one tier; `ConfigError` if it cannot run."""
        name = _tier_name(tier)
        where = self._where("models", name)
        value = self.models.get(name, "").strip()
        if not value:
            raise ConfigError(
                f"{where}: tier {name!r} has no model; set {name} = \"provider:model\" "
                f"under [models] in {self.agents_path}"
            )
        provider_name, colon, model = value.partition(":")
        if not colon:
            raise ConfigError(
                f"{where}: {value!r} is not \"provider:model\" "
                f"(for example \"{DEFAULT_MODELS[name]}\")"
            )
        provider = self.providers.get(provider_name)
        if provider is None:
            raise ConfigError(
                f"{where}: unknown provider {provider_name!r} (known: "
                f"{', '.join(sorted(self.providers))}); declare it under "
                f"[providers.{provider_name}] in {self.agents_path}"
            )
        if provider.kind == "scripted":
            scenario = self._scenario(model.strip(), where)
            return ModelSpec(tier=Tier(name), provider=provider, model=scenario)
        model = model.strip()
        if not model:
            raise ConfigError(f"{where}: {value!r} names provider {provider_name!r} but no model")
        key = self.keys.get(provider_name)
        if key is None and provider.key_env:
            raise ConfigError(f"{where}: no API key for provider {provider_name!r}; {self.key_fix(provider)}")
        return ModelSpec(
            tier=Tier(name),
            provider=provider,
            model=model,
            api_key=key,
            price=self.prices.get(f"{provider_name}:{model}"),
        )

    def key_fix(self, provider: ProviderSpec) -> str:
        """How to give `provider` a key, in words a user can follow."""
        how = f"export {provider.key_env}=... or add " if provider.key_env else "add "
        return (
            f"{how}[{provider.name}] api_key = \"...\" to {self.credentials_path} "
            f"(then chmod 600 it)"
        )

    def key_env_names(self) -> set[str]:
        """Every variable that may hold a key: scrubbed from the environment of commands."""
        names = {p.key_env for p in self.providers.values() if p.key_env}
        return names | USUAL_KEY_ENVS | OTHER_KEY_ENVS

    def _where(self, table: str, key: str) -> str:
        origin = self.origins.get(f"{table}.{key}")
        dotted = _dotted((table, key))
        if origin is None or origin.file is None:
            return f"{dotted} (built-in default)"
        line = f":{origin.line}" if origin.line else ""
        return f"{origin.file}{line}: {dotted}"

    def _scenario(self, model: str, where: str) -> str:
        """A scenario path made absolute (relative ones are under the repository)."""
        if model in DEMO_SCENARIO_NAMES:
            return ""  # the built-in demo scenario
        path = Path(model).expanduser()
        if not path.is_absolute():
            path = (Path(self.repo) if self.repo else Path.cwd()) / path
        if not path.is_file():
            raise ConfigError(f"{where}: scenario file not found: {path}")
        return str(path)


def _tier_name(tier: Tier | str) -> str:
    try:
        return Tier(tier).value
    except ValueError:
        raise ConfigError(
            f"unknown tier {tier!r} (tiers: {', '.join(t.value for t in Tier)})"
        ) from None


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$SLOP_CONFIG_DIR` when set, else the platform's user config folder for slop-tui."""
    env = os.environ if env is None else env
    override = env.get(CONFIG_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    return Path(platformdirs.user_config_dir("slop-tui"))


def load_config(
    repo: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    read_credentials: bool = True,
) -> Config:
    """Read the user's `agents.toml` and `credentials.toml`, then `REPO/.slop/agents.toml`.

    Missing files mean built-in defaults. A bad file raises `ConfigError` naming the file, the
    line where known, and the key. `read_credentials=False` skips `credentials.toml` (keys come
    from the environment only): `slop doctor` uses it to go on after a permission problem.
    Keys: `credentials.toml` wins over the environment, being the more specific of the two.
    """
    env = os.environ if env is None else env
    directory = config_dir(env)
    models = dict(DEFAULT_MODELS)
    providers = {name: msgspec.structs.replace(spec) for name, spec in BUILTIN_PROVIDERS.items()}
    prices = {label: msgspec.structs.replace(p) for label, p in DEFAULT_PRICES.items()}
    run: dict[str, Any] = {}
    origins: dict[str, KeyOrigin] = {}
    sources: list[str] = []
    warnings: list[str] = []

    user = _read_toml(directory / AGENTS_FILE)
    if user is not None:
        sources.append(str(user.path))
        _check_tables(user, _USER_TABLES)
        _warn_if_writable(user.path, warnings)
        models.update(_models(user, origins))
        providers.update(_providers(user, providers))
        prices.update(_prices(user))
        run.update(_run(user))

    repo_root = repo.resolve() if repo is not None else None
    if repo_root is not None:
        local = _read_toml(repo_root / REPO_AGENTS)
        if local is not None:
            sources.append(str(local.path))
            _check_repo_tables(local, directory / AGENTS_FILE)
            models.update(_models(local, origins))
            run.update(_run(local))

    keys: dict[str, Secret] = {}
    key_sources: dict[str, str] = {}
    credentials_path = directory / CREDENTIALS_FILE
    if read_credentials:
        stored = _read_credentials(credentials_path, warnings)
        if stored is not None:
            sources.append(str(credentials_path))
            for name, secret in stored.items():
                if name not in providers:
                    warnings.append(
                        f"{credentials_path}: [{name}] is not a known provider, so its key is unused"
                    )
                keys[name] = secret
                key_sources[name] = str(credentials_path)
    for name, spec in providers.items():
        if name in keys or not spec.key_env:
            continue
        value = env.get(spec.key_env, "")
        if value.strip():
            keys[name] = Secret(value.strip())
            key_sources[name] = f"${spec.key_env}"

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
        origins=origins,
        warnings=warnings,
    )


class _TomlFile(msgspec.Struct, frozen=True):
    """A parsed TOML file with its text kept, to find the line of a bad key."""

    path: Path
    text: str
    data: dict[str, Any]

    def where(self, *parts: str) -> str:
        line = _find_line(self.text, parts)
        return f"{self.path}{f':{line}' if line else ''}: {_dotted(parts)}"

    def origin(self, *parts: str) -> KeyOrigin:
        return KeyOrigin(file=str(self.path), line=_find_line(self.text, parts))


def _read_text(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError, *, quote_message: bool) -> ConfigError:
    """`path:line: not valid TOML: ...`. Python 3.11's error has the position only in its text."""
    message = str(exc)
    match = _TOML_POSITION.search(message)
    detail = message[: match.start()] if match else message
    if match and match.group(1):
        place, column = f"{path}:{match.group(1)}", f" (column {match.group(2)})"
    else:
        place, column = str(path), " (at the end of the file)" if match else ""
    # Some parser messages quote a character of the document; a credentials file's
    # document is secret, so its error gives the position only.
    if quote_message:
        return ConfigError(f"{place}: not valid TOML: {detail}{column}")
    return ConfigError(f"{place}: not valid TOML{column}")


def _read_toml(path: Path) -> _TomlFile | None:
    text = _read_text(path)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc, quote_message=True) from None
    return _TomlFile(path=path, text=text, data=data)


def _check_tables(file: _TomlFile, allowed: tuple[str, ...]) -> None:
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


def _check_repo_tables(file: _TomlFile, user_agents: Path) -> None:
    for key in file.data:
        if key == "providers":
            raise ConfigError(
                f"{file.where(key)}: a repository's .slop/agents.toml may set [models] and [run] "
                f"only; providers (base_url, key_env) belong in your own {user_agents}, so that "
                f"a cloned repository cannot send your key to another server"
            )
        if key not in _REPO_TABLES:
            raise ConfigError(
                f"{file.where(key)}: a repository's .slop/agents.toml may set [models] and "
                f"[run] only (put [{key}] in your own {user_agents})"
            )
    _check_tables(file, _REPO_TABLES)


def _models(file: _TomlFile, origins: dict[str, KeyOrigin]) -> dict[str, str]:
    table: dict[str, Any] = file.data.get("models", {})
    found: dict[str, str] = {}
    for key, value in table.items():
        if key not in DEFAULT_MODELS:
            raise ConfigError(
                f"{file.where('models', key)}: unknown tier (tiers: {', '.join(DEFAULT_MODELS)})"
            )
        if not isinstance(value, str):
            raise ConfigError(
                f"{file.where('models', key)}: must be a string \"provider:model\", "
                f"not {_type_name(value)}"
            )
        found[key] = value
        origins[f"models.{key}"] = file.origin("models", key)
    return found


def _providers(file: _TomlFile, known: dict[str, ProviderSpec]) -> dict[str, ProviderSpec]:
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
                _number(file, ("providers", name, "max_retries"), body["max_retries"], int, 0, True)
            )
        if "timeout_s" in body:
            spec.timeout_s = _number(
                file, ("providers", name, "timeout_s"), body["timeout_s"], float, 0, False
            )
        found[name] = spec
    return found


def _prices(file: _TomlFile) -> dict[str, PriceSpec]:
    table: dict[str, Any] = file.data.get("prices", {})
    found: dict[str, PriceSpec] = {}
    for label, body in table.items():
        if ":" not in label:
            raise ConfigError(
                f"{file.where('prices', label)}: name the model as \"provider:model\", "
                f"e.g. [prices.\"openai:gpt-4o-mini\"]"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{file.where('prices', label)}: must be a table with input and output")
        for key in body:
            if key not in ("input", "output"):
                raise ConfigError(
                    f"{file.where('prices', label, key)}: unknown key (allowed: input, output, "
                    f"in USD per million tokens)"
                )
        values: dict[str, float] = {}
        for key in ("input", "output"):
            if key not in body:
                raise ConfigError(
                    f"{file.where('prices', label)}: missing {key} (USD per million tokens)"
                )
            values[key] = _number(file, ("prices", label, key), body[key], float, 0, True)
        found[label] = PriceSpec(input=values["input"], output=values["output"])
    return found


def _run(file: _TomlFile) -> dict[str, Any]:
    table: dict[str, Any] = file.data.get("run", {})
    fields = {f.name: f.type for f in msgspec.structs.fields(RunSettings)}
    found: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(
                f"{file.where('run', key)}: unknown key (allowed: {', '.join(fields)})"
            )
        minimum, inclusive = _RUN_MINIMUM.get(key, (0, True))
        found[key] = _number(file, ("run", key), value, fields[key], minimum, inclusive)
    return found


def _number(
    file: _TomlFile,
    parts: tuple[str, ...],
    value: Any,
    kind: Any,
    minimum: float,
    inclusive: bool,
) -> Any:
    """`value` as an int or float at or above (or strictly above) `minimum`, or `ConfigError`."""
    try:
        number = msgspec.convert(value, kind)
    except msgspec.ValidationError:
        wanted = "an integer" if kind is int else "a number"
        raise ConfigError(f"{file.where(*parts)}: must be {wanted}, not {_type_name(value)}") from None
    if number < minimum or (not inclusive and number == minimum):
        bound = f"at least {minimum:g}" if inclusive else f"more than {minimum:g}"
        raise ConfigError(f"{file.where(*parts)}: must be {bound}")
    return number


def _read_credentials(path: Path, warnings: list[str]) -> dict[str, Secret] | None:
    """Provider name -> key from `credentials.toml`; no message ever quotes its content."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if os.name != "nt" and stat.S_IMODE(mode) & 0o077:
        raise CredentialsPermissionError(
            f"{path}: readable by group or others (mode {stat.S_IMODE(mode):04o}); keys must be "
            f"private: run chmod 600 {path}"
        )
    text = _read_text(path)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, exc, quote_message=False) from None
    file = _TomlFile(path=path, text=text, data=data)
    keys: dict[str, Secret] = {}
    for name, body in data.items():
        if not isinstance(body, dict):
            raise ConfigError(
                f"{file.where(name)}: each key goes under its provider's table, "
                f"e.g. [openai] then api_key = \"...\""
            )
        for key in body:
            if key != "api_key":
                raise ConfigError(f"{file.where(name, key)}: unknown key (allowed: api_key)")
        if "api_key" not in body:
            continue
        value = body["api_key"]
        if not isinstance(value, str):
            raise ConfigError(
                f"{file.where(name, 'api_key')}: must be a string, not {_type_name(value)}"
            )
        if not value.strip():
            warnings.append(f"{file.where(name, 'api_key')}: empty, so it is ignored")
            continue
        keys[name] = Secret(value.strip())
    return keys


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


def _type_name(value: Any) -> str:
    # Names the type, never the value: a misplaced key must not end up in a message.
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


# ---------------------------------------------------------------------------
# Finding the line of a key (tomllib reports positions only for syntax errors)
# ---------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY_PART = r"(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z0-9_-]+)"
_HEADER = re.compile(rf"^\s*\[\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_PART = re.compile(_KEY_PART)


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for token in _PART.findall(dotted):
        if token.startswith('"'):
            token = json.loads(token)
        elif token.startswith("'"):
            token = token[1:-1]
        parts.append(token)
    return tuple(parts)


def _find_line(text: str, parts: tuple[str, ...]) -> int | None:
    """1-based line where the dotted key `parts` is declared, best effort; None if not found."""
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _key_parts(header.group(1))
            # A deeper header counts too: `[providers.x]` is where `providers` is declared.
            if table[: len(parts)] == parts:
                return number
            continue
        assignment = _ASSIGNMENT.match(line)
        # `key = ...` under its table, or a dotted `table.key = ...` / inline table above it.
        if assignment and (table + _key_parts(assignment.group(1)))[: len(parts)] == parts:
            return number
    return None


def _dotted(parts: tuple[str, ...]) -> str:
    return ".".join(p if _BARE_KEY.match(p) else json.dumps(p) for p in parts)
