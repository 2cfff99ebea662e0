"""Bundled themes and the remembered choice."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from slop_tui.errors import SlopError
from slop_tui.ui import theming

ROOT = Path(__file__).resolve().parents[2]


def test_two_bundled_themes_one_dark_one_light() -> None:
    themes = {t.name: t for t in theming.bundled_themes()}
    assert {"slop-dark", "slop-light"} <= set(themes)
    assert themes["slop-dark"].dark and not themes["slop-light"].dark
    # Every state colour the board uses is set by both.
    for theme in themes.values():
        assert set(theming.VARIABLE_DEFAULTS) - {"hint"} <= set(theme.variables)


def test_a_bad_theme_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nprimary = 3\n')
    with pytest.raises(SlopError, match="bad.toml"):
        theming.load_theme_file(bad)


def test_choice_is_saved_in_the_config_dir_and_read_back(tmp_path: Path) -> None:
    env = {"SLOP_CONFIG_DIR": str(tmp_path / "cfg")}
    assert theming.load_prefs(env).theme == theming.DEFAULT_THEME
    path = theming.save_prefs(theming.UiPrefs(theme='slop-"light"'), env)
    assert path == tmp_path / "cfg" / "ui.toml"
    assert theming.load_prefs(env).theme == 'slop-"light"'
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".ui-")]  # no temp left


def test_a_broken_prefs_file_means_defaults(tmp_path: Path) -> None:
    env = {"SLOP_CONFIG_DIR": str(tmp_path)}
    (tmp_path / "ui.toml").write_text("theme = [not toml")
    assert theming.load_prefs(env).theme == theming.DEFAULT_THEME


def test_package_data_covers_themes_and_stylesheets() -> None:
    # Building a wheel needs the network for an isolated build, so check what setuptools reads:
    # the package-data globs in pyproject.toml must match every file the UI loads at run time.
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["*"]
    ui = ROOT / "slop_tui" / "ui"
    needed = [p for p in ui.rglob("*") if p.suffix in (".tcss", ".toml")]
    assert any(p.parent.name == "themes" for p in needed)
    for path in needed:
        rel = path.relative_to(ROOT / "slop_tui").as_posix()
        assert any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(rel, g) for g in globs), rel
