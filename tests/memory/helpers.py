"""Helpers for the memory-view tests: an `ast`-based reference of what a view must keep."""

from __future__ import annotations

import ast
import os
import sysconfig
from collections import Counter

Definition = tuple[str, str, tuple[str, ...]]  # (kind, dotted path, parameter names)


def _parameter_names(args: ast.arguments) -> tuple[str, ...]:
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg is not None:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append("**" + args.kwarg.arg)
    return tuple(names)


def _is_entry_point(node: ast.If) -> bool:
    test = node.test
    if node.orelse or not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
    return sides == {"__name__", "'__main__'"}


def definitions(tree: ast.Module) -> Counter[Definition]:
    """Every class and function a view must show: at module or class level, under `if`, `try`
    and `with` too (an `if __name__ == "__main__":` block without `else` excepted), but not
    inside function bodies."""
    found: Counter[Definition] = Counter()

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[("def", prefix + node.name, _parameter_names(node.args))] += 1
            elif isinstance(node, ast.ClassDef):
                found[("class", prefix + node.name, ())] += 1
                walk(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.If):
                if not _is_entry_point(node):
                    walk(node.body, prefix)
                    walk(node.orelse, prefix)
            elif isinstance(node, (ast.Try, ast.TryStar)):
                walk(node.body, prefix)
                for handler in node.handlers:
                    walk(handler.body, prefix)
                walk(node.orelse, prefix)
                walk(node.finalbody, prefix)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                walk(node.body, prefix)

    walk(tree.body, "")
    return found


def stdlib_files() -> list[str]:
    """Every `.py` file of the running Python's standard library, without `test/` and
    site-packages, in a stable order."""
    root = sysconfig.get_paths()["stdlib"]
    files: list[str] = []
    for directory, subdirs, names in os.walk(root):
        relative = os.path.relpath(directory, root)
        parts = relative.split(os.sep)
        if parts[0] == "test" or "site-packages" in parts or "__pycache__" in parts:
            subdirs[:] = []
            continue
        subdirs.sort()
        files += [os.path.join(directory, n) for n in sorted(names) if n.endswith(".py")]
    return files
