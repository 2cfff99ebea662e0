"""The one table of language rules the memory views follow.

A view is built by one walk over a tree-sitter tree; everything that walk needs to know about a
language (its grammar, which node types are imports, definitions, block-structured statements,
how a docstring and a comment look, which marker makes a body hot) lives in a `LanguageRules`
row here. Adding a grammar means adding a row to `LANGUAGES` (and, if its trees differ in shape,
teaching `ast_views` the difference), not editing the walker's constants. Brace languages (and
Ruby) are rows of another shape, `brace_languages.BraceRules`, read by one generic walk
(`brace_views`); `views.build_view` picks the walk a row names (`walk`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from slop_tui.memory.brace_languages import BRACE_LANGUAGES, BraceRules


@dataclass(frozen=True, slots=True)
class LanguageRules:
    """How the view walker reads one language's tree-sitter tree."""

    name: str
    # File name endings this row applies to, lower case, with the dot.
    suffixes: tuple[str, ...]
    # Returns the grammar (the capsule tree-sitter's `Language` takes); imported lazily so that
    # merely importing this table loads no grammar.
    load_grammar: Callable[[], object]
    comment: str
    block: str
    # The (anonymous) token that ends a block header: `def f():`, `if x:`, `else:`.
    header_end: str
    # Statements kept verbatim wherever the walker keeps things (module and class level), and
    # which of them are imports (a view groups those together).
    verbatim_statements: frozenset[str]
    imports: frozenset[str]
    # A statement that wraps an expression; kept when its expression is one of `assignments`.
    expression_statement: str
    assignments: frozenset[str]
    functions: frozenset[str]
    # A function header ends with the `header_end` token that follows the first of these
    # fields the definition has (its return annotation, else its parameters); the walk finds
    # that token by a byte search instead of visiting every child of the definition.
    function_header_fields: tuple[str, ...]
    # The field of a function or class that holds its body block.
    body_field: str
    classes: frozenset[str]
    decorated: str
    decorator: str
    # The field of a decorated definition that holds the definition.
    decorated_definition_field: str
    # A call (`@name(...)` decorators), and its field holding what is called.
    call: str
    call_function_field: str
    # Compound statements whose block structure a view keeps (platform switches, import
    # fallbacks), and the clauses that continue them (`elif`, `except`, `finally`, ...).
    compound_statements: frozenset[str]
    continuation_clauses: frozenset[str]
    # The `if` statement, and its condition text (whitespace and quote style removed) that marks
    # a script entry point a view may drop.
    if_statement: str
    if_condition_field: str
    if_alternative_field: str
    entry_point_conditions: frozenset[bytes]
    string: str
    # Node types found inside a string literal (a column-0 line there starts no statement).
    string_parts: frozenset[str]
    # The string prefixes a docstring may have (any other prefix, bytes or f-string, makes a
    # leading string something else); a re-quoted docstring line keeps its prefix.
    docstring_prefixes: bytes
    body_placeholder: bytes
    hidden_placeholder: bytes
    # A comment whose text (after the comment sign and blanks) starts with this marks a hot body.
    hot_marker: bytes
    comment_sign: bytes
    # A decorator whose last dotted name is this marks a hot body.
    hot_decorator: bytes
    indent_unit: bytes
    # The source-encoding declaration (PEP 263 for Python), searched in the first two lines;
    # None when the language's files are always UTF-8.
    encoding_declaration: re.Pattern[bytes] | None
    # Which walk builds this language's views (`memory.views` dispatches on it).
    walk: str = "python"


def _python_grammar() -> object:
    import tree_sitter_python

    return tree_sitter_python.language()


PYTHON = LanguageRules(
    name="python",
    suffixes=(".py", ".pyi", ".pyw"),
    load_grammar=_python_grammar,
    comment="comment",
    block="block",
    header_end=":",
    verbatim_statements=frozenset(
        {
            "import_statement",
            "import_from_statement",
            "future_import_statement",
            "type_alias_statement",
        }
    ),
    imports=frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
    expression_statement="expression_statement",
    assignments=frozenset({"assignment", "augmented_assignment"}),
    functions=frozenset({"function_definition"}),
    function_header_fields=("return_type", "parameters"),
    body_field="body",
    classes=frozenset({"class_definition"}),
    decorated="decorated_definition",
    decorator="decorator",
    decorated_definition_field="definition",
    call="call",
    call_function_field="function",
    compound_statements=frozenset({"if_statement", "try_statement", "with_statement"}),
    continuation_clauses=frozenset(
        {"elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause"}
    ),
    if_statement="if_statement",
    if_condition_field="condition",
    if_alternative_field="alternative",
    entry_point_conditions=frozenset({b'__name__=="__main__"', b'"__main__"==__name__'}),
    string="string",
    string_parts=frozenset(
        {"string", "string_start", "string_content", "string_end", "escape_sequence"}
    ),
    docstring_prefixes=b"rRuU",
    body_placeholder=b"...",
    hidden_placeholder=b"... # Hidden",
    hot_marker=b"[HOT]",
    comment_sign=b"#",
    hot_decorator=b"core_logic",
    indent_unit=b"    ",
    encoding_declaration=re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)"),
)

# A row of the table: the Python walk's rules or the brace walk's.
AnyRules = LanguageRules | BraceRules

LANGUAGES: tuple[AnyRules, ...] = (PYTHON, *BRACE_LANGUAGES)

_BY_SUFFIX: dict[str, AnyRules] = {
    suffix: rules for rules in LANGUAGES for suffix in rules.suffixes
}


def rules_for_path(path: str) -> AnyRules | None:
    """The rules for a file name, or None when no grammar covers it (its views are its text)."""
    return _BY_SUFFIX.get(os.path.splitext(path)[1].lower())
