"""Tokens spent by a call or summed over many, and their cost when prices are known."""

from __future__ import annotations

import msgspec


# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------


class Usage(msgspec.Struct, kw_only=True):
    """Tokens spent by one call or summed over many; cost only when prices are known."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        if self.cost_usd is None and other.cost_usd is None:
            cost = None
        else:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=cost,
        )

    @property
    def total_tokens(self) -> int:
        """Every token the model read or wrote: cache reads and writes are tokens read too (a
        cheaper price is the USD side's business, not a smaller count)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens + self.output_tokens
