import pytest

from app import notify
from app.storage import Ledger


def spend(*amounts):
    ledger = Ledger.open()
    for cents in amounts:
        ledger.add(cents, "misc", day="2024-05-10")
    return ledger


def test_no_budget_means_no_message():
    assert notify.check(spend(10_000), "2024-05") is None


def test_warning_from_the_alert_level(monkeypatch):
    monkeypatch.setenv("PENNY_BUDGET", "100")
    monkeypatch.setenv("PENNY_ALERT_LEVEL", "50")
    assert notify.check(spend(4000), "2024-05") is None
    line = notify.check(spend(4000, 2000), "2024-05")
    assert line == "60% of the 2024-05 budget is spent; 40.00 EUR left."


def test_over_budget(monkeypatch):
    monkeypatch.setenv("PENNY_BUDGET", "100,5")
    line = notify.check(spend(12_000), "2024-05")
    assert line == "Over budget for 2024-05: spent 120.00 EUR of 100.50 EUR (19.50 EUR over)."


@pytest.mark.parametrize(("name", "value"), [("PENNY_BUDGET", "lots"), ("PENNY_BUDGET", "-1"), ("PENNY_ALERT_LEVEL", "0")])
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("PENNY_")):
        notify.status(spend(100), "2024-05")


def test_forecast_allowance_and_digest(monkeypatch):
    from datetime import date

    ledger = spend(3000)  # on 2024-05-10
    today = date(2024, 5, 10)
    assert notify.forecast(ledger, "2024-05", today) == 9300
    assert notify.forecast(ledger, "2024-05", date(2024, 6, 2)) == 3000
    assert notify.forecast(ledger, "2024-06", today) == 0
    assert notify.daily_allowance(ledger, "2024-05", today) is None
    monkeypatch.setenv("PENNY_BUDGET", "80")
    assert notify.daily_allowance(ledger, "2024-05", today) == 227
    lines = notify.digest(ledger, "2024-05", today)
    assert lines == [
        "2024-05: 30.00 EUR spent",
        "at this pace: 93.00 EUR by the end of the month",
        "budget: 80.00 EUR (38% used)",
        "you can spend 2.27 EUR a day until the end of the month",
        "warning: at this pace the budget will not last the month",
    ]


def test_category_limits(monkeypatch):
    ledger = Ledger.open()
    ledger.add(4500, "food", day="2024-05-02")
    ledger.add(6000, "fun", day="2024-05-03")
    ledger.add(100, "tea", day="2024-05-03")
    assert notify.category_warnings(ledger, "2024-05") == []
    monkeypatch.setenv("PENNY_LIMITS", "food=50; fun = 40, tea=10")
    assert notify.category_limits() == {"food": 5000, "fun": 4000, "tea": 1000}
    assert notify.category_warnings(ledger, "2024-05") == [
        "food: 90% of its 50.00 EUR limit spent",
        "fun: 60.00 EUR spent, 20.00 EUR over its 40.00 EUR limit",
    ]


@pytest.mark.parametrize("value", ["food", "food=lots", "food=0", "food=1,food=2"])
def test_bad_limits_are_refused(monkeypatch, value):
    monkeypatch.setenv("PENNY_LIMITS", value)
    with pytest.raises(ValueError, match="LIMITS"):
        notify.category_warnings(spend(100), "2024-05")
