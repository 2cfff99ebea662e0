"""Which model each tier uses (`agents.toml`) and where keys come from (`credentials.toml`)."""

from __future__ import annotations

from typing import Literal

import msgspec

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
