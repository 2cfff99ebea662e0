# mypy: ignore-errors
"""Tricky module: every rule of the views in one file.

The second paragraph of the module docstring.
"""

from __future__ import annotations

import sys
from typing import Any, overload

try:
    import ujson as json
except ImportError:  # fall back to the standard library
    import json
finally:
    pass

if sys.platform == "win32":
    SEP = "\\"

    def native(path: str) -> str:
        return path.replace("/", SEP)
elif sys.platform == "darwin":
    print("no definitions in this branch")
else:
    def native(path: str) -> str:
        return path

with open(__file__) as _handle:
    HEADER = _handle.readline()

LIMIT: int = 10
names: list[str]
ÄPFEL = "grüne Äpfel 🍏"
handler = lambda event: None
counter = 0; counter += 1


@overload
def pick(x: int) -> int: ...
@overload
def pick(x: str) -> str: ...
def pick(x):
    """Pick a thing.

    Longer explanation that a skeleton drops.
    """
    def helper():
        return x
    return helper()


@decorator_with_args(1, key="value", fn=lambda a, b: a + b)
def signature(a, b=2, /, c=lambda: 0, *args: Any, d, e: int = 5, **kwargs: Any) -> dict[str, Any]:
    return {}


def multi_line(
    first: int,  # a comment inside the signature
    second: str = "a, b",
    *,
    third: bool = False,
) -> None:
    pass


async def fetch(url: str, *, timeout: float = 1.0) -> bytes:
    '''Fetch "url".'''
    return b""


# [HOT]
def hot_above(x: int) -> int:
    total = x * 2
    return total


# [HOT] with a reason
@decorator_with_args(2)
async def hot_above_decorator(x):
    await x
    return 1


def hot_trailing(x):  # [HOT]
    return x + 1


def hot_multiline_trailing(
    x,
):  # [HOT]
    return x - 1


# [HOT]

def not_hot_after_blank_line(x):
    return x


TEXT = """
# [HOT]"""
def not_hot_string_above(x):
    return x


@core_logic
def core_plain(x):
    return x * 3


@pkg.tools.core_logic(level=2)
def core_attribute(x):
    return x * 4


def grüße(naïve: str = "é") -> str:
    r"""Return a \N greeting, raw.\
    Second line."""
    return "grüß " + naïve


class Outer(Base, metaclass=Meta):
    """An outer class.

    With a long docstring.
    """

    attr: int = 1
    other = attr + 1

    class Inner:
        """Inner."""

        class Deepest:
            def method(self): return 0

        def inner_method(self, /, x, *, y): ...

    @property
    def value(self) -> int:
        return self.attr

    @value.setter
    def value(self, new: int) -> None:
        self.attr = new

    @staticmethod
    def static(*args, **kwargs): pass

    @classmethod
    async def create(cls) -> "Outer":
        return cls()

    if sys.version_info >= (3, 12):
        def new_api(self): return 1
    else:
        def new_api(self): return 2

    # [HOT]
    def hot_method(self):
        for i in range(3):
            yield i

    def _private(self):
        class Hidden:
            def invisible(self): pass
        return Hidden


class Empty(Exception):
    pass


class OnlyDocstring:
    'Single-quoted docstring.'


def function_with_bytes_docstring():
    b"not a docstring"
    return 1


def function_with_fstring():
    f"not a docstring {LIMIT}"


if __name__ == "__main__":
    def main(): pass
    main()
