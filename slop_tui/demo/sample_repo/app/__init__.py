"""pennywise: a small expense tracker kept in a JSON file."""

__version__ = "0.3.0"
