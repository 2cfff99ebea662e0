"""Turn an SDK exception into one clear `ProviderError`, without the key or a traceback.

Both SDKs are generated from the same template (Stainless), so their exception classes share
names; this module reads them off whichever SDK module the adapter passes in. Retrying is the
SDKs' job (they back off on 408/409/429/5xx, timeouts and connection resets, and honour
Retry-After); here we only describe what the last try saw.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from slop_tui.config import ModelSpec
from slop_tui.providers.base import ProviderError, one_line

_REASONS: dict[int, str] = {
    400: "bad request",
    401: "authentication failed: check the key",
    402: "payment required",
    403: "permission denied",
    404: "not found: check the model name and base_url",
    408: "request timeout",
    409: "conflict",
    413: "request too large",
    422: "unprocessable request",
    429: "rate limited",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    529: "overloaded",
}


def _retried_status(status: int, headers: Any) -> bool:
    """Mirror of the SDKs' `_should_retry`: which answers they already retried."""
    should_retry = headers.get("x-should-retry") if headers is not None else None
    if should_retry in ("true", "false"):
        return should_retry == "true"
    return status in (408, 409, 429) or status >= 500


def _server_message(body: object) -> str:
    """The human part of an error body: `{"error": {"message": ...}}` in both APIs."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        return json.dumps(body)[:200]
    if isinstance(body, (str, bytes)):
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return ""


def tries_word(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


def _is_timeout(exc: BaseException, sdk: ModuleType) -> bool:
    if isinstance(exc, sdk.APITimeoutError):
        return True
    # The HTTP stack's own timeouts (httpx's `TimeoutException` family), unwrapped mid-stream.
    return any(cls.__name__ == "TimeoutException" for cls in type(exc).__mro__)


def _mid_stream(exc: BaseException, spec: ModelSpec, sdk: ModuleType) -> ProviderError | None:
    """A reply that broke after it started is never retried: say what happened to *it*."""
    if _is_timeout(exc, sdk):
        return ProviderError(
            spec,
            f"the streamed reply stalled: no data for {spec.provider.timeout_s:g} s "
            "(the reply was cut off; nothing was retried)",
        )
    if isinstance(exc, sdk.APIConnectionError) or not isinstance(exc, (sdk.APIError, ValueError)):
        cause = exc.__cause__ or exc.__context__ or exc
        detail = one_line(str(cause))
        name = type(cause).__name__
        return ProviderError(
            spec, f"connection lost during the reply ({name}{': ' + detail if detail else ''})"
        )
    return None


def translate(
    exc: BaseException, spec: ModelSpec, sdk: ModuleType, *, mid_stream: bool = False
) -> ProviderError:
    """Describe `exc` (raised by `sdk` or by its HTTP stack) as a `ProviderError`.

    `mid_stream`: raised while a streamed reply was being read, after the request succeeded.
    """
    if mid_stream:
        described = _mid_stream(exc, spec, sdk)
        if described is not None:
            return described
    tries = spec.provider.max_retries + 1
    if isinstance(exc, sdk.APIStatusError):
        status = int(exc.status_code)
        reason = _REASONS.get(status, "error")
        detail = one_line(_server_message(exc.body))
        said = f"{reason}: {detail}" if detail else reason
        if _retried_status(status, exc.response.headers):
            return ProviderError(spec, f"HTTP {status} after {tries_word(tries)} ({said})")
        return ProviderError(spec, f"HTTP {status} ({said})")
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError(
            spec,
            f"timed out after {tries_word(tries)} ({spec.provider.timeout_s:g} s each)",
        )
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = one_line(str(cause)) if cause is not None and str(cause) else "connection error"
        return ProviderError(spec, f"connection failed after {tries_word(tries)} ({detail})")
    if isinstance(exc, sdk.APIResponseValidationError) or isinstance(exc, ValueError):
        return ProviderError(spec, f"malformed response ({one_line(str(exc), 120)})")
    if isinstance(exc, sdk.APIError):
        return ProviderError(spec, f"API error ({one_line(str(exc))})")
    # Errors of the HTTP stack while a streamed body is read are not wrapped by the SDKs.
    name = type(exc).__name__
    detail = one_line(str(exc))
    return ProviderError(
        spec, f"connection lost during the reply ({name}{': ' + detail if detail else ''})"
    )
