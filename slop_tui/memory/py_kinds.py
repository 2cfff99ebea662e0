"""The Python view walk's reading of a grammar: node kinds as tree-sitter's integer ids.

`Kinds` turns a `LanguageRules` row (node type names) into sets of kind ids and field ids once
per language, so the walk (`ast_views`) compares integers instead of building type strings.
"""

from __future__ import annotations


from slop_tui.memory.languages import LanguageRules
from slop_tui.memory.literals import ELIDED_LITERALS, PARENTHESES
from slop_tui.memory.parsers import language_of

# A string made of several pieces (`"a" "b"`), which can still be a docstring; per language.
CONCATENATED_STRINGS: dict[str, tuple[str, ...]] = {"python": ("concatenated_string",)}

# What the walk does with a statement, by its kind id (`Kinds.actions`); a kind that is not
# there is dropped.
DEFINITION, VERBATIM, EXPRESSION, COMPOUND, ERROR = range(1, 6)


class Kinds:
    """A language's node kinds as the integer ids tree-sitter reports (`Node.kind_id`), so the
    walk compares integers instead of building type strings. A name can have several ids (an
    alias shares its target's name), hence sets."""

    def __init__(self, rules: LanguageRules) -> None:
        language = language_of(rules)
        by_name: dict[tuple[str, bool], set[int]] = {}
        anonymous: set[int] = set()
        for kind_id in range(language.node_kind_count):
            name = language.node_kind_for_id(kind_id)
            if name is not None:
                named = language.node_kind_is_named(kind_id)
                by_name.setdefault((name, named), set()).add(kind_id)
                if not named:
                    anonymous.add(kind_id)

        def ids(*names: str, named: bool = True) -> frozenset[int]:
            return frozenset(i for name in names for i in by_name.get((name, named), ()))

        # Whether a node is named depends only on its kind id (an alias has its own id), so a
        # set test replaces a call to `Node.is_named`.
        self.anonymous = frozenset(anonymous)
        self.comment = ids(rules.comment)
        self.block = ids(rules.block)
        self.header_end = ids(rules.header_end, named=False)
        self.verbatim = ids(*rules.verbatim_statements)
        self.imports = ids(*rules.imports)
        self.expression_statement = ids(rules.expression_statement)
        self.assignments = ids(*rules.assignments)
        self.classes = ids(*rules.classes)
        self.decorated = ids(rules.decorated)
        self.definitions = ids(*rules.functions, *rules.classes, rules.decorated)
        self.decorator = ids(rules.decorator)
        self.call = ids(rules.call)
        self.compound = ids(*rules.compound_statements)
        self.clauses = ids(*rules.continuation_clauses)
        self.if_statement = ids(rules.if_statement)
        self.string = ids(rules.string)
        self.string_parts = ids(*rules.string_parts)
        self.concatenated = ids(*CONCATENATED_STRINGS.get(rules.name, ()))
        self.literals = {
            kind_id: placeholder
            for name, placeholder in ELIDED_LITERALS.get(rules.name, {}).items()
            for kind_id in ids(name)
        }
        self.parentheses = ids(*PARENTHESES.get(rules.name, ()))
        # tree-sitter's ERROR nodes have one reserved id in every language.
        error = language.id_for_node_kind("ERROR", True)
        self.error = frozenset(() if error is None else (error,))

        # One dict lookup per statement instead of a chain of set tests; later rows win, in the
        # order the walk used to test them (definitions first).
        actions: dict[int, int] = {}
        for action, members in (
            (ERROR, self.error),
            (COMPOUND, self.compound),
            (EXPRESSION, self.expression_statement),
            (VERBATIM, self.verbatim),
            (DEFINITION, self.definitions),
        ):
            actions.update(dict.fromkeys(members, action))
        self.actions = actions

        def field(name: str) -> int:
            field_id = language.field_id_for_name(name)
            if field_id is None:
                raise ValueError(f"the {rules.name} grammar has no field {name!r}")
            return field_id

        self.definition_field = field(rules.decorated_definition_field)
        self.body_field = field(rules.body_field)
        self.function_header_fields = tuple(field(f) for f in rules.function_header_fields)
        self.functions = ids(*rules.functions)
        self.header_end_bytes = rules.header_end.encode()
        self.comment_sign = rules.comment_sign
        self.call_function_field = field(rules.call_function_field)
        self.if_condition_field = field(rules.if_condition_field)
        self.if_alternative_field = field(rules.if_alternative_field)


_kinds_by_language: dict[str, Kinds] = {}


def kinds_of(rules: LanguageRules) -> Kinds:
    # Keyed by name: hashing the whole rules row on every view would cost more than the walk
    # of a small file.
    kinds = _kinds_by_language.get(rules.name)
    if kinds is None:
        kinds = _kinds_by_language[rules.name] = Kinds(rules)
    return kinds
