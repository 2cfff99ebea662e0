"""Credentials that never show themselves, and which environment variables hold them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


# ---------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------


class Secret:
    """A credential that never shows itself: repr, str and encoders see a mask.

    Only `reveal()` gives the value, and only a provider adapter should call it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """First 4 characters and the length at most, as `slop doctor` shows it."""
        if len(self._value) <= 8:
            return f"*** ({len(self._value)} chars)"
        return f"{self._value[:4]}… ({len(self._value)} chars)"

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling would leak it: refuse
        raise TypeError("a Secret cannot be pickled")


MIN_SECRET_CHARS = 8  # shorter values are not keys, and masking them would maul ordinary output

# Names of slop's own environment variables whose values are masked wherever text is written or
# passed on, configured as keys or not: a token there is a secret whatever slop makes of it.
_SECRET_NAME = re.compile(r"^(?:.*_(?:KEY|TOKEN|SECRET|PASSWORD)|AWS_.*|GITHUB_TOKEN|GH_TOKEN|HF_TOKEN)$")


# `AWS_*` names that hold settings, not secrets: masking `us-east-1` or a profile name would
# maul ordinary output (every region name in a log) for nothing.
_AWS_SETTINGS = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_DEFAULT_OUTPUT",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CA_BUNDLE",
        "AWS_PAGER",
        "AWS_SDK_LOAD_CONFIG",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "AWS_ENDPOINT_URL",
    }
)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's NAME says it holds a secret (`*_KEY`, `AWS_*`, ...)."""
    upper = name.upper()
    return upper not in _AWS_SETTINGS and bool(_SECRET_NAME.match(upper))


def environment_secrets(env: Mapping[str, str]) -> list[str]:
    """The values (of `MIN_SECRET_CHARS` or more) of every variable in `env` that `looks_secret`."""
    return [v for k, v in env.items() if looks_secret(k) and len(v.strip()) >= MIN_SECRET_CHARS]


def secret_forms(value: str) -> list[str]:
    """`value` as written plain and as a repr, JSON or a URL escapes it, longest first: a key
    with a quote, backslash or control character printed by `repr()` or `json.dumps` or sent in
    a query string is still the key."""
    import json
    from urllib.parse import quote, quote_plus

    if len(value) < MIN_SECRET_CHARS:
        return []
    forms = {
        value,
        value.strip(),
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
    }
    return sorted((f for f in forms if len(f) >= MIN_SECRET_CHARS), key=len, reverse=True)


def enc_hook(obj: Any) -> Any:
    """msgspec encoder hook: a `Secret` is always written as a mask, never its value."""
    if isinstance(obj, Secret):
        return "***"
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")
