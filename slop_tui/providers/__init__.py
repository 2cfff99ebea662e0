"""One async protocol for every model call, an adapter per API family, and the offline
scripted provider. Importing this package imports no provider SDK."""

from slop_tui.providers.base import (
    SCRIPTED_LABEL,
    ModelReply,
    ModelRequest,
    Provider,
    ProviderError,
    ToolSpec,
    extract_json,
    tool_specs_for,
)
from slop_tui.providers.factory import make_provider
from slop_tui.providers.usage import UsageLedger, cost_of

__all__ = [
    "SCRIPTED_LABEL",
    "ModelReply",
    "ModelRequest",
    "Provider",
    "ProviderError",
    "ToolSpec",
    "UsageLedger",
    "cost_of",
    "extract_json",
    "make_provider",
    "tool_specs_for",
]
