"""The one entry point that builds a file's view: it reads which walk a language-table row
names (`rules.walk`) and hands the source to it. The Python walk (`ast_views`) and the brace
walk (`brace_views`) are entries here, so a language is added in the table, not in callers."""

from __future__ import annotations

from slop_tui.memory import ast_views, brace_views
from slop_tui.memory.ast_views import BuiltViewKind
from slop_tui.memory.brace_languages import BraceRules
from slop_tui.memory.languages import AnyRules
from slop_tui.memory.view_types import BuiltView


def build_view(source: bytes, kind: BuiltViewKind, rules: AnyRules) -> BuiltView:
    """Parse UTF-8 `source` with its language's grammar and build its skeleton or curated view."""
    if isinstance(rules, BraceRules):  # rules.walk == "brace"
        return brace_views.build_view(source, kind, rules)
    return ast_views.build_view(source, kind, rules)
