"""Test helpers importable by tests, benchmarks and subprocesses (no test framework needed)."""

from slop_tui.testing.llm_server import HTTPReply, HTTPToolCall, LLMServer, RecordedRequest
from slop_tui.testing.terminal_bytes import TerminalBytes

__all__ = ["HTTPReply", "HTTPToolCall", "LLMServer", "RecordedRequest", "TerminalBytes"]
