"""Memory views of source files: raw, skeleton and curated, built with tree-sitter and cached.

`file_cache` is the entry point (`get_skeleton_view`, `get_curated_view`, `get_raw_view`,
`invalidate`, `rebuild`); `ast_views` builds the views; `languages` holds the per-language rules.
This package imports nothing else of slop_tui, so every layer above may use it.
"""
