"""Bundled themes and the remembered choice."""

from __future__ import annotations

import fnmatch
import sys
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
    setup = data["tool"]["setuptools"]
    globs = setup["package-data"]["*"]
    assert setup["package-dir"] == {"slop_tui.themes": "themes"}
    ui = ROOT / "slop_tui" / "ui"
    needed = [p for p in ui.rglob("*") if p.suffix == ".tcss"]
    needed += sorted((ROOT / "themes").glob("*.toml"))
    assert any(p.parent.name == "themes" for p in needed)
    for path in needed:
        rel = path.relative_to(ROOT).as_posix()
        assert any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(rel, g) for g in globs), rel


def test_the_listed_packages_are_every_folder_under_slop_tui_plus_the_themes() -> None:
    # `packages` is a list (a `find` cannot map `themes/` into the package), so a new folder under
    # slop_tui/ must be added to it, or the wheel would ship without it.
    from setuptools import find_namespace_packages

    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = find_namespace_packages(where=str(ROOT), include=["slop_tui*"])
    assert sorted(listed) == sorted([*found, "slop_tui.themes"])


def test_themes_live_in_the_top_level_folder_not_in_the_package() -> None:
    assert sorted(p.name for p in (ROOT / "themes").glob("*.toml")) == [
        "slop-dark.toml",
        "slop-light.toml",
    ]
    assert not (ROOT / "slop_tui" / "ui" / "themes").exists()
    assert theming.bundled_themes_dir() == ROOT / "themes"  # a checkout reads its own folder


def test_an_install_reads_the_themes_package_through_importlib_resources(tmp_path: Path) -> None:
    # An installed wheel: slop_tui/ sits in site-packages with no pyproject.toml beside it, and
    # `slop_tui.themes` is a package holding the toml files. A stand-in package of that shape:
    site = tmp_path / "site"
    (site / "w5fake_pkg" / "themes").mkdir(parents=True)
    (site / "w5fake_pkg" / "__init__.py").write_text("")
    (site / "w5fake_pkg" / "themes" / "only.toml").write_text('name = "only"\nprimary = "#123456"\n')
    (site / "w5fake_pkg" / "themes" / "notes.txt").write_text("not a theme")
    (site / "themes").mkdir()  # a stray top-level `themes/` must not be mistaken for a checkout
    (site / "themes" / "stray.toml").write_text('name = "stray"\nprimary = "#000000"\n')
    sys.path.insert(0, str(site))
    try:
        where = theming.bundled_themes_dir(package_parent=site, package="w5fake_pkg.themes")
        assert [t.name for t in theming.bundled_themes(where)] == ["only"]
        with pytest.raises(SlopError, match="reinstall"):
            theming.bundled_themes_dir(package_parent=site, package="w5fake_pkg.nothemes")
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m.startswith("w5fake_pkg")]:
            del sys.modules[name]
