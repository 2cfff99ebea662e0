"""The ``python -m app`` command line: add, list, remove, report, trend, budget, config."""

import argparse
import os
import sys
from datetime import date

from app import config, notify, report
from app.storage import Ledger, LedgerError, export_csv, import_csv, parse_amount


def _month(text):
    try:
        year, number = text.split("-")
        if len(year) != 4 or not 1 <= int(number) <= 12:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None
    return f"{int(year):04d}-{int(number):02d}"


def build_parser():
    parser = argparse.ArgumentParser(prog="pennywise", description="Track expenses in a JSON file.")
    parser.add_argument("--ledger", help="the ledger file (default: from the configuration)")
    parser.add_argument("--currency", help="three-letter currency code for this run")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="record an expense")
    add.add_argument("amount")
    add.add_argument("category", nargs="?", default=None)
    add.add_argument("--day", default=None, help="YYYY-MM-DD (default: today)")
    add.add_argument("--note", default="")
    add.add_argument("--tag", action="append", default=[])

    listing = commands.add_parser("list", help="list expenses")
    listing.add_argument("--month", type=_month)
    listing.add_argument("--category")

    remove = commands.add_parser("remove", help="forget an expense")
    remove.add_argument("id", type=int)

    monthly = commands.add_parser("report", help="a monthly report")
    monthly.add_argument("--month", type=_month, default=None)

    trend = commands.add_parser("trend", help="the last months as a chart")
    trend.add_argument("--months", type=int, default=6)

    commands.add_parser("budget", help="where this month stands against the budget")
    commands.add_parser("digest", help="this month so far: pace, allowance, budget")

    search = commands.add_parser("search", help="find expenses by note, category or tag")
    search.add_argument("text")

    export = commands.add_parser("export", help="write expenses as CSV to standard output")
    export.add_argument("--month", type=_month)

    imported = commands.add_parser("import", help="add the expenses of a CSV file")
    imported.add_argument("file")
    settings = commands.add_parser("config", help="print the effective configuration")
    settings.add_argument("--check", action="store_true", help="report bad settings, exit 1 if any")
    settings.add_argument("--migrate", action="store_true", help="rename legacy keys in the settings file")
    settings.add_argument("--set", metavar="KEY=VALUE", help="write a value to the settings file")
    settings.add_argument("--tidy", action="store_true", help="sort and align the settings file")

    commands.add_parser("check", help="look for duplicate ids, future days and outliers")
    compare = commands.add_parser("compare", help="this month against the one before")
    compare.add_argument("--month", type=_month, default=None)
    return parser


def _cmd_add(ledger, args, out):
    category = args.category or config.get("default_category", "misc")
    cents = parse_amount(args.amount)
    expense = ledger.add(cents, category, day=args.day, note=args.note, tags=args.tag)
    ledger.save()
    print(f"#{expense.id}  {expense.day}  {report.format_money(expense.cents)}  {expense.category}", file=out)
    warning = notify.check(ledger, expense.month)
    if warning:
        print(warning, file=out)
    return 0


def _cmd_list(ledger, args, out):
    rows = ledger.filter(month=args.month, category=args.category)
    if not rows:
        print("(no expenses)", file=out)
        return 0
    for expense in rows:
        note = f"  {expense.note}" if expense.note else ""
        print(f"#{expense.id:<4} {expense.day}  {report.format_money(expense.cents):>14}  {expense.category}{note}", file=out)
    print(f"total {report.format_money(sum(e.cents for e in rows))}", file=out)
    return 0


def _cmd_remove(ledger, args, out):
    expense = ledger.remove(args.id)
    ledger.save()
    print(f"removed #{expense.id} ({report.format_money(expense.cents)} {expense.category})", file=out)
    return 0


def _cmd_report(ledger, args, out):
    month = args.month or date.today().isoformat()[:7]
    print(report.month_report(ledger, month), file=out)
    return 0


def _cmd_trend(ledger, args, out):
    for line in report.trend_lines(ledger, months=args.months):
        print(line, file=out)
    return 0


def _cmd_budget(ledger, args, out):
    month = date.today().isoformat()[:7]
    current = notify.status(ledger, month)
    if current.budget <= 0:
        print("no budget set (PENNY_BUDGET)", file=out)
        return 0
    print(f"{month}: {report.format_money(current.spent)} of {report.format_money(current.budget)}", file=out)
    line = notify.message(current)
    if line:
        print(line, file=out)
    return 1 if current.over else 0


def _configure(args, out):
    path = os.environ.get("PENNY_CONFIG")
    if not path:
        print("pennywise: no settings file (set PENNY_CONFIG)", file=sys.stderr)
        return 2
    if args.migrate:
        changes = config.migrate_file(path)
        for change in changes:
            print(change, file=out)
        print(f"{len(changes)} change(s) in {path}", file=out)
    if args.set:
        key, sep, value = args.set.partition("=")
        if not sep:
            print(f"pennywise: --set wants KEY=VALUE, got {args.set!r}", file=sys.stderr)
            return 2
        config.set_in_file(path, key, value.strip())
        print(f"{key.strip().lower()} set in {path}", file=out)
    if args.tidy:
        changed = config.tidy_file(path)
        print(f"{path} {'tidied' if changed else 'was already tidy'}", file=out)
    return 0


def _cmd_check(ledger, args, out):
    problems = ledger.check()
    for problem in problems:
        print(problem, file=out)
    print(f"{len(problems)} problem(s) in {len(ledger.expenses)} expense(s)", file=out)
    return 1 if problems else 0


def _cmd_compare(ledger, args, out):
    print(report.compare_report(ledger, args.month or date.today().isoformat()[:7]), file=out)
    return 0


def _cmd_digest(ledger, args, out):
    today = date.today()
    for line in notify.digest(ledger, today.isoformat()[:7], today):
        print(line, file=out)
    return 0


def _cmd_search(ledger, args, out):
    found = ledger.search(args.text)
    if not found:
        print(f"nothing matches {args.text!r}", file=out)
        return 1
    for expense in found:
        print(f"#{expense.id:<4} {expense.day}  {report.format_money(expense.cents):>14}  {expense.category}  {expense.note}", file=out)
    return 0


def _cmd_export(ledger, args, out):
    rows = export_csv(ledger, out, month=args.month)
    if config.DEBUG:
        print(f"[cli] exported {rows} row(s)", file=sys.stderr)
    return 0


def _cmd_import(ledger, args, out):
    try:
        with open(args.file, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as exc:
        raise LedgerError(f"{args.file}: {exc.strerror}") from None
    added = import_csv(ledger, text)
    ledger.save()
    print(f"imported {len(added)} expense(s) from {args.file}", file=out)
    return 0


COMMANDS = {
    "add": _cmd_add,
    "list": _cmd_list,
    "remove": _cmd_remove,
    "report": _cmd_report,
    "trend": _cmd_trend,
    "budget": _cmd_budget,
    "digest": _cmd_digest,
    "check": _cmd_check,
    "compare": _cmd_compare,
    "search": _cmd_search,
    "export": _cmd_export,
    "import": _cmd_import,
}


def main(argv=None, out=None):
    """Run one command; returns the exit status (2 for bad input)."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.currency:
            config.set_currency(args.currency)
        if args.command == "config":
            if args.check:
                problems = config.validate()
                for problem in problems:
                    print(f"problem: {problem}", file=out)
                print("settings are fine" if not problems else f"{len(problems)} problem(s)", file=out)
                return 1 if problems else 0
            if args.migrate or args.set or args.tidy:
                return _configure(args, out)
            for line in config.describe():
                print(line, file=out)
            return 0
        ledger = Ledger.open(args.ledger)
        return COMMANDS[args.command](ledger, args, out)
    except (LedgerError, ValueError) as exc:
        print(f"pennywise: {exc}", file=sys.stderr)
        return 2
