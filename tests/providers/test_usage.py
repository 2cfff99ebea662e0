"""Usage accounting: per call, per ticket, per tier and in total, priced per million tokens."""

from __future__ import annotations

import msgspec
import pytest

from slop_tui.config import PriceSpec
from slop_tui.models import AnyEvent, Tier, Usage, UsageUpdated
from slop_tui.providers import UsageLedger, cost_of


def test_cost_is_per_million_and_cache_tokens_count_at_the_input_price() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cache_read_tokens=200_000, cache_write_tokens=100_000)
    assert cost_of(usage, PriceSpec(input=3.0, output=15.0)) == pytest.approx(1.3 * 3.0 + 0.5 * 15.0)
    assert cost_of(usage, None) is None


def test_ledger_sums_per_ticket_tier_and_total() -> None:
    ledger = UsageLedger()
    price = PriceSpec(input=1.0, output=4.0)
    ledger.record(Tier.PLANNER, "anthropic:big", None, Usage(input_tokens=1000, output_tokens=100), price)
    ledger.record(Tier.WORKER, "deepseek:chat", "T1", Usage(input_tokens=200, output_tokens=20), None)
    ledger.record(Tier.WORKER, "deepseek:chat", "T2", Usage(input_tokens=300, output_tokens=30), None)
    event = ledger.record(Tier.DEFAULT_CHEAP, "openai:mini", "T1", Usage(input_tokens=50, output_tokens=5), price)

    assert isinstance(event, UsageUpdated)
    assert (event.ticket_id, event.tier, event.model) == ("T1", Tier.DEFAULT_CHEAP, "openai:mini")
    assert event.usage.cost_usd == pytest.approx((50 + 20) / 1e6)

    assert ledger.for_ticket("T1") == Usage(input_tokens=250, output_tokens=25, cost_usd=pytest.approx(70 / 1e6))  # type: ignore[arg-type]
    assert ledger.for_ticket("T2") == Usage(input_tokens=300, output_tokens=30)  # unpriced: no cost
    assert ledger.for_ticket("nope") == Usage()
    assert ledger.for_tier(Tier.WORKER) == Usage(input_tokens=500, output_tokens=50)
    assert ledger.for_tier(Tier.LEAD) == Usage()
    assert ledger.for_model("anthropic:big").cost_usd == pytest.approx(1400 / 1e6)
    assert ledger.total.input_tokens == 1550
    assert ledger.total.output_tokens == 155
    assert ledger.total.cost_usd == pytest.approx((1400 + 70) / 1e6)
    assert ledger.calls == 4
    assert set(ledger.tickets()) == {"T1", "T2"}
    assert set(ledger.tiers()) == {Tier.PLANNER, Tier.WORKER, Tier.DEFAULT_CHEAP}


def test_usage_events_round_trip_through_the_event_log_encoding() -> None:
    event = UsageLedger().record(Tier.LEAD, "x:y", None, Usage(input_tokens=3, output_tokens=4), PriceSpec(input=1, output=1))
    decoded = msgspec.json.decode(msgspec.json.encode(event), type=AnyEvent)
    assert decoded == event
