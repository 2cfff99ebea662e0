"""tree-sitter languages and parsers for every row of the language table (Python's walk and the
brace languages' alike): one parser per language per thread, since a `Parser` holds state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from tree_sitter import Language, Parser, Tree


class GrammarRules(Protocol):
    """What a language row needs for parsing: its name and how to load its grammar."""

    @property
    def name(self) -> str: ...

    @property
    def load_grammar(self) -> Callable[[], object]: ...


_languages: dict[str, Language] = {}


def language_of(rules: GrammarRules) -> Language:
    """The row's grammar, loaded once (a `Language` is immutable and shared by every thread)."""
    language = _languages.get(rules.name)
    if language is None:
        language = _languages.setdefault(rules.name, Language(rules.load_grammar()))
    return language


_thread_parsers = threading.local()


def parser_for(rules: GrammarRules) -> Parser:
    """This thread's parser for a language (created once per thread)."""
    parsers: dict[str, Parser] | None = getattr(_thread_parsers, "by_name", None)
    if parsers is None:
        parsers = {}
        _thread_parsers.by_name = parsers
    parser = parsers.get(rules.name)
    if parser is None:
        parser = Parser(language_of(rules))
        parsers[rules.name] = parser
    return parser


def parse(source: bytes, rules: GrammarRules) -> Tree:
    """The tree-sitter tree of UTF-8 `source`."""
    return parser_for(rules).parse(source)
