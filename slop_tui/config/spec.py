"""What the configuration says: tiers, providers, prices, run limits, and the built-in defaults.

`Config.model_for` is where a tier is checked for being runnable, so `slop doctor` can report
every tier's problem at once. Loading is in `load.py`; what a repository may change, in
`overrides.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec
import platformdirs

from slop_tui.config.files import ConfigError, clip, dotted
from slop_tui.config.mcp import McpServerSpec
from slop_tui.models import Secret, Tier, environment_secrets

ProviderKind = Literal["openai", "anthropic", "scripted"]


class PriceSpec(msgspec.Struct, forbid_unknown_fields=True):
    """US dollars per million tokens. A cache price left out (None) is charged at `input`, so
    an unknown discount never makes a cost look smaller than it was."""

    input: float
    output: float
    cache_read: float | None = None  # a prompt-cache hit
    cache_write: float | None = None  # writing a prefix to the cache (Anthropic: 1.25 x input)

    def read_price(self) -> float:
        return self.input if self.cache_read is None else self.cache_read

    def write_price(self) -> float:
        return self.input if self.cache_write is None else self.cache_write


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
    # Tokens one request may hold, prompt and reply together; None: unknown, nothing is checked.
    context_window: int | None = None

    @property
    def label(self) -> str:
        """`provider:model`, as written in `agents.toml`."""
        return f"{self.provider.name}:{self.model}"


NetworkSetting = Literal["off", "on"]


class RunSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`[run]`. Every numeric field is a limit: a repository may lower it, never raise it.

    `network` is whether commands reach the network without the person allowing it per command
    (a repository may only set "off"); `allow_unsandboxed` (let `--yes` run commands where no
    sandbox can be made) and `env` (variables added to every command's environment) are the
    user's alone: from a repository, `env` would be code execution (`LD_PRELOAD`, `BASH_ENV`).
    """

    workers: int = 4
    plan_retries: int = 2
    worker_steps: int = 30
    # Tier 1's overview and Tier 2's repository map (`RepoMap`), everything they cost included.
    map_tokens: int = 4096
    # Tier 3's first message: prompt, ticket, curated targets and the related map.
    context_tokens: int = 12000
    # The project's instruction files (AGENTS.md) in every prompt, in all; 0 reads none.
    instructions_tokens: int = 2000
    command_timeout_s: float = 60.0
    max_write_bytes: int = 8_000_000
    max_tracks: int = 20
    max_tickets_per_track: int = 50
    max_field_chars: int = 4096
    max_tool_calls_per_reply: int = 16
    # Spend limits (`conductor/budget.py`); None: no limit. Tokens: input, cache and output.
    max_run_usd: float | None = None
    max_ticket_usd: float | None = None
    max_run_tokens: int | None = None
    max_ticket_tokens: int | None = None
    network: NetworkSetting = "off"
    allow_unsandboxed: bool = False
    env: dict[str, str] = msgspec.field(default_factory=dict)


# ---------------------------------------------------------------------------
# Built-in defaults
# ---------------------------------------------------------------------------

CONFIG_DIR_ENV = "SLOP_CONFIG_DIR"
AGENTS_FILE = "agents.toml"
CREDENTIALS_FILE = "credentials.toml"
# The repository's config, at its root, apart from `.slop/` (slop's private state).
REPO_AGENTS = Path(".slop.toml")
# Where it was before; no longer read (`slop doctor` says so when it finds one).
OLD_REPO_AGENTS = Path(".slop") / AGENTS_FILE

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

# List prices (USD per million tokens) of the default models as the vendors' pricing pages gave
# them on the date below, so a fresh install can show a cost estimate; `[prices."provider:model"]`
# overrides (`slop doctor` shows which applies). Anthropic: a 5-minute cache write is 1.25 x the
# input price and a read 0.1 x; OpenAI: cached input half price, no write charge; DeepSeek: a
# cache hit is 0.1 x a miss, no write charge.
PRICES_DATED = "2025-10-01"
DEFAULT_PRICES: dict[str, PriceSpec] = {
    "anthropic:claude-sonnet-4-5": PriceSpec(
        input=3.0, output=15.0, cache_read=0.30, cache_write=3.75
    ),
    "openai:gpt-4o-mini": PriceSpec(
        input=0.15, output=0.60, cache_read=0.075, cache_write=0.15
    ),
    "deepseek:deepseek-chat": PriceSpec(
        input=0.28, output=0.42, cache_read=0.028, cache_write=0.28
    ),
}

# Context windows (tokens a request may hold, prompt and reply together) of the default models
# as the vendors' model pages gave them on the date below; `[models.windows]` overrides or adds
# ("provider:model" = tokens). A model in neither has no known window and is never checked.
WINDOWS_DATED = "2025-10-01"
DEFAULT_WINDOWS: dict[str, int] = {
    "anthropic:claude-sonnet-4-5": 200_000,
    "openai:gpt-4o-mini": 128_000,
    "deepseek:deepseek-chat": 128_000,
}

# Names that `scripted:NAME` reads as the built-in demo scenario rather than a file.
DEMO_SCENARIO_NAMES = frozenset({"", "demo"})


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
    # provider -> why its key cannot be used (e.g. a non-ASCII character); never the key itself.
    key_problems: dict[str, str] = msgspec.field(default_factory=dict)
    origins: dict[str, KeyOrigin] = msgspec.field(default_factory=dict)  # "models.worker" -> where
    warnings: list[str] = msgspec.field(default_factory=list)
    # What the repository's .slop.toml changed, one human-readable line each; empty if nothing.
    repo_overrides: list[str] = msgspec.field(default_factory=list)
    # Every key value configured anywhere (used, shadowed by another source, or refused).
    known_keys: list[Secret] = msgspec.field(default_factory=list)
    # `[mcp.servers.*]` of the user's own agents.toml (never a repository's).
    mcp: dict[str, McpServerSpec] = msgspec.field(default_factory=dict)
    # "provider:model" -> context window in tokens: the built-ins and `[models.windows]`.
    windows: dict[str, int] = msgspec.field(default_factory=lambda: dict(DEFAULT_WINDOWS))

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
                f"{where}: {clip(value)!r} is not \"provider:model\" "
                f"(for example \"{DEFAULT_MODELS[name]}\")"
            )
        provider = self.providers.get(provider_name)
        if provider is None:
            raise ConfigError(
                f"{where}: unknown provider {clip(provider_name)!r} (known: "
                f"{', '.join(sorted(self.providers))}); declare it under "
                f"[providers.{clip(provider_name)}] in {self.agents_path}"
            )
        if provider.kind == "scripted":
            scenario = self._scenario(model.strip(), where)
            return ModelSpec(tier=Tier(name), provider=provider, model=scenario)
        model = model.strip()
        if not model:
            raise ConfigError(f"{where}: {clip(value)!r} names provider {provider_name!r} but no model")
        problem = self.key_problems.get(provider_name)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
        key = self.keys.get(provider_name)
        if key is None and provider.key_env:
            raise ConfigError(f"{where}: no API key for provider {provider_name!r}; {self.key_fix(provider)}")
        return ModelSpec(
            tier=Tier(name),
            provider=provider,
            model=model,
            api_key=key,
            price=self.prices.get(f"{provider_name}:{model}"),
            context_window=self.windows.get(f"{provider_name}:{model}"),
        )

    def key_fix(self, provider: ProviderSpec) -> str:
        """How to give `provider` a key, in words a user can follow."""
        how = f"export {provider.key_env}=... or add " if provider.key_env else "add "
        return (
            f"{how}[{provider.name}] api_key = \"...\" to {self.credentials_path} "
            f"(then chmod 600 it)"
        )

    def secrets(self, env: Mapping[str, str] | None = None) -> list[Secret]:
        """Every value slop masks in what it writes or passes on: each configured key (used,
        shadowed or refused) and each variable of `env` (default: slop's own environment)
        whose name looks secret (`models.looks_secret`)."""
        env = os.environ if env is None else env
        found = {*self.keys.values(), *self.known_keys, *(Secret(v) for v in environment_secrets(env))}
        # An MCP server's credential header, and a secret-looking variable of its own `env`.
        for spec in self.mcp.values():
            found |= set(spec.secret_headers.values())
            found |= {Secret(v) for v in environment_secrets(spec.env)}
        return sorted(found, key=lambda s: len(s.reveal()), reverse=True)

    def key_env_names(self) -> set[str]:
        """Every variable that may hold a key: scrubbed from the environment of commands."""
        names = {p.key_env for p in self.providers.values() if p.key_env}
        return names | USUAL_KEY_ENVS | OTHER_KEY_ENVS

    def _where(self, table: str, key: str) -> str:
        origin = self.origins.get(f"{table}.{key}")
        name = dotted((table, key))
        if origin is None or origin.file is None:
            return f"{name} (built-in default)"
        line = f":{origin.line}" if origin.line else ""
        return f"{origin.file}{line}: {name}"

    def _scenario(self, model: str, where: str) -> str:
        """A scenario path made absolute (relative ones are under the repository)."""
        if model in DEMO_SCENARIO_NAMES:
            return ""  # the built-in demo scenario
        path = Path(model).expanduser()
        if not path.is_absolute():
            path = (Path(self.repo) if self.repo else Path.cwd()) / path
        if not path.is_file():
            raise ConfigError(f"{where}: scenario file not found: {clip(str(path), 200)}")
        return str(path)


def _tier_name(tier: Tier | str) -> str:
    try:
        return Tier(tier).value
    except ValueError:
        raise ConfigError(
            f"unknown tier {clip(str(tier))!r} (tiers: {', '.join(t.value for t in Tier)})"
        ) from None


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$SLOP_CONFIG_DIR` when set, else the platform's user config folder for slop-tui."""
    env = os.environ if env is None else env
    override = env.get(CONFIG_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    return Path(platformdirs.user_config_dir("slop-tui"))
