"""slop-tui: a four-tier team of language models on a repository, with a human clutch."""

__version__ = "0.1.0"
