"""Spend limits: `[run] max_run_usd`, `max_ticket_usd`, `max_run_tokens`, `max_ticket_tokens`.

The session shows every priced call to a `Budget` (the run's total and the ticket's, as the
state folds them from the log, so a resumed run counts what it spent before). What a reached
limit does to the run (pause, ask, stop) is `conductor/spend.py`'s; this module only counts.
Workers running side by side may each finish the call they were in: the spend past the limit
(the overshoot) is named in the message. A limit raised for a run (`Budget.raise_limit`, the
TUI's question) lives in this object only: `agents.toml` is never written.

Tokens are counted as every view shows them (`Usage.total_tokens`): every token a model read or
wrote, cache reads and writes included (a cached token is cheaper, which the USD limits count,
but it is read all the same: with prompt caching most of a ticket's input is cache reads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import msgspec

from slop_tui.config import RunSettings
from slop_tui.errors import SlopError
from slop_tui.models import Usage

LimitName = Literal["max_run_usd", "max_ticket_usd", "max_run_tokens", "max_ticket_tokens"]
LIMIT_NAMES: tuple[LimitName, ...] = ("max_run_usd", "max_ticket_usd", "max_run_tokens", "max_ticket_tokens")
USD_LIMITS: tuple[LimitName, ...] = ("max_run_usd", "max_ticket_usd")


def tokens_of(usage: Usage) -> int:
    # The count every view shows (`Usage.total_tokens`), so a limit reads like the header.
    return usage.total_tokens


def show_amount(name: str, value: float) -> str:
    """50,000 for tokens, $1.25 for dollars."""
    if name.endswith("_usd"):
        return f"${value:,.2f}"
    return f"{int(value):,}"


def parse_amount(name: str, text: str) -> float:
    """A limit as a person types it (`88000`, `88,000`, `$2.50`); `SlopError` names the problem."""
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "").removeprefix("$")
    try:
        value = float(cleaned)
    except ValueError:
        raise SlopError(f"{name}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise SlopError(f"{name}: {text.strip()!r} is not a number")
    return value


class BudgetReached(msgspec.Struct, frozen=True, kw_only=True):
    """The first limit reached: which, its value, the spend when the run stopped."""

    limit: LimitName
    value: float
    spent: float
    ticket_id: str | None = None  # the ticket whose spend reached a per-ticket limit

    @property
    def overshoot(self) -> float:
        return max(0.0, self.spent - self.value)

    def _amount(self, value: float) -> str:
        return show_amount(self.limit, value)

    def _which(self, *, whose: bool = True) -> str:
        """`max_run_tokens 44,000`, and the ticket of a per-ticket limit when `whose`."""
        ticket = f" for ticket {self.ticket_id}" if whose and self.ticket_id else ""
        return f"{self.limit} {self._amount(self.value)}{ticket}"

    def message(self) -> str:
        """One line, for the headless stop and the run's end."""
        over = ""
        if self.overshoot > 0:
            over = f", {self._amount(self.overshoot)} over from steps in flight"
        return (
            f"budget reached: {self._which()} (spent {self._amount(self.spent)}{over}; "
            "raise it in your agents.toml [run] or stop)"
        )

    def question(self) -> str:
        """What the TUI asks while the run waits: the new limit must clear the spend."""
        over = self._amount(self.overshoot)
        return (
            f"budget reached: {self._which()} (spent {self._amount(self.spent)}, over by {over}): "
            f"raise by more than {over} or stop"
        )

    def suggested(self) -> float:
        """A new limit worth offering: the spend plus the old limit again (always above it)."""
        if self.limit.endswith("_usd"):
            return math.ceil((self.spent + self.value) * 100) / 100
        return float(math.ceil(self.spent + self.value))

    def stopped(self) -> str:
        """The run's end when the person chose to stop at the limit (the TUI)."""
        return (
            f"stopped at the budget: {self._which(whose=False)} (spent {self._amount(self.spent)}); "
            "running tickets were put back: R (or `slop resume`) continues the run"
        )

    def short(self) -> str:
        """For the TUI: the limit must be raised past the spend for any step to run."""
        return (
            f"budget reached: {self._which(whose=False)} (spent {self._amount(self.spent)}): "
            f"raise by more than {self._amount(self.overshoot)} in agents.toml [run] and resume, or stop"
        )


class Budget:
    """The run's limits and whether one is reached. Not thread-safe: the session's loop uses it."""

    def __init__(self, settings: RunSettings) -> None:
        self.limits: dict[LimitName, float] = {
            name: float(value) for name in LIMIT_NAMES if (value := getattr(settings, name, None)) is not None
        }
        self.reached: BudgetReached | None = None
        self.unpriced: list[str] = []  # models whose calls the USD limits cannot count

    @property
    def active(self) -> bool:
        return bool(self.limits)

    def note_unpriced(self, labels: Iterable[str]) -> str | None:
        """Remember unpriced models; the warning to show at the start when a USD limit is set."""
        self.unpriced = sorted(set(labels))
        usd = [n for n in USD_LIMITS if n in self.limits]
        if not usd or not self.unpriced:
            return None
        return (
            f"budget: {' and '.join(usd)} cannot be applied: no price for "
            f"{', '.join(self.unpriced)} (set [prices.\"provider:model\"] in your agents.toml); "
            "token limits still apply"
        )

    def raise_limit(self, name: LimitName, value: float) -> float:
        """Raise `name` to `value` for this run only; the old value. Refused (`SlopError`, with
        nothing changed) unless `value` is above the limit and above the spend that reached it."""
        if name not in self.limits:
            raise SlopError(f"{name} is not set for this run; only a set limit can be raised")
        old = self.limits[name]
        if math.isfinite(value) and not name.endswith("_usd"):
            value = float(math.floor(value))  # tokens are whole: the check below sees what is kept
        if not math.isfinite(value):
            raise SlopError(f"{name}: {value} is not a number above the limit {show_amount(name, old)}")
        if value <= old:
            raise SlopError(f"{name}: {show_amount(name, value)} is not above the limit {show_amount(name, old)}")
        reached = self.reached
        if reached is not None and reached.limit == name:
            if value <= reached.spent:
                raise SlopError(
                    f"{name}: {show_amount(name, value)} is not above the spend {show_amount(name, reached.spent)}"
                )
            self.reached = None
        self.limits[name] = value
        return old

    def _usd_applies(self) -> bool:
        return not self.unpriced

    def observe(self, run: Usage, ticket: Usage | None, ticket_id: str | None) -> BudgetReached | None:
        """After a call: the limit newly reached (None if none, or one was reached before; a
        reached one keeps its spend current so the message tells the overshoot)."""
        if self.reached is not None:
            spent = self._spent(self.reached.limit, run, ticket if ticket_id == self.reached.ticket_id else None)
            if spent is not None and spent > self.reached.spent:
                self.reached = msgspec.structs.replace(self.reached, spent=spent)
            return None
        for name, value in self.limits.items():
            spent = self._spent(name, run, ticket)
            if spent is not None and spent >= value:
                self.reached = BudgetReached(
                    limit=name, value=value, spent=spent,
                    ticket_id=ticket_id if name.startswith("max_ticket") else None,
                )
                return self.reached
        return None

    def _spent(self, name: LimitName, run: Usage, ticket: Usage | None) -> float | None:
        usage = run if name.startswith("max_run") else ticket
        if usage is None:
            return None
        if name in USD_LIMITS:
            if not self._usd_applies() or usage.cost_usd is None:
                return None
            return usage.cost_usd
        return float(tokens_of(usage))

    def header(self, run: Usage, tickets: Iterable[Usage] = ()) -> str:
        """The spend against each limit set ("" when none is), for the TUI header: the run's,
        and for a per-ticket limit the top spend of `tickets` (each ticket's usage)."""
        tickets = list(tickets)
        parts = []
        if "max_run_tokens" in self.limits:
            parts.append(f"{tokens_of(run):,}/{int(self.limits['max_run_tokens']):,} tok")
        if "max_run_usd" in self.limits and self._usd_applies():
            parts.append(f"${run.cost_usd or 0.0:,.2f}/${self.limits['max_run_usd']:,.2f}")
        if "max_ticket_tokens" in self.limits:
            top = max((tokens_of(t) for t in tickets), default=0)
            parts.append(f"top ticket {top:,}/{int(self.limits['max_ticket_tokens']):,} tok")
        if "max_ticket_usd" in self.limits and self._usd_applies():
            top_usd = max((t.cost_usd or 0.0 for t in tickets), default=0.0)
            parts.append(f"top ticket ${top_usd:,.2f}/${self.limits['max_ticket_usd']:,.2f}")
        return " · ".join(parts)
