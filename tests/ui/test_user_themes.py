"""A person's own themes, from `themes/` in the config folder (issue 19)."""

from __future__ import annotations

from pathlib import Path

from slop_tui.ui import theming
from slop_tui.ui.app import SlopApp

MINE = 'name = "mine"\nprimary = "#ff8800"\ndark = true\n[variables]\nhint = "#00ffff"\n'


def test_themes_in_the_config_folder_are_read_and_a_broken_one_is_named(tmp_path: Path) -> None:
    env = {"SLOP_CONFIG_DIR": str(tmp_path)}
    assert theming.user_themes(env) == ([], [])  # no folder: nothing, no error
    folder = tmp_path / "themes"
    folder.mkdir()
    (folder / "mine.toml").write_text(MINE)
    (folder / "broken.toml").write_text('name = "broken"\nprimary = 3\n')
    themes, problems = theming.user_themes(env)
    assert [t.name for t in themes] == ["mine"] and themes[0].primary == "#ff8800"
    assert len(problems) == 1 and "broken.toml" in problems[0]


async def test_the_app_offers_a_users_theme_and_starts_in_it_when_chosen(tmp_path: Path) -> None:
    env = {"SLOP_CONFIG_DIR": str(tmp_path)}
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "mine.toml").write_text(MINE)
    (tmp_path / "themes" / "broken.toml").write_text("name = [")
    theming.save_prefs(theming.UiPrefs(theme="mine"), env)
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, prefs_env=env)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert "mine" in app.available_themes and "slop-dark" in app.available_themes
        assert app.theme == "mine"
        assert app.theme_variables["hint"] == "#00ffff"
        assert any("broken.toml" in n.message for n in app._notifications)
