"""The override rule: what a repository's `.slop.toml` may change in the user's configuration.

A cloned repository is untrusted input. It may only tighten: choose each tier's model among
the user's own providers (never a `scripted` one, whose "model" is a file the repository would
choose, and so every tool call), and lower numeric `[run]` limits below the user's effective
value. Everything else (providers, keys, prices, environment, anything unknown) is refused with
a message naming the file, line and key. `REPO_OVERRIDES` is the one table of what is allowed;
DESIGN.md documents it.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import msgspec

from slop_tui.config.files import ConfigError, TomlFile, clip, number, type_name
from slop_tui.config.spec import (
    DEFAULT_MODELS,
    REPO_AGENTS,
    KeyOrigin,
    ProviderSpec,
    RunSettings,
)
from slop_tui.models import Tier


class Rule(enum.Enum):
    """How a repository may set one key."""

    CHOOSE_MODEL = "one of your providers' models, never a scripted one"
    LOWER = "lower only, never above your own value"
    NETWORK_OFF = "\"off\" only: a repository may turn the network off, never on"


# The one table. A key not listed here cannot be set by a repository.
REPO_OVERRIDES: dict[str, Rule] = {
    **{f"models.{tier.value}": Rule.CHOOSE_MODEL for tier in Tier},
    "run.workers": Rule.LOWER,
    "run.plan_retries": Rule.LOWER,
    "run.worker_steps": Rule.LOWER,
    "run.map_tokens": Rule.LOWER,
    "run.context_tokens": Rule.LOWER,
    "run.instructions_tokens": Rule.LOWER,
    "run.command_timeout_s": Rule.LOWER,
    "run.max_write_bytes": Rule.LOWER,
    "run.max_tracks": Rule.LOWER,
    "run.max_tickets_per_track": Rule.LOWER,
    "run.max_field_chars": Rule.LOWER,
    "run.max_tool_calls_per_reply": Rule.LOWER,
    "run.max_run_usd": Rule.LOWER,
    "run.max_ticket_usd": Rule.LOWER,
    "run.max_run_tokens": Rule.LOWER,
    "run.max_ticket_tokens": Rule.LOWER,
    "run.network": Rule.NETWORK_OFF,
}

# Keys of the user's `[run]` a repository may never set, and why (refused with the reason).
REPO_REFUSED_RUN: dict[str, str] = {
    "allow_unsandboxed": "running commands without a sandbox under --yes is your decision alone; "
    "set it in your own {agents}",
    "env": "variables such as LD_PRELOAD, BASH_ENV or PYTHONSTARTUP would run a repository's code "
    "in every command; set [run] env in your own {agents}",
}

# Smallest allowed value per [run] key, and whether the bound itself is allowed; for the
# user's file and the repository's alike.
RUN_MINIMUM: dict[str, tuple[float, bool]] = {
    "workers": (1, True),
    "plan_retries": (0, True),
    "worker_steps": (1, True),
    "map_tokens": (1, True),
    "context_tokens": (1, True),
    "instructions_tokens": (0, True),
    "command_timeout_s": (0, False),
    "max_write_bytes": (1, True),
    "max_tracks": (1, True),
    "max_tickets_per_track": (1, True),
    "max_field_chars": (1, True),
    "max_tool_calls_per_reply": (1, True),
    "max_run_usd": (0, False),
    "max_ticket_usd": (0, False),
    "max_run_tokens": (1, True),
    "max_ticket_tokens": (1, True),
}

# Why whole tables are refused, for the tables a user is likeliest to try.
_TABLE_REASONS: dict[str, str] = {
    "providers": "providers (base_url, key_env) belong in your own {agents}, so that a cloned "
    "repository cannot send your key to another server",
    "prices": "prices belong in your own {agents}",
    "mcp": "an MCP server is a program that runs with your powers; declare [mcp.servers.*] in "
    "your own {agents}",
}


class RepoChanges(msgspec.Struct, kw_only=True):
    """What a repository's file changes, already checked against the rule."""

    models: dict[str, str] = msgspec.field(default_factory=dict)
    run: dict[str, Any] = msgspec.field(default_factory=dict)
    origins: dict[str, KeyOrigin] = msgspec.field(default_factory=dict)
    lines: list[str] = msgspec.field(default_factory=list)  # Config.repo_overrides


def apply_repo_file(
    file: TomlFile,
    *,
    models: dict[str, str],
    run: RunSettings,
    providers: dict[str, ProviderSpec],
    user_agents: Path,
) -> RepoChanges:
    """Check every key of the repository's `file` against `REPO_OVERRIDES` and the user's
    effective `models`, `run` and `providers`; `ConfigError` on the first one refused."""
    changes = RepoChanges()
    fields = {f.name: f.type for f in msgspec.structs.fields(RunSettings)}
    for table, body in file.data.items():
        if not isinstance(body, dict) or table not in ("models", "run"):
            reason = _TABLE_REASONS.get(table, _GENERAL_REASON).format(agents=user_agents)
            raise ConfigError(f"{file.where(table)}: a repository's {REPO_AGENTS} may not set this; {reason}")
        for key, value in body.items():
            rule = REPO_OVERRIDES.get(f"{table}.{key}")
            if rule is None and table == "run" and key in REPO_REFUSED_RUN:
                reason = REPO_REFUSED_RUN[key].format(agents=user_agents)
                raise ConfigError(
                    f"{file.where(table, key)}: a repository's {REPO_AGENTS} may not set this; {reason}"
                )
            if rule is None:
                known = ", ".join(k.split(".", 1)[1] for k in REPO_OVERRIDES if k.startswith(f"{table}."))
                raise ConfigError(
                    f"{file.where(table, key)}: a repository's {REPO_AGENTS} may not set this "
                    f"(it may set [{table}] {known})"
                )
            if rule is Rule.CHOOSE_MODEL:
                chosen = _choose_model(file, key, value, providers, user_agents)
                if chosen != models.get(key):
                    changes.lines.append(
                        f"{REPO_AGENTS}: models.{key} = {clip(chosen)} (yours: {clip(models.get(key, ''))})"
                    )
                changes.models[key] = chosen
                changes.origins[f"models.{key}"] = KeyOrigin(file=str(file.path), line=file.line("models", key))
            elif rule is Rule.NETWORK_OFF:
                if network_setting(file, value) != "off":
                    raise ConfigError(
                        f"{file.where('run', key)}: a repository may only set network = \"off\"; "
                        f"allowing the network is your decision: set it in your own {user_agents}"
                    )
                if run.network != "off":
                    changes.lines.append(f"{REPO_AGENTS}: run.network on → off")
                changes.run[key] = "off"
            else:
                minimum, inclusive = RUN_MINIMUM.get(key, (0, True))
                lowered = number(file, ("run", key), value, fields[key], minimum, inclusive)
                yours = getattr(run, key)
                if yours is None:  # no limit of yours: any limit lowers it
                    changes.lines.append(f"{REPO_AGENTS}: run.{key} none → {show(lowered)} (lowered)")
                    changes.run[key] = lowered
                    continue
                if lowered > yours:
                    raise ConfigError(
                        f"{file.where('run', key)}: {show(lowered)} is above your own limit "
                        f"{show(yours)}; a repository may only lower [run] limits"
                    )
                if lowered < yours:
                    changes.lines.append(
                        f"{REPO_AGENTS}: run.{key} {show(yours)} → {show(lowered)} (lowered)"
                    )
                changes.run[key] = lowered
    return changes


_GENERAL_REASON = (
    "a repository may only choose [models] among your providers and lower [run] limits; "
    "anything else belongs in your own {agents}"
)


def _choose_model(
    file: TomlFile, tier: str, value: Any, providers: dict[str, ProviderSpec], user_agents: Path
) -> str:
    where = file.where("models", tier)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string \"provider:model\", not {type_name(value)}")
    if not value.isprintable():
        raise ConfigError(f"{where}: must be printable text \"provider:model\"")
    provider_name, colon, model = value.strip().partition(":")
    if not colon:
        raise ConfigError(
            f"{where}: {clip(value)!r} is not \"provider:model\" (for example \"{DEFAULT_MODELS[tier]}\")"
        )
    provider = providers.get(provider_name)
    if provider is None:
        raise ConfigError(
            f"{where}: unknown provider {clip(provider_name)!r}; a repository may only choose among "
            f"your providers ({', '.join(sorted(n for n, p in providers.items() if p.kind != 'scripted'))}), "
            f"declared in {user_agents}"
        )
    if provider.kind == "scripted":
        raise ConfigError(
            f"{where}: a repository may not choose a scripted model ({clip(value)!r}): its scenario "
            f"would decide every tool call; set scripted models in your own {user_agents}"
        )
    if not model.strip():
        raise ConfigError(
            f"{where}: {clip(value)!r} is not \"provider:model\" (for example \"{DEFAULT_MODELS[tier]}\")"
        )
    return value.strip()


def network_setting(file: TomlFile, value: Any) -> str:
    """`[run] network`: "off" or "on", or `ConfigError` naming the file and line."""
    if value not in ("off", "on"):
        shown = repr(clip(value)) if isinstance(value, str) else type_name(value)
        raise ConfigError(f"{file.where('run', 'network')}: must be \"off\" or \"on\", not {shown}")
    return str(value)


def show(value: float) -> str:
    """A limit as a person writes it: 60, not 60.0; 8000000, not 8e+06."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
