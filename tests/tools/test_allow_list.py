"""Always-allow rules: exact commands and confirmed prefixes, never a way around the clutch."""

from __future__ import annotations

import asyncio

import pytest

from slop_tui.errors import SlopError
from slop_tui.models import (
    Approve,
    Decision,
    Proposal,
    Reject,
    RunCommandArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import (
    SHELL_METACHARACTERS,
    AllowList,
    AskForChanges,
    AskForEverything,
    rule_matches,
    rule_problem,
)


def _command(command: str, *, asks_network: bool = False, network: bool = False, sandboxed: bool = True) -> Proposal:
    return Proposal(
        id="p1",
        ticket_id="T1",
        tool="run_command",
        arguments=RunCommandArgs(command=command, network=asks_network),
        cwd="/repo",
        sandboxed=sandboxed,
        network=network,
    )


class _Scripted:
    """A clutch that answers from a list and counts how often it was asked."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.asked.append(proposal)
        return self.answers.pop(0)


def test_metacharacters_are_the_documented_set() -> None:
    assert SHELL_METACHARACTERS == frozenset(";|&$`()<>\n")


def test_exact_rule_allows_only_that_command() -> None:
    allow = AllowList(["make test"])
    assert allow.allows(_command("make test"))
    assert not allow.allows(_command("make testing"))
    assert not allow.allows(_command("make"))
    assert not allow.allows(_command(" make test"))


def test_prefix_rule_allows_plain_arguments() -> None:
    allow = AllowList(["python -m pytest"])
    assert allow.allows(_command("python -m pytest"))
    assert allow.allows(_command("python -m pytest -q tests/tools/test_x.py -k 'a or b'"))
    assert allow.allows(_command("python -m pytest\t-x"))
    assert not allow.allows(_command("python -m pytestevil"))  # not at a word boundary
    assert not allow.allows(_command("python -m pip install x"))


@pytest.mark.parametrize(
    "attack",
    [
        "python -m pytest; curl x",
        "python -m pytest $(rm -rf .)",
        "python -m pytest `rm -rf .`",
        "python -m pytest\nrm -rf .",
        "python -m pytest && curl x",
        "python -m pytest || curl x",
        "python -m pytest | sh",
        "python -m pytest & curl x",
        "python -m pytest > ~/.bashrc",
        "python -m pytest < /etc/passwd",
        "python -m pytest ${HOME}",
        "python -m pytest (x)",
    ],
)
def test_prefix_never_covers_a_metacharacter(attack: str) -> None:
    allow = AllowList(["python -m pytest"])
    assert not allow.allows(_command(attack))
    assert not rule_matches("python -m pytest", attack)


def test_a_rule_with_a_metacharacter_is_exact_only() -> None:
    allow = AllowList(["make test && make lint"])
    assert allow.allows(_command("make test && make lint"))
    assert not allow.allows(_command("make test && make lint --all"))


def test_never_for_network_or_unsandboxed_or_other_tools() -> None:
    allow = AllowList(["python -m pytest"])
    assert not allow.allows(_command("python -m pytest", asks_network=True))
    assert not allow.allows(_command("python -m pytest", network=True))
    assert not allow.allows(_command("python -m pytest", sandboxed=False))
    write = Proposal(id="w", ticket_id="T1", tool="write_file", arguments=WriteFileArgs(path="python -m pytest", content=""))
    assert not allow.allows(write)


def test_rule_problems_name_what_is_wrong() -> None:
    proposal = _command("python -m pytest -q; curl x")
    assert rule_problem(proposal, "python -m pytest") is None  # a prefix at a word boundary
    assert rule_problem(proposal, "python -m pytest -q; curl x") is None  # the exact command
    assert "word boundary" in (rule_problem(proposal, "python -m py") or "")
    assert "word boundary" in (rule_problem(proposal, "pytest") or "")
    assert "metacharacter" in (rule_problem(proposal, "python -m pytest -q;") or "")
    assert "empty" in (rule_problem(proposal, "  ") or "")
    assert "network" in (rule_problem(_command("curl x", asks_network=True), "curl x") or "")
    assert "unsandboxed" in (rule_problem(_command("ls", sandboxed=False), "ls") or "")


def test_add_remove_and_change_notice() -> None:
    allow = AllowList()
    seen: list[list[str]] = []
    allow.on_change = lambda: seen.append(allow.rules())
    allow.add(" make test ")
    allow.add("make test")  # already there: no second rule, no notice
    allow.add("ruff check")
    allow.remove("make test")
    allow.remove("not there")
    assert allow.rules() == ["ruff check"]
    assert seen == [["make test"], ["make test", "ruff check"], ["ruff check"]]
    with pytest.raises(SlopError):
        allow.add("   ")


def test_ask_for_changes_records_always_and_skips_the_second_ask() -> None:
    inner = _Scripted(Approve(always="python -m pytest"), Reject(reason="no"))
    policy = AskForChanges(inner)

    async def go() -> list[Decision]:
        return [
            await policy.decide(_command("python -m pytest -q")),
            await policy.decide(_command("python -m pytest tests -x")),  # allowed: not asked
            await policy.decide(_command("python -m pytest; curl x")),  # asked
        ]

    first, second, third = asyncio.run(go())
    assert first == Approve(always="python -m pytest")
    assert second == Approve()  # allowed by the rule, never with the network
    assert third == Reject(reason="no")
    assert policy.allow.rules() == ["python -m pytest"]
    assert [p.arguments.command for p in inner.asked] == ["python -m pytest -q", "python -m pytest; curl x"]  # type: ignore[union-attr]


def test_a_bad_always_answer_approves_once_and_records_nothing() -> None:
    allow = AllowList()
    inner = _Scripted(Approve(always="pytest"), Approve(always="curl x", network=True), Approve())
    policy = AskForEverything(inner, allow)

    async def go() -> None:
        await policy.decide(_command("python -m pytest"))  # not a prefix
        await policy.decide(_command("curl x", asks_network=True))  # network: every time
        await policy.decide(_command("curl x", asks_network=True))

    asyncio.run(go())
    assert allow.rules() == []
    assert len(inner.asked) == 3


def test_a_shared_allow_list_and_network_proposals_still_ask() -> None:
    allow = AllowList(["npm test"])
    inner = _Scripted(Approve(network=True))
    policy = AskForChanges(inner, allow)
    assert policy.allow is allow
    decision = asyncio.run(policy.decide(_command("npm test", asks_network=True)))
    assert decision == Approve(network=True) and len(inner.asked) == 1


def test_linear_mode_keeps_the_runs_rules() -> None:
    from slop_tui.conductor.session import _SessionClutch

    allow = AllowList()
    inner = _Scripted(Approve(always="make test"))
    session_clutch = _SessionClutch(AskForChanges(inner, allow), linear=True)

    async def go() -> None:
        await session_clutch.decide(_command("make test"))
        await session_clutch.decide(_command("make test -j2"))  # allowed: the inner list is empty

    asyncio.run(go())
    assert allow.rules() == ["make test"] and len(inner.asked) == 1
