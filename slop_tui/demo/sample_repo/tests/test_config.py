import pytest

from app import config


def write(tmp_path, text):
    path = tmp_path / "penny.conf"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_load_file_reads_keys_values_comments_and_quotes(tmp_path):
    path = write(
        tmp_path,
        "# my settings\n\nCurrency = USD\nnote = 'hello # not a comment'\nbudget = 250 # monthly\n",
    )
    assert config.load_file(path) == {
        "currency": "USD",
        "note": "hello # not a comment",
        "budget": "250",
    }


def test_load_file_names_the_line_of_a_bad_entry(tmp_path):
    path = write(tmp_path, "currency = USD\n\njust words\n")
    with pytest.raises(ValueError, match=r"penny\.conf:3:"):
        config.load_file(path)


def test_load_file_refuses_an_empty_key(tmp_path):
    path = write(tmp_path, " = 3\n")
    with pytest.raises(ValueError, match="empty key"):
        config.load_file(path)


def test_describe_shows_the_effective_values(tmp_path, monkeypatch):
    monkeypatch.setenv("PENNY_DECIMALS", "1")
    monkeypatch.setenv("PENNY_BUDGET", "300")
    lines = config.describe()
    assert f"data_dir = {tmp_path / 'data'}" in lines
    assert "decimals = 1" in lines
    assert "budget = 300.0" in lines
    assert "week_start = monday" in lines
    assert "backups = 3" in lines


def test_describe_reads_the_settings_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PENNY_CONFIG", write(tmp_path, "alert_level = 90\nweek_start = sunday\n"))
    lines = config.describe()
    assert "alert_level = 90" in lines
    assert "week_start = sunday" in lines


def test_load_file_sections_legacy_keys_and_includes(tmp_path, monkeypatch):
    (tmp_path / "base.conf").write_text("money = GBP\n")
    monkeypatch.setenv("PENNY_TEST_DIR", "/srv/penny")
    path = write(
        tmp_path,
        'include = base.conf\ndb_dir = ${PENNY_TEST_DIR}/data\nprice = "$$5"\n'
        "[pennywise]\nwarn_at = 70\n[mail]\nhost = localhost\n",
    )
    assert config.load_file(path) == {
        "currency": "GBP",
        "data_dir": "/srv/penny/data",
        "price": "$5",
        "alert_level": "70",
        "mail.host": "localhost",
    }


def test_load_file_refuses_cycles_and_unset_variables(tmp_path):
    (tmp_path / "a.conf").write_text("include = b.conf\n")
    (tmp_path / "b.conf").write_text("include = a.conf\n")
    with pytest.raises(ValueError, match="include cycle"):
        config.load_file(str(tmp_path / "a.conf"))
    path = write(tmp_path, "data_dir = ${PENNY_SURELY_UNSET}\n")
    with pytest.raises(ValueError, match=r"penny\.conf:1: \$\{PENNY_SURELY_UNSET\} is not set"):
        config.load_file(path)


def test_validate_reports_every_problem(tmp_path, monkeypatch):
    assert config.validate() == []
    monkeypatch.setenv("PENNY_DECIMALS", "7")
    monkeypatch.setenv("PENNY_WEEK_START", "someday")
    monkeypatch.setenv("PENNY_BACKUPS", "many")
    problems = config.validate()
    assert len(problems) == 3
    assert any("DECIMALS" in p for p in problems)
    assert any("WEEK_START" in p and "someday" in p for p in problems)
    assert any("BACKUPS" in p and "many" in p for p in problems)
    (tmp_path / "data").write_text("a file, not a folder")
    monkeypatch.delenv("PENNY_DECIMALS")
    monkeypatch.delenv("PENNY_WEEK_START")
    monkeypatch.delenv("PENNY_BACKUPS")
    assert any("not a folder" in p for p in config.validate())


def test_migrate_file_renames_legacy_keys_and_keeps_the_rest(tmp_path):
    path = write(tmp_path, "# mine\nmoney = USD  # dollars\n  warn_at=70\ncurrency = EUR\n[mail]\ndigits = 2\n")
    changes = config.migrate_file(path, dry_run=True)
    assert changes == [
        "line 2: money left as is: currency is already set",
        "line 3: warn_at -> alert_level",
        "line 6: digits -> decimals",
    ]
    assert "warn_at" in open(path).read()
    config.migrate_file(path)
    assert open(path).read() == (
        "# mine\nmoney = USD  # dollars\n  alert_level=70\ncurrency = EUR\n[mail]\ndecimals = 2\n"
    )


def test_set_in_file_replaces_or_adds_top_level_keys(tmp_path):
    path = write(tmp_path, "# mine\ncurrency = EUR\n[mail]\nhost = x\n")
    config.set_in_file(path, "Currency", "USD")
    config.set_in_file(path, "default_category", "eating out")
    assert open(path).read() == (
        '# mine\ncurrency = USD\ndefault_category = "eating out"\n[mail]\nhost = x\n'
    )
    fresh = str(tmp_path / "new" / "penny.conf")
    config.set_in_file(fresh, "budget", 300)
    assert config.load_file(fresh) == {"budget": "300"}
    with pytest.raises(ValueError, match="not a settings key"):
        config.set_in_file(path, "a=b", "c")


def test_tidy_file_sorts_aligns_and_keeps_comments(tmp_path):
    path = write(
        tmp_path,
        "# my settings\n\n"
        "currency=USD\n# how much\nbudget =  250\n\n\n"
        "[mail]\n; where\nhost = localhost\nport= 25\n",
    )
    assert config.tidy_file(path, dry_run=True) is True
    assert config.tidy_file(path) is True
    assert open(path).read() == (
        "# my settings\n\n"
        "# how much\nbudget   = 250\ncurrency = USD\n\n"
        "[mail]\n; where\nhost = localhost\nport = 25\n"
    )
    assert config.tidy_file(path) is False
    assert config.load_file(path)["mail.port"] == "25"
    broken = write(tmp_path, "[ ]\n")
    with pytest.raises(ValueError, match="empty section name"):
        config.tidy_file(broken)
