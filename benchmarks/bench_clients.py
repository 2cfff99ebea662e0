"""A run's provider clients: slop's (every SDK client on the process's one TLS context) against
the SDKs' default (each client builds its own context, reading the system's CA bundle again).

Builds the clients of a run with both kinds of provider at every tier (2 x 4), REPEAT times
over, each way in the same process, and prints the CPU seconds per run's clients and the ratio.
No request is sent: building is what differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slop_tui.config import ModelSpec, ProviderSpec
from slop_tui.models import Secret, Tier
from slop_tui.providers.anthropic import AnthropicProvider
from slop_tui.providers.openai_compat import OpenAICompatProvider
from slop_tui.providers.sdk_adapter import SDKAdapter, _tls_context

REPEAT = 20
KINDS = {"openai": OpenAICompatProvider, "anthropic": AnthropicProvider}


def adapters() -> list[SDKAdapter]:
    out: list[SDKAdapter] = []
    for kind, cls in KINDS.items():
        for tier in Tier:
            provider = ProviderSpec(name=kind, kind=kind, base_url="http://127.0.0.1:9")  # type: ignore[arg-type]
            out.append(cls(ModelSpec(tier=tier, provider=provider, model="m", api_key=Secret("k"))))
    return out


def slop_clients() -> list[Any]:
    """As in a new process: the shared context is built once, by the first client."""
    _tls_context.cache_clear()
    return [adapter._ensure_client()[1] for adapter in adapters()]


def default_clients() -> list[Any]:
    """The same SDK clients with no `http_client`: the SDK makes its own, and its TLS context."""
    return [adapter._make_client(adapter._import_sdk(), "k", None) for adapter in adapters()]


def cpu_per_run(build: Callable[[], list[Any]]) -> float:
    build()  # imports and first-use costs, outside the measure
    started = time.process_time()
    for _ in range(REPEAT):
        build()
    return (time.process_time() - started) / REPEAT


def main() -> None:
    count = len(adapters())
    default_s = cpu_per_run(default_clients)
    slop_s = cpu_per_run(slop_clients)
    print(f"{count} SDK clients per run (2 provider kinds x {len(Tier)} tiers), {REPEAT} runs each way")
    print(f"SDK default (a TLS context each): {default_s * 1000:.1f} ms of CPU per run's clients")
    print(f"slop (one TLS context shared):    {slop_s * 1000:.1f} ms of CPU per run's clients")
    print(f"slop / default: {slop_s / default_s:.2f}")


if __name__ == "__main__":
    main()
