"""`make_provider(spec)`: the adapter for a tier's model, chosen by `spec.provider.kind`.

Building a provider imports no SDK; the adapter imports its SDK on its first call.
"""

from __future__ import annotations

from slop_tui.config import ModelSpec
from slop_tui.providers.base import Provider, ProviderError


def make_provider(spec: ModelSpec) -> Provider:
    kind = spec.provider.kind
    if kind == "anthropic":
        from slop_tui.providers.anthropic import AnthropicProvider

        return AnthropicProvider(spec)
    if kind == "openai":
        from slop_tui.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(spec)
    if kind == "scripted":
        from slop_tui.providers.scripted import ScriptedProvider

        return ScriptedProvider.from_spec(spec)
    raise ProviderError(spec, f"unknown provider kind {kind!r} (known: anthropic, openai, scripted)")
