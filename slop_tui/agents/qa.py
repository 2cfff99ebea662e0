"""Tier 4: turn a failed command's output into a one-line fix for the worker.

A failed command's output (a 200-line trace as often as not) never enters the worker's
history. The `default_cheap` model reads its head and tail and the code around the failing
line, and answers in a sentence or two; the worker gets that, clamped to `HINT_TOKENS`, as
"System Hint: ...", with the exit code. The raw output goes to the event log (`HintGiven`).
When the QA call fails, or there is no QA model, the hint is built without a model: the
exception line and the file:line the trace points at, never the trace itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from slop_tui.agents.context import load_prompt
from slop_tui.agents.emit import Emit
from slop_tui.models import ChatMessage, HintGiven, Tier
from slop_tui.providers import ModelRequest, Provider, UsageLedger
from slop_tui.tokens import estimate_tokens
from slop_tui.tools.shell_runner import CommandResult, head_and_tail

HINT_TOKENS = 40  # what a failed command may cost the worker, whatever the trace's length
QA_OUTPUT_TOKENS = 700  # head and tail of the output that Tier 4 reads
QA_REPLY_TOKENS = 120  # the model is asked for 1-2 sentences; this caps a chatty one
SNIPPET_RADIUS = 6  # lines of code shown on each side of the failing line

# `File "app/config.py", line 20` (Python tracebacks, SyntaxError) and `app/config.py:20:`
# (pytest's short traces, mypy, flake8, gcc): the two ways tools name a failing line.
_PY_FRAME = re.compile(r'File "(?P<path>[^"\n]+)", line (?P<line>\d+)')
_COLON_FRAME = re.compile(r"(?m)^\s*(?P<path>[^\s:\"']+\.[A-Za-z0-9]+):(?P<line>\d+)(?=[:\s]|$)")
# `NameError: name 'x' is not defined`, or pytest's `E   NameError: ...`.
_EXCEPTION = re.compile(
    r"(?m)^(?:E\s+)?(?P<text>(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure)\b(?::.*)?)$"
)


class Failure(msgspec.Struct, kw_only=True, frozen=True):
    """Where a failed command's output points: the repository file and line, the exception."""

    path: str | None = None  # repository-relative
    line: int | None = None
    exception: str | None = None


def _repo_file(repo_root: Path, text: str) -> str | None:
    candidate = Path(text)
    if not candidate.is_absolute():
        candidate = repo_root / candidate
    try:
        real = candidate.resolve()
        rel = real.relative_to(repo_root.resolve())
    except (OSError, ValueError, RuntimeError):
        return None
    return rel.as_posix() if real.is_file() else None


def locate_failure(output: str, repo_root: Path) -> Failure:
    """The last frame of `output` inside the repository (the deepest of our own code), and
    the last exception line; either may be missing."""
    frames: list[tuple[int, str, int]] = []
    for pattern in (_PY_FRAME, _COLON_FRAME):
        for match in pattern.finditer(output):
            rel = _repo_file(repo_root, match.group("path"))
            if rel is not None:
                frames.append((match.start(), rel, int(match.group("line"))))
    exceptions = [m.group("text").strip() for m in _EXCEPTION.finditer(output)]
    if frames:
        _, path, line = max(frames)
        return Failure(path=path, line=line, exception=exceptions[-1] if exceptions else None)
    return Failure(exception=exceptions[-1] if exceptions else None)


def snippet(repo_root: Path, path: str, line: int, radius: int = SNIPPET_RADIUS) -> str:
    """Numbered lines around `line` of a repository file, the failing one marked with `>`."""
    try:
        text = (repo_root / path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = text.splitlines()
    start = max(line - radius, 1)
    end = min(line + radius, len(lines))
    width = len(str(end))
    return "\n".join(
        f"{'>' if number == line else ' '} {number:>{width}} | {lines[number - 1]}"
        for number in range(start, end + 1)
    )


def clamp_tokens(text: str, limit: int) -> str:
    """`text` cut at a word boundary, with an ellipsis, so that it fits in `limit` tokens."""
    text = " ".join(text.split())
    if estimate_tokens(text) <= limit:
        return text
    cut = len(text)
    while cut > 0 and estimate_tokens(text[:cut].rstrip() + "…") > limit:
        cut = text.rfind(" ", 0, cut - 1)
        if cut <= 0:  # one long word: cut inside it
            cut = max(limit * 4 - 1, 0)
            while cut > 0 and estimate_tokens(text[:cut] + "…") > limit:
                cut -= 1
            return text[:cut] + "…"
    return text[:cut].rstrip() + "…"


def fallback_hint(failure: Failure, result: CommandResult) -> str:
    """A hint without a model: the exception line and where it happened."""
    place = f"{failure.path}:{failure.line}" if failure.path and failure.line else ""
    where = f" at {place}" if place else ""
    if result.timed_out:
        return f"The command timed out after {result.duration_s:g}s{where}; make it finish sooner or raise timeout_s."
    if failure.exception:
        return f"{place}: {failure.exception}" if place else failure.exception
    last = next((ln.strip() for ln in reversed(result.output.splitlines()) if ln.strip()), "")
    if last:
        return f"The command failed{where}; its last line: {last}"
    return f"The command failed with exit code {result.exit_code} and printed nothing{where}."


def worker_message(result: CommandResult, hint: str) -> str:
    """What the worker reads for a failed command: exit code and hint, within HINT_TOKENS."""
    head = "timed out" if result.timed_out else f"exit code {result.exit_code}"
    return clamp_tokens(f"Command failed ({head}). {hint}", HINT_TOKENS)


def qa_user_message(result: CommandResult, failure: Failure, repo_root: Path) -> str:
    parts = [
        f"Command: {result.command}",
        f"Exit code: {result.exit_code}" + (" (timed out)" if result.timed_out else ""),
        "",
        "Output (head and tail):",
        head_and_tail(result.output, QA_OUTPUT_TOKENS) if result.output else "(no output)",
    ]
    if failure.path and failure.line:
        code = snippet(repo_root, failure.path, failure.line)
        if code:
            parts += ["", f"{failure.path} around line {failure.line}:", code]
    return "\n".join(parts) + "\n"


class QaTranslator:
    """Tier 4. Stateless: each failure is one fresh request; nothing is remembered."""

    def __init__(self, provider: Provider | None, *, ledger: UsageLedger, emit: Emit) -> None:
        self.provider = provider
        self.ledger = ledger
        self.emit = emit

    async def hint_for(
        self,
        ticket_id: str,
        result: CommandResult,
        repo_root: Path,
        *,
        track_id: str | None = None,
    ) -> str:
        """`System Hint: ...` (at most HINT_TOKENS) for a failed command; publishes HintGiven
        with the raw output. Never raises for a failed QA call: the fallback hint is used."""
        root = Path(repo_root)
        failure = locate_failure(result.output, root)
        answer = await self._ask(ticket_id, result, failure, root, track_id)
        if not answer:
            answer = fallback_hint(failure, result)
        hint = clamp_tokens(f"System Hint: {answer}", HINT_TOKENS)
        await self.emit(
            HintGiven(
                ticket_id=ticket_id,
                command=result.command,
                exit_code=result.exit_code,
                hint=hint,
                raw_output=result.output,
            )
        )
        return hint

    async def _ask(
        self,
        ticket_id: str,
        result: CommandResult,
        failure: Failure,
        repo_root: Path,
        track_id: str | None,
    ) -> str | None:
        if self.provider is None:
            return None
        request = ModelRequest(
            system=load_prompt("qa.md").strip(),
            messages=[ChatMessage(role="user", content=qa_user_message(result, failure, repo_root))],
            max_tokens=QA_REPLY_TOKENS,
        )
        try:
            reply = await self.provider.complete(request, ticket_id=ticket_id)
        except Exception:  # any failure of Tier 4 falls back; it must never stop the worker
            return None
        event = self.ledger.record(
            Tier.DEFAULT_CHEAP, self.provider.label, ticket_id, reply.usage, self.provider.spec.price
        )
        event.track_id = track_id
        await self.emit(event)
        text = " ".join(reply.text.split())
        return text or None
