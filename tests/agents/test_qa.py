"""Tier 4 on real command output: where a failure points, the hint, the fallback, the cap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from slop_tui.agents.qa import (
    HINT_TOKENS,
    QaTranslator,
    clamp_tokens,
    fallback_hint,
    locate_failure,
    worker_message,
)
from slop_tui.models import HintGiven, Tier, UsageUpdated
from slop_tui.providers import UsageLedger
from slop_tui.providers.scripted import ScriptedReply
from slop_tui.tokens import estimate_tokens
from slop_tui.tools.shell_runner import CommandResult, run_command

from tests.agents.helpers import Events, make_repo, scripted


async def run(repo: Path, command: str) -> CommandResult:
    return await run_command(command, repo, timeout_s=30)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {
            "pkg/__init__.py": "",
            "pkg/calc.py": "def total(items):\n    return sum(itemz)\n",
            "main.py": "from pkg.calc import total\n\nprint(total([1, 2]))\n",
            "tests/test_calc.py": "from pkg.calc import total\n\n\ndef test_total():\n    assert total([1]) == 1\n",
            "bad.py": "x = (1,\n",
        },
    )


async def test_a_python_trace_points_at_the_deepest_repository_frame(repo: Path) -> None:
    result = await run(repo, f"{sys.executable} main.py")
    failure = locate_failure(result.output, repo)
    assert (failure.path, failure.line) == ("pkg/calc.py", 2)
    assert failure.exception == "NameError: name 'itemz' is not defined. Did you mean: 'items'?"


async def test_a_pytest_failure_is_located_from_its_short_trace(repo: Path) -> None:
    result = await run(repo, f"{sys.executable} -m pytest -q -p no:cacheprovider tests")
    assert result.exit_code == 1 and "pkg/calc.py:2" in result.stdout  # pytest prints to stdout
    failure = locate_failure(result.output, repo)
    assert (failure.path, failure.line) == ("pkg/calc.py", 2)
    assert failure.exception is not None and failure.exception.startswith("NameError")


async def test_a_syntax_error_points_at_its_line(repo: Path) -> None:
    result = await run(repo, f"{sys.executable} bad.py")
    failure = locate_failure(result.output, repo)
    assert failure.path == "bad.py" and failure.line == 1
    assert failure.exception is not None and failure.exception.startswith("SyntaxError")


def test_frames_outside_the_repository_are_ignored(tmp_path: Path) -> None:
    output = 'Traceback:\n  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads\nValueError: bad\n'
    failure = locate_failure(output, tmp_path)
    assert failure.path is None and failure.exception == "ValueError: bad"


def test_clamp_keeps_short_text_and_cuts_long_text_at_a_word() -> None:
    assert clamp_tokens("  fix   the typo ", 40) == "fix the typo"
    long = "word " * 200
    cut = clamp_tokens(long, 40)
    assert estimate_tokens(cut) <= 40 and cut.endswith("…") and cut.startswith("word word")
    assert estimate_tokens(clamp_tokens("x" * 1000, 10)) <= 10


async def test_the_model_answer_is_the_hint_clamped_and_the_raw_output_is_logged(repo: Path) -> None:
    result = await run(repo, f"{sys.executable} main.py")
    chatty = "Rename itemz to items on line 2 of pkg/calc.py. " + "Also consider many other things. " * 30
    cheap = scripted(Tier.DEFAULT_CHEAP, {"t1": [ScriptedReply(text=chatty)]})
    events = Events()
    ledger = UsageLedger()
    hint = await QaTranslator(cheap, ledger=ledger, emit=events.emit).hint_for(
        "t1", result, repo, track_id="tr"
    )
    assert hint.startswith("System Hint: Rename itemz to items on line 2")
    assert estimate_tokens(hint) <= HINT_TOKENS
    message = worker_message(result, hint)
    assert message.startswith("Command failed (exit code 1). System Hint: Rename")
    assert estimate_tokens(message) <= HINT_TOKENS
    (given,) = events.of(HintGiven)
    assert given.raw_output == result.output and "Traceback" in given.raw_output
    assert given.hint == hint and given.exit_code == 1 and given.ticket_id == "t1"
    (usage,) = events.of(UsageUpdated)
    assert usage.tier is Tier.DEFAULT_CHEAP and usage.track_id == "tr"
    assert ledger.for_tier(Tier.DEFAULT_CHEAP).input_tokens > 0


async def test_without_a_qa_model_the_fallback_names_the_exception_and_place(repo: Path) -> None:
    result = await run(repo, f"{sys.executable} main.py")
    events = Events()
    hint = await QaTranslator(None, ledger=UsageLedger(), emit=events.emit).hint_for("t1", result, repo)
    assert hint == (
        "System Hint: pkg/calc.py:2: NameError: name 'itemz' is not defined. Did you mean: 'items'?"
    )
    assert events.of(UsageUpdated) == []


async def test_a_failing_qa_model_falls_back(repo: Path) -> None:
    result = await run(repo, f"{sys.executable} main.py")
    no_replies = scripted(Tier.DEFAULT_CHEAP, {})  # every call raises ProviderError
    events = Events()
    hint = await QaTranslator(no_replies, ledger=UsageLedger(), emit=events.emit).hint_for(
        "t1", result, repo
    )
    assert "NameError" in hint and "pkg/calc.py:2" in hint


async def test_fallbacks_for_silent_and_timed_out_commands(repo: Path) -> None:
    silent = await run(repo, "exit 3")
    assert fallback_hint(locate_failure(silent.output, repo), silent) == (
        "The command failed with exit code 3 and printed nothing."
    )
    noisy = await run(repo, "echo first; echo 'last words'; exit 4")
    assert fallback_hint(locate_failure(noisy.output, repo), noisy).endswith("its last line: last words")
    slow = await run_command("sleep 5", repo, timeout_s=0.2)
    text = fallback_hint(locate_failure(slow.output, repo), slow)
    assert text.startswith("The command timed out")
    assert worker_message(slow, "System Hint: x").startswith("Command failed (timed out).")
