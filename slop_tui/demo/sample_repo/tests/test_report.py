from datetime import date

import pytest

from app import report
from app.storage import Ledger


@pytest.fixture
def ledger():
    book = Ledger.open()
    book.add(1250, "food", day="2024-05-02", note="lunch")
    book.add(80000, "rent", day="2024-05-01")
    book.add(2350, "food", day="2024-05-15")
    book.add(999, "books", day="2024-04-20")
    return book


def test_format_money_uses_currency_and_decimals(monkeypatch):
    assert report.format_money(123456) == "1\u202f234.56 EUR"
    monkeypatch.setenv("PENNY_CURRENCY", "USD")
    monkeypatch.setenv("PENNY_DECIMALS", "0")
    assert report.format_money(1250) == "13 USD"
    monkeypatch.setenv("PENNY_DECIMALS", "1")
    assert report.format_money(-1299) == "-13.0 USD"


def test_bad_decimals_are_refused(monkeypatch):
    monkeypatch.setenv("PENNY_DECIMALS", "5")
    with pytest.raises(ValueError, match="DECIMALS"):
        report.format_money(100)


def test_week_start_follows_the_setting(monkeypatch):
    wednesday = date(2024, 5, 15)
    assert report.week_start_of(wednesday) == date(2024, 5, 13)
    monkeypatch.setenv("PENNY_WEEK_START", "sunday")
    assert report.week_start_of(wednesday) == date(2024, 5, 12)


def test_category_totals_are_largest_first(ledger):
    assert report.category_totals(ledger, "2024-05") == {"rent": 80000, "food": 3600}


def test_weekly_totals_fill_empty_weeks(ledger):
    rows = report.weekly_totals(ledger, "2024-05")
    assert [start.isoformat() for start, _ in rows] == ["2024-04-29", "2024-05-06", "2024-05-13"]
    assert [cents for _, cents in rows] == [81250, 0, 2350]


def test_month_report_text(ledger):
    text = report.month_report(ledger, "2024-05")
    assert "Total: 836.00 EUR in 3 expense(s)" in text
    assert "rent" in text and "#" * report.BAR_WIDTH in text
    assert "Largest: 800.00 EUR on 2024-05-01 (rent)" in text
    assert report.month_report(ledger, "2023-01").endswith("(nothing recorded)")


def test_compare_months_and_trend(ledger):
    rows = report.compare_months(ledger, "2024-05")
    assert rows[0] == ("rent", 80000, 0, 80000)
    assert ("books", 0, 999, -999) in rows
    lines = report.trend_lines(ledger, months=2, today=date(2024, 5, 20))
    assert lines[0].startswith("2024-04") and lines[1].startswith("2024-05")


def test_markdown_and_year_reports(ledger):
    text = report.render_markdown(ledger, "2024-05")
    assert text.startswith("# Expenses for 2024-05\n")
    assert "| rent | 800.00 EUR | 95.7% |" in text
    assert "| 1 | 2024-05-02 | 12.50 EUR | food | lunch |" in text
    assert "_Nothing recorded._" in report.render_markdown(ledger, "2020-01")
    rows = report.year_summary(ledger, 2024)
    assert rows[3] == ("2024-04", 999, "books", 999) and rows[4][1:3] == (83600, "rent")
    assert rows[0] == ("2024-01", 0, "", 0)
    year = report.year_report(ledger, 2024)
    assert "Total 845.99 EUR, average 422.99 EUR a month" in year
    assert report.year_report(ledger, 2019).endswith("(nothing recorded)")


def test_compare_report(ledger):
    text = report.compare_report(ledger, "2024-05")
    lines = text.splitlines()
    assert lines[0] == "2024-05 against the month before"
    assert lines[2].startswith("^ rent") and lines[2].endswith("new")
    assert any(line.startswith("v books") and line.endswith("gone") for line in lines)
    assert lines[-1].split() == ["total", "836.00", "EUR", "9.99", "EUR"]
    assert report.compare_report(ledger, "2019-03") == "Nothing recorded in 2019-03 or the month before."
