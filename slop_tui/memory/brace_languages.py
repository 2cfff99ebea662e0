"""Rows of the language table for the brace walk (`brace_views`): TypeScript, JavaScript, Go,
Rust, Java, C, C++, C#, PHP and Ruby.

One generic walk reads every one of these; a row only names the node types of its grammar:
which nodes hold declarations (walked), which are functions (their body becomes a marker),
which are comments, and which literals a view may elide. Grammars load lazily from their
official wheels, so importing the table loads none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BraceRules:
    """How the brace walk reads one language's tree-sitter tree."""

    name: str
    suffixes: tuple[str, ...]
    load_grammar: Callable[[], object]
    # Nodes whose named children the walk visits (the file, class bodies, namespaces, impl
    # blocks, export wrappers, preprocessor blocks, declarators that may hold a function).
    containers: frozenset[str]
    # Nodes whose `body` field, when it is one of `bodies`, becomes the placeholder.
    functions: frozenset[str]
    bodies: frozenset[str]
    comments: frozenset[str]
    # A comment starting with one of these documents the declaration below it.
    doc_prefixes: tuple[bytes, ...]
    # Literal node kinds a long constant value is elided to, with what replaces them (parses).
    literals: tuple[tuple[str, bytes], ...]
    # Siblings that belong to the declaration after them (attributes, decorators): a `[HOT]`
    # comment above them marks that declaration.
    attached: frozenset[str] = frozenset()
    # Declarations that hold no code (interfaces, type aliases, imports): kept as written and
    # never entered, however long.
    opaque: frozenset[str] = frozenset()
    body_placeholder: bytes = b"{ /* ... */ }"
    hidden_placeholder: bytes = b"{ /* ... Hidden */ }"
    # The placeholder ends in a line comment: code after it on its line goes to the next line.
    placeholder_is_line_comment: bool = False
    hot_marker: bytes = b"[HOT]"
    # Go documents with plain `//` comments right above a declaration.
    any_comment_documents: bool = False
    encoding_declaration: None = None
    walk: str = "brace"


def _grammar(module: str, attribute: str = "language") -> Callable[[], object]:
    def load() -> object:
        import importlib

        return getattr(importlib.import_module(module), attribute)()

    return load


_C_COMMENTS = frozenset({"comment"})
_C_DOCS = (b"/**", b"///", b"//!", b"/*!")
_STRING = b'"..."'

_JS_CONTAINERS = frozenset(
    {
        "program",
        "export_statement",
        "class_declaration",
        "abstract_class_declaration",
        "class",
        "class_body",
        "lexical_declaration",
        "variable_declaration",
        "variable_declarator",
        "expression_statement",
        "assignment_expression",
        "internal_module",
        "module",
        "ambient_declaration",
        "statement_block",  # reached only as a namespace's body: functions are handled first
        "public_field_definition",
        "field_definition",
    }
)
_JS_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "function",
        "generator_function",
        "arrow_function",
        "method_definition",
    }
)
_TS_OPAQUE = frozenset(
    {
        "interface_declaration",
        "type_alias_declaration",
        "enum_declaration",
        "function_signature",
        "import_statement",
        "export_clause",
        "method_signature",
        "abstract_method_signature",
        "property_signature",
        "index_signature",
    }
)
_JS_LITERALS = (
    ("array", b"[ /* ... */ ]"),
    ("string", _STRING),
    ("template_string", b"`...`"),
)

TYPESCRIPT = BraceRules(
    name="typescript",
    suffixes=(".ts", ".mts", ".cts"),
    load_grammar=_grammar("tree_sitter_typescript", "language_typescript"),
    containers=_JS_CONTAINERS,
    functions=_JS_FUNCTIONS,
    bodies=frozenset({"statement_block"}),
    comments=_C_COMMENTS,
    doc_prefixes=_C_DOCS,
    literals=_JS_LITERALS,
    attached=frozenset({"decorator"}),
    opaque=_TS_OPAQUE,
)
TSX = BraceRules(
    name="tsx",
    suffixes=(".tsx",),
    load_grammar=_grammar("tree_sitter_typescript", "language_tsx"),
    containers=_JS_CONTAINERS,
    functions=_JS_FUNCTIONS,
    bodies=frozenset({"statement_block"}),
    comments=_C_COMMENTS,
    doc_prefixes=_C_DOCS,
    literals=_JS_LITERALS,
    attached=frozenset({"decorator"}),
    opaque=_TS_OPAQUE,
)
JAVASCRIPT = BraceRules(
    name="javascript",
    suffixes=(".js", ".mjs", ".cjs", ".jsx"),
    load_grammar=_grammar("tree_sitter_javascript"),
    containers=_JS_CONTAINERS,
    functions=_JS_FUNCTIONS,
    bodies=frozenset({"statement_block"}),
    comments=_C_COMMENTS,
    doc_prefixes=_C_DOCS,
    literals=_JS_LITERALS,
    attached=frozenset({"decorator"}),
    opaque=_TS_OPAQUE,
)
GO = BraceRules(
    name="go",
    suffixes=(".go",),
    load_grammar=_grammar("tree_sitter_go"),
    containers=frozenset(
        {"source_file", "var_declaration", "var_spec", "const_declaration", "const_spec"}
    ),
    functions=frozenset({"function_declaration", "method_declaration", "func_literal"}),
    bodies=frozenset({"block"}),
    comments=_C_COMMENTS,
    doc_prefixes=(b"//", b"/*"),
    literals=(
        ("literal_value", b"{ /* ... */ }"),
        ("interpreted_string_literal", _STRING),
        ("raw_string_literal", b"`...`"),
    ),
    any_comment_documents=True,
)
RUST = BraceRules(
    name="rust",
    suffixes=(".rs",),
    load_grammar=_grammar("tree_sitter_rust"),
    containers=frozenset(
        {
            "source_file",
            "mod_item",
            "impl_item",
            "trait_item",
            "declaration_list",
            "foreign_mod_item",
        }
    ),
    functions=frozenset({"function_item", "closure_expression"}),
    bodies=frozenset({"block"}),
    comments=frozenset({"line_comment", "block_comment"}),
    doc_prefixes=(b"///", b"//!", b"/**", b"/*!"),
    literals=(
        ("array_expression", b"[ /* ... */ ]"),
        ("string_literal", _STRING),
        ("raw_string_literal", _STRING),
    ),
    attached=frozenset({"attribute_item"}),
    opaque=frozenset({"struct_item", "enum_item", "type_item", "use_declaration", "macro_definition"}),
)
JAVA = BraceRules(
    name="java",
    suffixes=(".java",),
    load_grammar=_grammar("tree_sitter_java"),
    containers=frozenset(
        {
            "program",
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
            "class_body",
            "interface_body",
            "enum_body",
            "enum_body_declarations",
            "annotation_type_body",
            "enum_constant",
        }
    ),
    functions=frozenset(
        {"method_declaration", "constructor_declaration", "compact_constructor_declaration"}
    ),
    bodies=frozenset({"block", "constructor_body"}),
    comments=frozenset({"line_comment", "block_comment"}),
    doc_prefixes=(b"/**",),
    literals=(("array_initializer", b"{ /* ... */ }"), ("string_literal", _STRING)),
    opaque=frozenset({"import_declaration", "package_declaration"}),
)
_C_CONTAINERS = frozenset(
    {
        "translation_unit",
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "preproc_elifdef",
        "linkage_specification",
        "declaration_list",
    }
)
_C_LITERALS = (
    ("initializer_list", b"{ /* ... */ }"),
    ("string_literal", _STRING),
    ("concatenated_string", _STRING),
)
C = BraceRules(
    name="c",
    suffixes=(".c",),
    load_grammar=_grammar("tree_sitter_c"),
    containers=_C_CONTAINERS,
    functions=frozenset({"function_definition"}),
    bodies=frozenset({"compound_statement"}),
    comments=_C_COMMENTS,
    doc_prefixes=_C_DOCS,
    literals=_C_LITERALS,
)
CPP = BraceRules(
    name="cpp",
    # `.h` is read as C++, which accepts C headers.
    suffixes=(".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h", ".ipp", ".tpp"),
    load_grammar=_grammar("tree_sitter_cpp"),
    containers=_C_CONTAINERS
    | frozenset(
        {
            "namespace_definition",
            "template_declaration",
            "class_specifier",
            "struct_specifier",
            "union_specifier",
            "field_declaration_list",
        }
    ),
    functions=frozenset({"function_definition", "lambda_expression"}),
    bodies=frozenset({"compound_statement"}),
    comments=_C_COMMENTS,
    doc_prefixes=_C_DOCS,
    literals=_C_LITERALS,
    attached=frozenset({"attribute_declaration"}),
    opaque=frozenset({"preproc_def", "preproc_function_def", "preproc_include", "enum_specifier"}),
)
CSHARP = BraceRules(
    name="csharp",
    suffixes=(".cs",),
    load_grammar=_grammar("tree_sitter_c_sharp"),
    containers=frozenset(
        {
            "compilation_unit",
            "namespace_declaration",
            "file_scoped_namespace_declaration",
            "declaration_list",
            "class_declaration",
            "struct_declaration",
            "interface_declaration",
            "record_declaration",
            "property_declaration",
            "accessor_list",
            "preproc_if",
            "preproc_else",
            "preproc_elif",
        }
    ),
    functions=frozenset(
        {
            "method_declaration",
            "constructor_declaration",
            "destructor_declaration",
            "operator_declaration",
            "conversion_operator_declaration",
            "accessor_declaration",
            "local_function_statement",
        }
    ),
    bodies=frozenset({"block"}),
    comments=_C_COMMENTS,
    doc_prefixes=(b"///", b"/**"),
    literals=(("initializer_expression", b"{ /* ... */ }"), ("string_literal", _STRING)),
    attached=frozenset({"attribute_list"}),
)
PHP = BraceRules(
    name="php",
    suffixes=(".php",),
    load_grammar=_grammar("tree_sitter_php", "language_php"),
    containers=frozenset(
        {
            "program",
            "namespace_definition",
            "class_declaration",
            "interface_declaration",
            "trait_declaration",
            "enum_declaration",
            "declaration_list",
            "enum_declaration_list",
        }
    ),
    functions=frozenset({"function_definition", "method_declaration"}),
    bodies=frozenset({"compound_statement"}),
    comments=_C_COMMENTS,
    doc_prefixes=(b"/**",),
    literals=(("array_creation_expression", b"[ /* ... */ ]"), ("string", _STRING)),
    attached=frozenset({"attribute_list"}),
)
RUBY = BraceRules(
    name="ruby",
    suffixes=(".rb",),
    load_grammar=_grammar("tree_sitter_ruby"),
    containers=frozenset({"program", "class", "module", "singleton_class", "body_statement"}),
    functions=frozenset({"method", "singleton_method"}),
    bodies=frozenset({"body_statement"}),
    comments=_C_COMMENTS,
    doc_prefixes=(b"#",),
    literals=(("array", b"[]"), ("hash", b"{}")),
    body_placeholder=b"# ...",
    hidden_placeholder=b"# ... Hidden",
    placeholder_is_line_comment=True,
    any_comment_documents=True,
)

BRACE_LANGUAGES: tuple[BraceRules, ...] = (
    TYPESCRIPT,
    TSX,
    JAVASCRIPT,
    GO,
    RUST,
    JAVA,
    C,
    CPP,
    CSHARP,
    PHP,
    RUBY,
)
