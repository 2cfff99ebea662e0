"""The bundled themes (the top-level `themes/*.toml`), the person's own (`themes/*.toml` in the
config dir) and the remembered choice (`ui.toml` in the config dir).

The bundled theme files live in the repository's top-level `themes/` (the design's layout) and
the wheel ships them as the data package `slop_tui.themes` (a `package-dir` mapping in
pyproject.toml), read through importlib.resources. A source checkout (an editable install, or
`PYTHONPATH` pointing at a clone) reads its own `themes/` folder, so the code and the themes
always come from the same tree. A theme of the person's
with a bundled theme's name replaces it; a broken one is skipped with a one-line reason (a bad
colour is no reason to refuse to start). The person's choice is
kept in the same user config folder as `agents.toml` (`$SLOP_CONFIG_DIR` or platformdirs), in a
file of its own so the UI never rewrites a file the person edits by hand.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path

import msgspec
from textual.theme import Theme

from slop_tui.config import config_dir
from slop_tui.errors import SlopError

THEMES_PACKAGE = "slop_tui.themes"  # the wheel's name for the top-level `themes/` folder
# slop_tui/ui/theming.py -> the folder holding slop_tui/ (a checkout's root, or site-packages).
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
DEFAULT_THEME = "slop-dark"
PREFS_FILE = "ui.toml"
USER_THEMES = "themes"  # under the config dir

# Variables the stylesheets and the board use; a theme that does not set them (Textual's own
# themes, selectable from the palette) falls back to these.
VARIABLE_DEFAULTS: dict[str, str] = {
    "state-todo": "ansi_bright_black",
    "state-running": "ansi_blue",
    "state-waiting": "ansi_yellow",
    "state-done": "ansi_green",
    "state-blocked": "ansi_red",
    "state-cancelled": "ansi_bright_black",
    "hint": "ansi_magenta",
}


class ThemeFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a theme file may say: Textual's `Theme` fields."""

    name: str
    primary: str
    dark: bool = True
    secondary: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    accent: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    variables: dict[str, str] = msgspec.field(default_factory=dict)


class UiPrefs(msgspec.Struct, kw_only=True):
    theme: str = DEFAULT_THEME


def load_theme_file(path: Path | Traversable) -> Theme:
    """One theme file as a Textual `Theme`; `SlopError` names the file and the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = msgspec.convert(data, type=ThemeFile)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise SlopError(f"{path}: not a valid theme file: {exc}") from None
    return Theme(**msgspec.structs.asdict(spec))


def bundled_themes_dir(
    package_parent: Path = PACKAGE_PARENT, package: str = THEMES_PACKAGE
) -> Path | Traversable:
    """Where the bundled themes are: the checkout's `themes/` when slop_tui runs from a source
    tree (a `pyproject.toml` beside it), else the installed `slop_tui.themes` package."""
    checkout = package_parent / "themes"
    if (package_parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    try:
        return importlib.resources.files(package)
    except ModuleNotFoundError:
        raise SlopError(
            f"the bundled themes ({package}) are missing from this install: reinstall slop-tui"
        ) from None


def bundled_themes(directory: Path | Traversable | None = None) -> list[Theme]:
    """Every `*.toml` theme in `directory` (the bundled ones by default), by file name."""
    where = bundled_themes_dir() if directory is None else directory
    files = [item for item in where.iterdir() if item.name.endswith(".toml") and item.is_file()]
    return [load_theme_file(item) for item in sorted(files, key=lambda item: item.name)]


def user_themes_dir(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / USER_THEMES


def user_themes(env: Mapping[str, str] | None = None) -> tuple[list[Theme], list[str]]:
    """The person's themes, by file name, and a reason for each file that could not be read."""
    themes: list[Theme] = []
    problems: list[str] = []
    for path in sorted(user_themes_dir(env).glob("*.toml")):
        try:
            themes.append(load_theme_file(path))
        except SlopError as exc:
            problems.append(str(exc))
    return themes, problems


def prefs_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / PREFS_FILE


def load_prefs(env: Mapping[str, str] | None = None) -> UiPrefs:
    """The remembered choices; a missing or unreadable file means the defaults (never a crash:
    a broken preference is not worth refusing to start over)."""
    path = prefs_path(env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return msgspec.convert(data, type=UiPrefs)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, msgspec.ValidationError):
        return UiPrefs()


def save_prefs(prefs: UiPrefs, env: Mapping[str, str] | None = None) -> Path:
    """Write `ui.toml` atomically (temporary file, fsync, rename) and return its path."""
    path = prefs_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A JSON string literal is a valid TOML basic string (same escapes), so no TOML writer needed.
    text = f"# slop-tui interface preferences (written by the TUI)\ntheme = {json.dumps(prefs.theme)}\n"
    fd, tmp = tempfile.mkstemp(prefix=".ui-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
