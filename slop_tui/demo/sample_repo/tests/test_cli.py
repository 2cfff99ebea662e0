import io

from app.cli import main


def run(*argv):
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_add_list_remove():
    code, text = run("add", "12.50", "Food", "--day", "2024-05-02", "--note", "lunch")
    assert code == 0 and text.startswith("#1  2024-05-02  12.50 EUR  food")
    run("add", "3", "--day", "2024-05-03")
    code, text = run("list", "--month", "2024-05")
    assert "lunch" in text and "misc" in text and "total 15.50 EUR" in text
    code, text = run("remove", "1")
    assert text.startswith("removed #1")
    assert "lunch" not in run("list")[1]


def test_default_category_comes_from_the_settings_file(tmp_path, monkeypatch):
    settings = tmp_path / "penny.conf"
    settings.write_text("default_category = groceries\n")
    monkeypatch.setenv("PENNY_CONFIG", str(settings))
    code, text = run("add", "4", "--day", "2024-05-03")
    assert code == 0 and text.rstrip().endswith("groceries")


def test_add_warns_when_the_budget_is_nearly_spent(monkeypatch):
    monkeypatch.setenv("PENNY_BUDGET", "10")
    code, text = run("add", "9", "food", "--day", "2024-05-03")
    assert "90% of the 2024-05 budget is spent; 1.00 EUR left." in text


def test_bad_input_exits_2(capsys):
    code, _ = run("add", "abc", "food")
    assert code == 2
    assert "not an amount" in capsys.readouterr().err


def test_config_command_prints_settings(monkeypatch):
    monkeypatch.setenv("PENNY_WEEK_START", "sunday")
    code, text = run("config")
    assert code == 0 and "week_start = sunday" in text


def test_export_import_and_search(tmp_path):
    run("add", "12.50", "food", "--day", "2024-05-02", "--note", "lunch")
    code, csv_text = run("export")
    assert code == 0 and csv_text.splitlines()[0] == "id,day,amount,category,note,tags"
    path = tmp_path / "out.csv"
    path.write_text(csv_text)
    code, text = run("import", str(path))
    assert text.strip() == f"imported 1 expense(s) from {path}"
    code, text = run("search", "LUNCH")
    assert code == 0 and text.count("lunch") == 2
    assert run("search", "nothing like this")[0] == 1
    assert run("import", str(tmp_path / "missing.csv"))[0] == 2


def test_config_check(monkeypatch):
    assert run("config", "--check") == (0, "settings are fine\n")
    monkeypatch.setenv("PENNY_ALERT_LEVEL", "300")
    code, text = run("config", "--check")
    assert code == 1 and "ALERT_LEVEL" in text and text.endswith("1 problem(s)\n")


def test_config_set_and_migrate(tmp_path, monkeypatch):
    settings = tmp_path / "penny.conf"
    settings.write_text("money = USD\n")
    monkeypatch.setenv("PENNY_CONFIG", str(settings))
    code, text = run("config", "--migrate")
    assert code == 0 and text.splitlines() == ["line 1: money -> currency", f"1 change(s) in {settings}"]
    code, text = run("config", "--set", "budget=250")
    assert code == 0 and settings.read_text() == "currency = USD\nbudget = 250\n"
    assert run("config", "--set", "nonsense")[0] == 2


def test_check_and_compare_commands():
    assert run("check") == (0, "0 problem(s) in 0 expense(s)\n")
    run("add", "5", "tea", "--day", "2024-04-03")
    code, text = run("compare", "--month", "2024-05")
    assert code == 0 and "v tea" in text and "gone" in text


def test_config_tidy(tmp_path, monkeypatch):
    settings = tmp_path / "penny.conf"
    settings.write_text("b = 2\na = 1\n")
    monkeypatch.setenv("PENNY_CONFIG", str(settings))
    assert run("config", "--tidy") == (0, f"{settings} tidied\n")
    assert settings.read_text() == "a = 1\nb = 2\n"
    assert run("config", "--tidy") == (0, f"{settings} was already tidy\n")
