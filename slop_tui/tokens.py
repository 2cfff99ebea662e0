"""The one token estimate the project uses wherever it counts context.

It is a characters-based estimate: one token per four characters, rounded up. That is the usual
rule of thumb for English prose and source code with BPE tokenizers (OpenAI's and Anthropic's
publish it); real counts for Python code are typically within about 25 % of it. It needs no
tokenizer download, costs nothing, and is the same for every provider, so ratios between two
texts (a view against its raw file, a context against its budget) are what it is good for.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Estimated tokens of `text`: its length in characters divided by 4, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)
