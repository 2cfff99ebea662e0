import json
import os

import pytest

from app.storage import Ledger, LedgerError, ledger_path, parse_amount


def test_parse_amount_accepts_common_spellings():
    assert parse_amount("12") == 1200
    assert parse_amount("12.5") == 1250
    assert parse_amount("12,05") == 1205
    assert parse_amount("1 200") == 120000
    assert parse_amount(".5") == 50


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "-4", "0", "1.234"])
def test_parse_amount_refuses_junk(text):
    with pytest.raises(LedgerError):
        parse_amount(text)


def test_ledger_path_follows_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PENNY_DATA_DIR", str(tmp_path / "elsewhere"))
    assert ledger_path() == str(tmp_path / "elsewhere" / "ledger.json")


def test_save_and_open_round_trip(tmp_path):
    ledger = Ledger.open()
    ledger.add(1250, "Food", day="2024-05-02", note="lunch", tags=["work"])
    ledger.add(4000, "rent", day="2024-05-01")
    ledger.save()
    again = Ledger.open()
    assert [e.category for e in again.filter()] == ["rent", "food"]
    assert again.total(month="2024-05") == 5250
    assert again.filter(tag="work")[0].note == "lunch"
    assert again.add(100, "misc", day="2024-05-03").id == 3


def test_backups_rotate_and_keep_the_configured_count(monkeypatch):
    monkeypatch.setenv("PENNY_BACKUPS", "2")
    ledger = Ledger.open()
    for number in range(4):
        ledger.add(100 + number, "misc", day="2024-01-01")
        ledger.save()
    assert len(ledger.backups()) == 2
    with open(ledger.backups()[0], encoding="utf-8") as handle:
        assert len(json.load(handle)["expenses"]) == 3


def test_no_backups_when_the_count_is_zero(monkeypatch):
    monkeypatch.setenv("PENNY_BACKUPS", "0")
    ledger = Ledger.open()
    ledger.add(100, "misc", day="2024-01-01")
    ledger.save()
    ledger.save()
    assert ledger.backups() == []


def test_open_reads_the_old_format_and_refuses_bad_records(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"expenses": [{"id": 1, "day": "2023-12-31", "amount": 3.5, "category": "tea"}]}))
    assert Ledger.open(str(path)).expenses[0].cents == 350
    path.write_text(json.dumps({"version": 2, "expenses": [{"id": 1, "day": "yesterday", "cents": 5, "category": "x"}]}))
    with pytest.raises(LedgerError, match="bad day"):
        Ledger.open(str(path))


def test_remove_unknown_expense_is_an_error():
    ledger = Ledger.open()
    with pytest.raises(LedgerError, match="no expense #9"):
        ledger.remove(9)
    assert not os.path.exists(ledger.path)


def test_search_and_merge():
    first = Ledger.open()
    first.add(500, "food", day="2024-05-01", note="Pizza with Ann", tags=["friends"])
    first.add(900, "books", day="2024-05-02")
    assert [e.note for e in first.search("ann")] == ["Pizza with Ann"]
    assert first.search("FRIENDS")[0].cents == 500
    assert first.search("  ") == []
    second = Ledger("elsewhere.json")
    second.add(900, "books", day="2024-05-02")
    second.add(300, "tea", day="2024-05-03")
    assert first.merge(second) == 1
    assert first.merge(second) == 0
    assert first.total() == 1700


def test_csv_round_trip():
    import io

    from app.storage import export_csv, import_csv

    ledger = Ledger.open()
    ledger.add(1250, "food", day="2024-05-02", note="lunch, late", tags=["work", "team"])
    ledger.add(80000, "rent", day="2024-05-01")
    out = io.StringIO()
    assert export_csv(ledger, out) == 2
    copy = Ledger("copy.json")
    added = import_csv(copy, out.getvalue())
    assert [(e.day, e.cents, e.category, e.note, e.tags) for e in added] == [
        ("2024-05-01", 80000, "rent", "", []),
        ("2024-05-02", 1250, "food", "lunch, late", ["team", "work"]),
    ]


def test_csv_import_is_all_or_nothing():
    from app.storage import import_csv

    ledger = Ledger.open()
    text = "day;amount;category\n2024-05-01;3,50;tea\n2024-05-02;lots;tea\n"
    with pytest.raises(LedgerError, match="CSV line 3: not an amount"):
        import_csv(ledger, text)
    assert ledger.expenses == []
    with pytest.raises(LedgerError, match="lacks amount"):
        import_csv(ledger, "day,category\n")


def test_check_finds_duplicates_future_days_and_outliers():
    from datetime import date

    ledger = Ledger.open()
    for day in range(1, 6):
        ledger.add(1000, "food", day=f"2024-05-0{day}")
    ledger.add(50000, "food", day="2024-05-06")
    ledger.add(100, "tea", day="2030-01-01")
    ledger.expenses[1].id = 1
    problems = ledger.check(today=date(2024, 6, 1))
    assert problems == [
        "id #1 is used by 2 expenses",
        "#7 is dated in the future (2030-01-01)",
        "#6 (500.00) is over ten times the usual food expense (10.00)",
    ]
