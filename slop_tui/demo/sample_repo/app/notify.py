"""Budget alerts: how much of the monthly budget is spent, and what to tell the user."""

import calendar
import os
from dataclasses import dataclass
from datetime import date

from app import config
from app.report import format_money


@dataclass
class BudgetStatus:
    """Where one month stands against the budget."""

    month: str
    spent: int
    budget: int
    level: int

    @property
    def ratio(self):
        return self.spent / self.budget if self.budget else 0.0

    @property
    def over(self):
        return self.budget > 0 and self.spent > self.budget

    @property
    def warn(self):
        return self.budget > 0 and not self.over and self.ratio * 100 >= self.level


def budget_cents():
    """The monthly budget in cents from ``PENNY_BUDGET`` (0 means no budget)."""
    raw = os.environ.get("PENNY_BUDGET", "0").strip() or "0"
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise ValueError(f"PENNY_BUDGET must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"PENNY_BUDGET cannot be negative, got {raw!r}")
    return round(value * 100)


def alert_level():
    """The percent of the budget at which a warning starts (``PENNY_ALERT_LEVEL``)."""
    raw = os.environ.get("PENNY_ALERT_LEVEL", "80")
    try:
        level = int(raw)
    except ValueError:
        raise ValueError(f"PENNY_ALERT_LEVEL must be a whole number, got {raw!r}") from None
    if not 1 <= level <= 100:
        raise ValueError(f"PENNY_ALERT_LEVEL must be between 1 and 100, got {level}")
    return level


def category_limits():
    """Monthly limits per category in cents, from ``PENNY_LIMITS`` (``food=200, fun=50``)."""
    raw = os.environ.get("PENNY_LIMITS", "").strip()
    limits = {}
    if not raw:
        return limits
    for position, item in enumerate(raw.replace(";", ",").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        name, sep, amount = item.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise ValueError(f"PENNY_LIMITS item {position}: expected category=amount, got {item!r}")
        try:
            value = float(amount.strip().replace(",", "."))
        except ValueError:
            raise ValueError(f"PENNY_LIMITS item {position}: {amount.strip()!r} is not a number") from None
        if value <= 0:
            raise ValueError(f"PENNY_LIMITS item {position}: the limit for {name} must be positive")
        if name in limits:
            raise ValueError(f"PENNY_LIMITS: {name} is limited twice")
        limits[name] = round(value * 100)
    return limits


def category_warnings(ledger, month):
    """Lines for the categories over (or near, by the alert level) their own monthly limit."""
    limits = category_limits()
    if not limits:
        return []
    level = alert_level()
    lines = []
    for name in sorted(limits):
        limit = limits[name]
        spent = ledger.total(month=month, category=name)
        if spent > limit:
            lines.append(
                f"{name}: {format_money(spent)} spent, {format_money(spent - limit)} over its "
                f"{format_money(limit)} limit"
            )
        elif spent * 100 >= limit * level:
            lines.append(
                f"{name}: {round(100 * spent / limit)}% of its {format_money(limit)} limit spent"
            )
    if config.DEBUG:
        print(f"[notify] {len(lines)} category warning(s) for {month}")
    return lines


def status(ledger, month):
    """The budget status of `month` in `ledger`."""
    return BudgetStatus(
        month=month,
        spent=ledger.total(month=month),
        budget=budget_cents(),
        level=alert_level(),
    )


def message(current):
    """One line for the user, or ``None`` when there is nothing to say."""
    if current.budget <= 0:
        if config.DEBUG:
            print("[notify] no budget set")
        return None
    if current.over:
        over_by = current.spent - current.budget
        return (
            f"Over budget for {current.month}: spent {format_money(current.spent)} of "
            f"{format_money(current.budget)} ({format_money(over_by)} over)."
        )
    if current.warn:
        left = current.budget - current.spent
        return (
            f"{round(current.ratio * 100)}% of the {current.month} budget is spent; "
            f"{format_money(left)} left."
        )
    if config.DEBUG:
        print(f"[notify] {current.month}: {current.ratio:.0%} of the budget, nothing to say")
    return None


def check(ledger, month):
    """The message for `month`, after an expense was added (``None`` if all is well)."""
    return message(status(ledger, month))


def _days_in(month):
    year, number = (int(part) for part in month.split("-"))
    return calendar.monthrange(year, number)[1]


def forecast(ledger, month, today):
    """The month's projected total in cents, from the pace so far (``today`` within the month).

    Before the month starts it is 0; after it ends it is the actual total.
    """
    spent = ledger.total(month=month)
    days = _days_in(month)
    current = today.isoformat()[:7]
    if current < month:
        return 0
    if current > month:
        return spent
    elapsed = today.day
    if elapsed <= 0:
        return spent
    return round(spent * days / elapsed)


def daily_allowance(ledger, month, today):
    """Cents left to spend per remaining day (today included) to stay within the budget."""
    budget = budget_cents()
    if budget <= 0:
        return None
    left = budget - ledger.total(month=month)
    if left <= 0:
        return 0
    remaining_days = _days_in(month) - today.day + 1
    if remaining_days <= 0:
        return 0
    return left // remaining_days


def digest(ledger, month, today):
    """A few lines on the month so far: spent, pace, allowance and the budget message."""
    current = status(ledger, month)
    lines = [f"{month}: {format_money(current.spent)} spent"]
    projected = forecast(ledger, month, today)
    if projected and projected != current.spent:
        lines.append(f"at this pace: {format_money(projected)} by the end of the month")
    if current.budget > 0:
        lines.append(f"budget: {format_money(current.budget)} ({round(current.ratio * 100)}% used)")
        allowance = daily_allowance(ledger, month, today)
        if allowance:
            lines.append(f"you can spend {format_money(allowance)} a day until the end of the month")
        if projected > current.budget and not current.over:
            lines.append("warning: at this pace the budget will not last the month")
    line = message(current)
    if line:
        lines.append(line)
    lines.extend(category_warnings(ledger, month))
    if config.DEBUG:
        print(f"[notify] digest for {month}: {len(lines)} line(s)")
    return lines
