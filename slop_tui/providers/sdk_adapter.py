"""What the Anthropic and OpenAI-compatible adapters share: lazy SDK client, structured-output
fallback, the overall deadline and the one place SDK exceptions become `ProviderError`.

The SDK is imported on the first call (importing it costs 0.3-0.7 s, see FACTS), and the
client is built then too, so a provider object is cheap to make at start-up.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import ssl
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

from slop_tui.config import ModelSpec
from slop_tui.providers import faults
from slop_tui.providers.observed import RETRY_LISTENER, RetryWait
from slop_tui.providers.base import (
    ModelReply,
    ModelRequest,
    ProviderError,
    StreamItem,
    clean_reply,
    clean_text,
)

# The longest server-directed wait (Retry-After) a call may spend between tries before it is
# given up: the Anthropic SDK honours any Retry-After, however long, and a call must not hang.
MAX_RETRY_WAIT_S = 60.0

PROMPT_LEVEL = "prompt"  # the schema goes into the system prompt; nothing is enforced


class SDKAdapter(abc.ABC):
    """A provider backed by a vendor SDK. Subclasses map requests and replies."""

    # Structured-output modes to try in order, best first; the last is always `PROMPT_LEVEL`.
    FORMAT_LEVELS: tuple[str, ...] = (PROMPT_LEVEL,)

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.label = spec.label
        self._sdk: ModuleType | None = None
        self._client: Any = None
        self._caught: tuple[type[BaseException], ...] = ()
        # Index into FORMAT_LEVELS of the best mode this endpoint accepted; it only moves down.
        self._level = 0

    # -- what a subclass provides ---------------------------------------------------------

    @abc.abstractmethod
    def _import_sdk(self) -> ModuleType:
        """Import and return the SDK module."""

    @abc.abstractmethod
    def _make_client(self, sdk: ModuleType, api_key: str | None, http_client: Any) -> Any:
        """Build the SDK's async client on `http_client`, with the spec's base_url, retries and
        timeout."""

    @abc.abstractmethod
    def _params(self, request: ModelRequest, level: str) -> dict[str, Any]:
        """Keyword arguments of the SDK's create call for this request and format level."""

    @abc.abstractmethod
    async def _create(self, client: Any, params: dict[str, Any], stream: bool) -> Any:
        """Send one request (the SDK retries inside); return its response or stream."""

    @abc.abstractmethod
    def _reply_from(self, response: Any) -> ModelReply:
        """Map a non-streamed response to a `ModelReply`."""

    @abc.abstractmethod
    def _replies_from(self, stream: Any) -> AsyncIterator[StreamItem]:
        """Map a response stream to text deltas and a final `ModelReply`."""

    def _needs_key(self) -> bool:
        return True

    # -- shared machinery -----------------------------------------------------------------

    def _ensure_client(self) -> tuple[ModuleType, Any]:
        if self._sdk is None or self._client is None:
            key = self.spec.api_key.reveal() if self.spec.api_key else None
            if not key and self._needs_key():
                env = self.spec.provider.key_env
                hint = f"set ${env} or " if env else ""
                raise ProviderError(self.spec, f"no API key ({hint}add it to credentials.toml)")
            sdk = self._import_sdk()
            import httpx2  # the SDKs' own HTTP stack: loaded by now, and it raises mid-stream

            self._caught = (sdk.APIError, httpx2.HTTPError, ValueError)
            # The SDK's default HTTP client, on the process's one TLS context (`_tls_context`).
            http_client = sdk.DefaultAsyncHttpxClient(verify=_tls_context())
            self._client = self._make_client(sdk, key, http_client)
            _report_retries(self._client)
            self._sdk = sdk
        return self._sdk, self._client

    def _budget_s(self) -> float:
        """The longest one call may take before its response starts, retries included."""
        provider = self.spec.provider
        return (provider.max_retries + 1) * provider.timeout_s + provider.max_retries * (
            MAX_RETRY_WAIT_S
        )

    def _levels(self, request: ModelRequest) -> tuple[str, ...]:
        if request.response_schema is None:
            return (PROMPT_LEVEL,)
        return self.FORMAT_LEVELS[self._level :]

    def _is_format_refusal(self, exc: BaseException) -> bool:
        """A 400/422 to a request that carried a response format: try the next mode."""
        assert self._sdk is not None
        return isinstance(exc, self._sdk.APIStatusError) and exc.status_code in (400, 422)

    def _timed_out(self) -> ProviderError:
        provider = self.spec.provider
        return ProviderError(
            self.spec,
            f"no answer within {self._budget_s():g} s over "
            f"{faults.tries_word(provider.max_retries + 1)} (slow replies or long Retry-After)",
        )

    async def _open(self, request: ModelRequest, stream: bool) -> Any:
        """Send the request, stepping down the structured-output modes on refusal.

        Every SDK exception becomes a `ProviderError` raised outside the `except` block, so
        it carries no chained exception (and no request headers) with it.
        """
        sdk, client = self._ensure_client()
        levels = self._levels(request)
        failure: ProviderError | None = None
        for position, level in enumerate(levels):
            params = self._params(request, level)
            try:
                async with asyncio.timeout(self._budget_s()):
                    response = await self._create(client, params, stream)
            except TimeoutError:
                failure = self._timed_out()
                break
            except self._caught as exc:
                failure = faults.translate(exc, self.spec, sdk)
                if position + 1 < len(levels) and self._is_format_refusal(exc):
                    continue
                break
            if request.response_schema is not None:
                self._level = self.FORMAT_LEVELS.index(level)
            return response
        assert failure is not None
        raise failure

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        response = await self._open(request, stream=False)
        return clean_reply(self._reply_from(response))

    async def stream(
        self, request: ModelRequest, *, ticket_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        response = await self._open(request, stream=True)
        assert self._sdk is not None
        failure: ProviderError | None = None
        events = self._replies_from(response)
        try:
            async for item in events:
                if isinstance(item, ModelReply):
                    yield clean_reply(item)
                elif isinstance(item, str):
                    yield clean_text(item)
                else:
                    yield item  # a tool-call piece: shown only as progress, the reply is cleaned
        except self._caught as exc:
            failure = faults.translate(exc, self.spec, self._sdk, mid_stream=True)
        finally:
            await _close_quietly(response)
        if failure is not None:
            raise failure

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self._sdk = None
        if client is not None:
            await client.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS context every SDK client of the process shares, made as the SDKs' HTTP stack
    makes its default one (the system's CA bundle; `SSL_CERT_FILE` / `SSL_CERT_DIR` when set).

    Building one reads and parses the whole CA bundle (~25 ms of CPU, ~70 ms on a busy
    machine), and each SDK client built its own: one per tier, in every run. A context is
    meant to be shared; each client still has its own connections.
    """
    import httpx2

    return httpx2.create_ssl_context()


def _report_retries(client: Any) -> None:
    """Tell `RETRY_LISTENER` of every wait the SDK's own retry loop makes, before it waits.

    Both SDKs (Stainless-generated) wait in `_sleep_for_retry`, after computing the wait with
    `_calculate_retry_timeout`; the replacement computes the same wait, reports it, and
    sleeps it. An SDK without them retries unreported, as before.
    """
    original = getattr(client, "_sleep_for_retry", None)
    calculate = getattr(client, "_calculate_retry_timeout", None)
    if original is None or calculate is None:
        return

    async def sleep_for_retry(*, retries_taken: int, max_retries: int, options: Any, response: Any) -> None:
        listener = RETRY_LISTENER.get()
        if listener is None:
            await original(retries_taken=retries_taken, max_retries=max_retries, options=options, response=response)
            return
        headers = response.headers if response is not None else None
        wait = float(calculate(max_retries - retries_taken, options, headers))
        status = int(response.status_code) if response is not None else None
        await listener(RetryWait(attempt=retries_taken + 2, tries=max_retries + 1, wait_s=wait, status=status))
        await asyncio.sleep(wait)

    client._sleep_for_retry = sleep_for_retry


async def _close_quietly(response: Any) -> None:
    """Release a stream's connection; a connection that already broke has nothing to release."""
    close = getattr(response, "close", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # noqa: BLE001 - closing a broken stream must not mask the real error
        return
