"""Every SDK client of a process shares one TLS context (`sdk_adapter._tls_context`): building
one reads and parses the whole CA bundle, and each tier's client used to build its own."""

from __future__ import annotations

import ssl
from typing import Any

from slop_tui.models import Tier
from slop_tui.providers import make_provider
from slop_tui.providers.sdk_adapter import SDKAdapter
from slop_tui.testing import HTTPReply, LLMServer
from tests.providers.helpers import ADAPTERS, spec_for, user_request


def tls_context_of(provider: Any) -> ssl.SSLContext:
    """The context the provider's SDK client connects with (its HTTP client's connection pool)."""
    assert isinstance(provider, SDKAdapter)
    http = provider._client._client
    context = http._transport._pool._ssl_context
    assert isinstance(context, ssl.SSLContext)
    return context


async def test_every_tier_and_provider_kind_connects_with_one_tls_context(srv: LLMServer) -> None:
    providers = [
        make_provider(spec_for(kind, srv, tier=tier))
        for kind in ADAPTERS
        for tier in (Tier.PLANNER, Tier.WORKER)
    ]
    for provider in providers:
        srv.push(HTTPReply(text="ok"))
        reply = await provider.complete(user_request())  # through the real SDK, over HTTP
        assert reply.text == "ok"
    contexts = {tls_context_of(p) for p in providers}  # by identity
    clients = {id(p._client._client) for p in providers}  # type: ignore[attr-defined]
    for provider in providers:
        await provider.aclose()
    assert len(clients) == len(providers), "each provider keeps its own HTTP client"
    assert len(contexts) == 1
    # Shared, and still the verifying default: certificates and host names are checked.
    (context,) = contexts
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0, "the system's CA bundle is loaded"
