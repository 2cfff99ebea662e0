"""Reports over a ledger: monthly totals, categories, weeks, and a small text chart."""

import os
from datetime import date, timedelta

from app import config
from app.storage import Ledger

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
BAR_WIDTH = 30


def _currency():
    return os.environ.get("PENNY_CURRENCY", config.CURRENCY)


def _decimals():
    raw = os.getenv("PENNY_DECIMALS", "2")
    try:
        decimals = int(raw)
    except ValueError:
        raise ValueError(f"PENNY_DECIMALS must be 0, 1 or 2, got {raw!r}") from None
    if decimals not in (0, 1, 2):
        raise ValueError(f"PENNY_DECIMALS must be 0, 1 or 2, got {raw!r}")
    return decimals


def format_money(cents):
    """``1234`` -> ``"12.34 EUR"``, with thousands separated by a thin space."""
    decimals = _decimals()
    negative = cents < 0
    cents = abs(cents)
    whole, fraction = divmod(cents, 100)
    if decimals == 0:
        whole += 1 if fraction >= 50 else 0
        text = f"{whole:,}".replace(",", "\u202f")
    elif decimals == 1:
        tenths = (fraction + 5) // 10
        if tenths == 10:
            whole, tenths = whole + 1, 0
        text = f"{whole:,}".replace(",", "\u202f") + f".{tenths}"
    else:
        text = f"{whole:,}".replace(",", "\u202f") + f".{fraction:02d}"
    return f"{'-' if negative else ''}{text} {_currency()}"


def week_start_of(day):
    """The first day of the week that holds `day`, by ``PENNY_WEEK_START``."""
    name = os.environ.get("PENNY_WEEK_START", "monday").strip().lower()
    if name not in WEEKDAYS:
        raise ValueError(f"PENNY_WEEK_START must be a weekday name, got {name!r}")
    first = WEEKDAYS.index(name)
    offset = (day.weekday() - first) % 7
    return day - timedelta(days=offset)


def category_totals(ledger, month=None):
    """``{category: cents}`` for one month (or all time), largest first."""
    totals = {}
    for expense in ledger.filter(month=month):
        totals[expense.category] = totals.get(expense.category, 0) + expense.cents
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def weekly_totals(ledger, month=None):
    """``[(week start, cents)]`` in order, with empty weeks between filled with zero."""
    expenses = ledger.filter(month=month)
    if not expenses:
        return []
    sums = {}
    for expense in expenses:
        start = week_start_of(expense.as_date())
        sums[start] = sums.get(start, 0) + expense.cents
    first, last = min(sums), max(sums)
    rows = []
    current = first
    while current <= last:
        rows.append((current, sums.get(current, 0)))
        current += timedelta(days=7)
    return rows


def bar(value, largest, width=BAR_WIDTH):
    """A bar of ``#`` proportional to ``value / largest``; at least one mark for any value."""
    if largest <= 0 or value <= 0:
        return ""
    marks = round(width * value / largest)
    return "#" * max(marks, 1)


def month_report(ledger, month):
    """The text of a monthly report: total, per category with bars, then per week."""
    expenses = ledger.filter(month=month)
    lines = [f"Expenses for {month}", "=" * (13 + len(month))]
    if not expenses:
        lines.append("(nothing recorded)")
        return "\n".join(lines)
    total = sum(e.cents for e in expenses)
    lines.append(f"Total: {format_money(total)} in {len(expenses)} expense(s)")
    lines.append("")
    lines.append("By category:")
    totals = category_totals(ledger, month)
    largest = max(totals.values())
    label_width = max(len(name) for name in totals)
    for name, cents in totals.items():
        share = 100 * cents / total
        lines.append(
            f"  {name:<{label_width}}  {format_money(cents):>14}  {share:5.1f}%  {bar(cents, largest)}"
        )
    lines.append("")
    lines.append("By week:")
    for start, cents in weekly_totals(ledger, month):
        lines.append(f"  {start.isoformat()}  {format_money(cents):>14}")
    biggest = max(expenses, key=lambda e: (e.cents, -e.id))
    lines.append("")
    lines.append(
        f"Largest: {format_money(biggest.cents)} on {biggest.day} ({biggest.category}"
        + (f": {biggest.note})" if biggest.note else ")")
    )
    return "\n".join(lines)


def compare_months(ledger, month, previous=None):
    """Per category, this month against the one before: ``[(category, now, before, delta)]``."""
    if previous is None:
        year, number = (int(part) for part in month.split("-"))
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
        previous = f"{year:04d}-{number:02d}"
    now = category_totals(ledger, month)
    before = category_totals(ledger, previous)
    rows = []
    for name in sorted(set(now) | set(before)):
        rows.append((name, now.get(name, 0), before.get(name, 0), now.get(name, 0) - before.get(name, 0)))
    rows.sort(key=lambda row: (-abs(row[3]), row[0]))
    return rows


def compare_report(ledger, month, previous=None):
    """`compare_months` as text: one line per category with the change and an arrow."""
    rows = compare_months(ledger, month, previous)
    if not rows:
        return f"Nothing recorded in {month} or the month before."
    width = max(len(row[0]) for row in rows)
    lines = [f"{month} against the month before", ""]
    for name, now, before, delta in rows:
        if before == 0:
            change = "new"
        elif now == 0:
            change = "gone"
        else:
            change = f"{100 * delta / before:+.0f}%"
        arrow = "^" if delta > 0 else ("v" if delta < 0 else "=")
        lines.append(
            f"{arrow} {name:<{width}}  {format_money(now):>14}  {format_money(before):>14}  {change:>6}"
        )
    now_total = sum(row[1] for row in rows)
    before_total = sum(row[2] for row in rows)
    lines.append("")
    lines.append(f"  {'total':<{width}}  {format_money(now_total):>14}  {format_money(before_total):>14}")
    return "\n".join(lines)


def trend_lines(ledger, months=6, today=None):
    """The last `months` months as ``YYYY-MM  amount  bar`` lines, oldest first."""
    today = today or date.today()
    keys = []
    year, number = today.year, today.month
    for _ in range(months):
        keys.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    keys.reverse()
    totals = [(key, ledger.total(month=key)) for key in keys]
    largest = max((cents for _, cents in totals), default=0)
    return [f"{key}  {format_money(cents):>14}  {bar(cents, largest)}" for key, cents in totals]


def summary_for_path(path, month):
    """Open the ledger at `path` and return its report for `month` (used by scripts)."""
    ledger = Ledger.open(path)
    if config.DEBUG:
        print(f"[report] {len(ledger.expenses)} expense(s) in {path}")
    return month_report(ledger, month)


def render_markdown(ledger, month):
    """The monthly report as a Markdown document (a table per section), for sharing."""
    expenses = ledger.filter(month=month)
    lines = [f"# Expenses for {month}", ""]
    if not expenses:
        lines.append("_Nothing recorded._")
        return "\n".join(lines) + "\n"
    total = sum(e.cents for e in expenses)
    lines.append(f"**Total:** {format_money(total)} in {len(expenses)} expense(s)")
    lines += ["", "## By category", "", "| category | amount | share |", "| --- | ---: | ---: |"]
    for name, cents in category_totals(ledger, month).items():
        lines.append(f"| {name} | {format_money(cents)} | {100 * cents / total:.1f}% |")
    lines += ["", "## By week", "", "| week of | amount |", "| --- | ---: |"]
    for start, cents in weekly_totals(ledger, month):
        lines.append(f"| {start.isoformat()} | {format_money(cents)} |")
    lines += ["", "## Every expense", "", "| # | day | amount | category | note |", "| ---: | --- | ---: | --- | --- |"]
    for expense in expenses:
        note = expense.note.replace("|", "\\|")
        lines.append(
            f"| {expense.id} | {expense.day} | {format_money(expense.cents)} | {expense.category} | {note} |"
        )
    return "\n".join(lines) + "\n"


def year_summary(ledger, year):
    """Per month of `year`: ``(month, total, largest category, its amount)``; empty months too."""
    rows = []
    for number in range(1, 13):
        month = f"{year:04d}-{number:02d}"
        totals = category_totals(ledger, month)
        if totals:
            top, top_cents = next(iter(totals.items()))
        else:
            top, top_cents = "", 0
        rows.append((month, sum(totals.values()), top, top_cents))
    return rows


def year_report(ledger, year):
    """`year_summary` as text, with the year's total and monthly average (of months with data)."""
    rows = year_summary(ledger, year)
    active = [row for row in rows if row[1]]
    lines = [f"Year {year}", "=" * (5 + len(str(year)))]
    if not active:
        lines.append("(nothing recorded)")
        return "\n".join(lines)
    largest = max(row[1] for row in rows)
    for month, cents, top, top_cents in rows:
        detail = f"  top: {top} {format_money(top_cents)}" if top else ""
        lines.append(f"{month}  {format_money(cents):>14}  {bar(cents, largest, width=20):<20}{detail}")
    total = sum(row[1] for row in rows)
    lines.append("")
    lines.append(f"Total {format_money(total)}, average {format_money(total // len(active))} a month")
    return "\n".join(lines)
