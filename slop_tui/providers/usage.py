"""Token and cost accounting: per call, per ticket, per tier and in total.

Prices come from `agents.toml` in US dollars per million tokens (`PriceSpec`, with built-in
defaults for the default models). `input_tokens` is the uncached part of a prompt; cache reads
and writes are charged at their own prices, or at the input price when a model's cache prices
are unknown (an upper bound where a provider discounts cached tokens, never an underestimate).
"""

from __future__ import annotations

from slop_tui.config import PriceSpec
from slop_tui.models import Tier, Usage, UsageUpdated

_PER_MILLION = 1_000_000.0


def cost_of(usage: Usage, price: PriceSpec | None) -> float | None:
    """Dollars for `usage` at `price`, or None when the model has no price."""
    if price is None:
        return None
    return (
        usage.input_tokens * price.input
        + usage.cache_read_tokens * price.read_price()
        + usage.cache_write_tokens * price.write_price()
        + usage.output_tokens * price.output
    ) / _PER_MILLION


def priced(usage: Usage, price: PriceSpec | None) -> Usage:
    """A copy of `usage` with `cost_usd` filled from `price` (kept as is when unpriced)."""
    cost = cost_of(usage, price)
    if cost is None:
        return usage
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_usd=cost,
    )


class UsageLedger:
    """Sums every call's usage; `record` returns the event to publish for that call.

    Not thread-safe by design: the conductor records from its one event loop.
    """

    def __init__(self) -> None:
        self._by_ticket: dict[str, Usage] = {}
        self._by_tier: dict[Tier, Usage] = {}
        self._by_model: dict[str, Usage] = {}
        self.total: Usage = Usage()
        self.calls: int = 0

    def record(
        self,
        tier: Tier,
        model_label: str,
        ticket_id: str | None,
        usage: Usage,
        price: PriceSpec | None,
    ) -> UsageUpdated:
        """Add one call's usage (costed when `price` is given) and return its event."""
        call = priced(usage, price)
        self.calls += 1
        self.total = self.total + call
        self._by_tier[tier] = self._by_tier.get(tier, Usage()) + call
        self._by_model[model_label] = self._by_model.get(model_label, Usage()) + call
        if ticket_id is not None:
            self._by_ticket[ticket_id] = self._by_ticket.get(ticket_id, Usage()) + call
        return UsageUpdated(ticket_id=ticket_id, tier=tier, model=model_label, usage=call)

    def for_ticket(self, ticket_id: str) -> Usage:
        return self._by_ticket.get(ticket_id, Usage())

    def for_tier(self, tier: Tier) -> Usage:
        return self._by_tier.get(tier, Usage())

    def for_model(self, model_label: str) -> Usage:
        return self._by_model.get(model_label, Usage())

    def tickets(self) -> dict[str, Usage]:
        return dict(self._by_ticket)

    def tiers(self) -> dict[Tier, Usage]:
        return dict(self._by_tier)
