"""The bundled themes, installed as the package `slop_tui.themes` (see pyproject's `package-dir`).

This file makes the folder a regular package: setuptools' editable installs cannot map a
namespace package to a folder outside slop_tui/, and importlib.resources needs the package.
"""
