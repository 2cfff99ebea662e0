"""The ledger: expenses kept in one JSON file, written atomically, with rotating backups."""

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date

from app import config

LEDGER_NAME = "ledger.json"
FORMAT_VERSION = 2
CSV_FIELDS = ("id", "day", "amount", "category", "note", "tags")


class LedgerError(Exception):
    """The ledger file is missing a field, has a bad value, or cannot be written."""


@dataclass
class Expense:
    """One expense. Amounts are whole cents so sums never drift."""

    id: int
    day: str
    cents: int
    category: str
    note: str = ""
    tags: list = field(default_factory=list)

    @property
    def month(self):
        return self.day[:7]

    def as_date(self):
        return date.fromisoformat(self.day)


def parse_amount(text):
    """Turn ``"12.5"``, ``"12,50"`` or ``"1 200"`` into cents; refuse negatives and junk."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    if not cleaned:
        raise LedgerError("an amount is required")
    if cleaned.count(".") > 1:
        raise LedgerError(f"not an amount: {text!r}")
    whole, _, fraction = cleaned.partition(".")
    if not whole:
        whole = "0"
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise LedgerError(f"not an amount: {text!r}")
    if len(fraction) > 2:
        raise LedgerError(f"at most two decimals: {text!r}")
    cents = int(whole) * 100 + int((fraction + "00")[:2])
    if cents == 0:
        raise LedgerError("an expense cannot be zero")
    return cents


def ledger_path():
    """The ledger file, from ``PENNY_DATA_DIR`` or the settings file or the default folder."""
    folder = os.environ.get("PENNY_DATA_DIR") or config.get("data_dir") or config.DEFAULT_DATA_DIR
    return os.path.join(os.path.expanduser(folder), LEDGER_NAME)


def _backup_count():
    raw = os.environ.get("PENNY_BACKUPS", "3")
    try:
        count = int(raw)
    except ValueError:
        raise LedgerError(f"PENNY_BACKUPS must be a whole number, got {raw!r}") from None
    return max(count, 0)


def _decode(record, position):
    required = ("id", "day", "cents", "category")
    missing = [name for name in required if name not in record]
    if missing:
        raise LedgerError(f"expense #{position}: missing {', '.join(missing)}")
    try:
        date.fromisoformat(record["day"])
    except (TypeError, ValueError):
        raise LedgerError(f"expense #{position}: bad day {record['day']!r}") from None
    if not isinstance(record["cents"], int) or record["cents"] <= 0:
        raise LedgerError(f"expense #{position}: bad amount {record['cents']!r}")
    return Expense(
        id=int(record["id"]),
        day=record["day"],
        cents=record["cents"],
        category=str(record["category"]),
        note=str(record.get("note", "")),
        tags=list(record.get("tags", [])),
    )


class Ledger:
    """All expenses of one ledger file, loaded in memory; `save` writes them back."""

    def __init__(self, path=None):
        self.path = path or ledger_path()
        self.expenses = []
        self._next_id = 1

    @classmethod
    def open(cls, path=None):
        """Load the ledger at `path` (or the configured one); a missing file is an empty ledger."""
        ledger = cls(path)
        if not os.path.exists(ledger.path):
            if config.DEBUG:
                print(f"[storage] no ledger at {ledger.path}, starting empty")
            return ledger
        with open(ledger.path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as exc:
                raise LedgerError(f"{ledger.path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict) or "expenses" not in data:
            raise LedgerError(f"{ledger.path}: no 'expenses' list")
        version = data.get("version", 1)
        if version > FORMAT_VERSION:
            raise LedgerError(f"{ledger.path}: format {version} is newer than this program")
        for position, record in enumerate(data["expenses"], start=1):
            if version == 1 and "amount" in record:
                record = dict(record, cents=round(float(record.pop("amount")) * 100))
            ledger.expenses.append(_decode(record, position))
        ledger._next_id = max((e.id for e in ledger.expenses), default=0) + 1
        if config.DEBUG:
            print(f"[storage] loaded {len(ledger.expenses)} expense(s) from {ledger.path}")
        return ledger

    def add(self, cents, category, day=None, note="", tags=None):
        """Record an expense and return it; the category is stored in lower case."""
        if cents <= 0:
            raise LedgerError("an expense must be positive")
        category = category.strip().lower()
        if not category:
            raise LedgerError("a category is required")
        expense = Expense(
            id=self._next_id,
            day=(day or date.today()).isoformat() if not isinstance(day, str) else day,
            cents=cents,
            category=category,
            note=note.strip(),
            tags=sorted(set(tags or [])),
        )
        self._next_id += 1
        self.expenses.append(expense)
        return expense

    def remove(self, expense_id):
        """Forget an expense; an unknown id raises LedgerError."""
        for index, expense in enumerate(self.expenses):
            if expense.id == expense_id:
                del self.expenses[index]
                return expense
        raise LedgerError(f"no expense #{expense_id}")

    def filter(self, month=None, category=None, tag=None):
        """The expenses of one month, category or tag, oldest first."""
        chosen = []
        for expense in self.expenses:
            if month and expense.month != month:
                continue
            if category and expense.category != category.lower():
                continue
            if tag and tag not in expense.tags:
                continue
            chosen.append(expense)
        chosen.sort(key=lambda e: (e.day, e.id))
        return chosen

    def months(self):
        """Every month that has an expense, oldest first."""
        return sorted({expense.month for expense in self.expenses})

    def categories(self):
        """Every category in use, sorted."""
        return sorted({expense.category for expense in self.expenses})

    def total(self, month=None, category=None):
        """Sum in cents of the matching expenses."""
        return sum(e.cents for e in self.filter(month=month, category=category))

    def save(self):
        """Write the ledger atomically, after rotating the previous file into backups."""
        folder = os.path.dirname(self.path) or "."
        os.makedirs(folder, exist_ok=True)
        if os.path.exists(self.path):
            self._rotate_backups()
        payload = {
            "version": FORMAT_VERSION,
            "expenses": [asdict(expense) for expense in self.expenses],
        }
        handle, temporary = tempfile.mkstemp(prefix=".ledger-", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(payload, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        if config.DEBUG:
            print(f"[storage] saved {len(self.expenses)} expense(s) to {self.path}")

    def _rotate_backups(self):
        keep = _backup_count()
        if keep == 0:
            return
        for number in range(keep - 1, 0, -1):
            older = f"{self.path}.{number}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{number + 1}")
        shutil.copy2(self.path, f"{self.path}.1")
        surplus = f"{self.path}.{keep + 1}"
        if os.path.exists(surplus):
            os.unlink(surplus)

    def backups(self):
        """Existing backup files, newest first."""
        found = []
        number = 1
        while os.path.exists(f"{self.path}.{number}"):
            found.append(f"{self.path}.{number}")
            number += 1
        return found

    def check(self, today=None):
        """Problems worth a look, one sentence each: duplicate ids, future days, outliers."""
        today = today or date.today()
        problems = []
        ids = {}
        for expense in self.expenses:
            ids.setdefault(expense.id, []).append(expense)
        for expense_id, group in sorted(ids.items()):
            if len(group) > 1:
                problems.append(f"id #{expense_id} is used by {len(group)} expenses")
        for expense in self.expenses:
            if expense.as_date() > today:
                problems.append(f"#{expense.id} is dated in the future ({expense.day})")
            if expense.category != expense.category.strip().lower():
                problems.append(f"#{expense.id} has an unnormalised category {expense.category!r}")
        by_category = {}
        for expense in self.expenses:
            by_category.setdefault(expense.category, []).append(expense.cents)
        for category, amounts in sorted(by_category.items()):
            if len(amounts) < 5:
                continue
            ordered = sorted(amounts)
            median = ordered[len(ordered) // 2]
            for expense in self.expenses:
                if expense.category == category and expense.cents > 10 * median:
                    problems.append(
                        f"#{expense.id} ({expense.cents / 100:.2f}) is over ten times the usual "
                        f"{category} expense ({median / 100:.2f})"
                    )
        if config.DEBUG:
            print(f"[storage] check: {len(problems)} problem(s) in {len(self.expenses)} expense(s)")
        return problems

    def search(self, text):
        """Expenses whose note, category or tags contain `text` (case-insensitive), newest first."""
        needle = text.strip().lower()
        if not needle:
            return []
        found = []
        for expense in self.expenses:
            haystack = [expense.note.lower(), expense.category]
            haystack.extend(tag.lower() for tag in expense.tags)
            if any(needle in item for item in haystack):
                found.append(expense)
        found.sort(key=lambda e: (e.day, e.id), reverse=True)
        return found

    def merge(self, other):
        """Add the expenses of `other` that this ledger does not have yet; return how many.

        Two expenses are the same when day, amount, category and note match: merging a ledger
        into itself, or twice, adds nothing.
        """
        known = {(e.day, e.cents, e.category, e.note) for e in self.expenses}
        added = 0
        for expense in sorted(other.expenses, key=lambda e: (e.day, e.id)):
            key = (expense.day, expense.cents, expense.category, expense.note)
            if key in known:
                continue
            self.add(expense.cents, expense.category, day=expense.day, note=expense.note, tags=expense.tags)
            known.add(key)
            added += 1
        if config.DEBUG:
            print(f"[storage] merged {added} of {len(other.expenses)} expense(s)")
        return added


def export_csv(ledger, handle, month=None):
    """Write the ledger (or one month) as CSV with a header row; return the number of rows."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    rows = 0
    for expense in ledger.filter(month=month):
        whole, fraction = divmod(expense.cents, 100)
        writer.writerow(
            [
                expense.id,
                expense.day,
                f"{whole}.{fraction:02d}",
                expense.category,
                expense.note,
                " ".join(expense.tags),
            ]
        )
        rows += 1
    return rows


def import_csv(ledger, text):
    """Add the rows of a CSV export (header required, ``;`` or ``,`` separated) to `ledger`.

    Returns the expenses added. A bad row raises LedgerError naming its line; nothing is added
    then, so a half-imported file never happens.
    """
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise LedgerError("the CSV text is empty") from None
    missing = [name for name in ("day", "amount", "category") if name not in header]
    if missing:
        raise LedgerError(f"CSV header lacks {', '.join(missing)} (got {', '.join(header)})")
    column = {name: header.index(name) for name in header}
    pending = []
    for line_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise LedgerError(f"CSV line {line_number}: {len(row)} field(s), expected {len(header)}")
        day = row[column["day"]].strip()
        try:
            date.fromisoformat(day)
        except ValueError:
            raise LedgerError(f"CSV line {line_number}: bad day {day!r}") from None
        try:
            cents = parse_amount(row[column["amount"]])
        except LedgerError as exc:
            raise LedgerError(f"CSV line {line_number}: {exc}") from None
        note = row[column["note"]].strip() if "note" in column else ""
        tags = row[column["tags"]].split() if "tags" in column else []
        pending.append((cents, row[column["category"]], day, note, tags))
    added = [ledger.add(cents, category, day=day, note=note, tags=tags) for cents, category, day, note, tags in pending]
    if config.DEBUG:
        print(f"[storage] imported {len(added)} expense(s) from CSV")
    return added
