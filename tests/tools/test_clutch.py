"""The clutch protocol, its policies, edit validation and the ask / re-diff loop."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from slop_tui.models import (
    Approve,
    Decision,
    Edit,
    EditFileArgs,
    ListFilesArgs,
    Proposal,
    ReadFileArgs,
    Reject,
    RunCommandArgs,
    WriteFileArgs,
)
from slop_tui.tools.clutch import (
    ApproveAll,
    AskForChanges,
    AskForEverything,
    Clutch,
    EditRefused,
    editable_json,
    make_edit,
    parse_edited_arguments,
)
from slop_tui.tools.clutch_loop import pass_clutch
from slop_tui.tools.executor import ToolExecutor
from tests.tools.helpers import tree_fingerprint


class ScriptedClutch:
    """A clutch that answers from a list and remembers every proposal it was shown."""

    def __init__(self, answers: list[Decision]) -> None:
        self.answers = list(answers)
        self.seen: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.seen.append(proposal)
        return self.answers.pop(0)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    (root / "out_link").symlink_to(tmp_path / "outside.txt")
    return root


def _proposal(executor: ToolExecutor, args: object) -> Proposal:
    assert isinstance(args, (ReadFileArgs, ListFilesArgs, WriteFileArgs, EditFileArgs, RunCommandArgs))
    return executor.propose("t1", args)


def test_policies_are_clutches() -> None:
    inner = ScriptedClutch([])
    for clutch in (ApproveAll(), AskForChanges(inner), AskForEverything(inner), inner):
        assert isinstance(clutch, Clutch)


async def test_default_policy_runs_reads_and_asks_for_changes(repo: Path) -> None:
    executor = ToolExecutor(repo)
    inner = ScriptedClutch([Reject(reason="not now"), Reject(reason="no commands")])
    policy = AskForChanges(inner)
    assert await policy.decide(_proposal(executor, ReadFileArgs(path="a.py"))) == Approve()
    assert await policy.decide(_proposal(executor, ListFilesArgs())) == Approve()
    write = _proposal(executor, WriteFileArgs(path="a.py", content="y\n"))
    assert await policy.decide(write) == Reject(reason="not now")
    command = _proposal(executor, RunCommandArgs(command="ls"))
    assert await policy.decide(command) == Reject(reason="no commands")
    assert [p.tool for p in inner.seen] == ["write_file", "run_command"]


async def test_linear_policy_asks_for_everything_and_yes_asks_nothing(repo: Path) -> None:
    executor = ToolExecutor(repo)
    read = _proposal(executor, ReadFileArgs(path="a.py"))
    inner = ScriptedClutch([Reject(reason="stop")])
    assert await AskForEverything(inner).decide(read) == Reject(reason="stop")
    assert inner.seen == [read]
    assert await ApproveAll().decide(_proposal(executor, RunCommandArgs(command="rm -rf x"))) == Approve()


def test_editable_json_is_the_arguments_only() -> None:
    text = editable_json(WriteFileArgs(path="a.py", content="x\n"))
    assert msgspec.json.decode(text) == {"path": "a.py", "content": "x\n"}
    assert "\n  " in text  # pretty-printed for a human


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"path": "a.py", "content": 5}', "Expected `str`, got `int` - at `$.content`"),
        ('{"path": "a.py", "content": "x", "mode": "w"}', "unknown field `mode`"),
        ('{"path": "a.py"}', "missing required field `content`"),
        ('{"tool": "run_command", "command": "rm -rf /"}', "an edit keeps the tool"),
        ('{"command": "rm -rf /"}', "unknown field `command`"),
        ('{"path": "../outside.txt", "content": "x"}', "'..' is not allowed"),
        ('{"path": "/etc/passwd", "content": "x"}', "absolute"),
        ('{"path": ".git/config", "content": "x"}', "never written"),
        ('["a.py", "x"]', "must be a JSON object"),
        ('{"path": "a.py", "content": "x"', "not valid JSON"),
    ],
)
def test_invalid_edits_are_refused_with_the_validation_error(
    repo: Path, text: str, expected: str
) -> None:
    proposal = ToolExecutor(repo).propose("t1", WriteFileArgs(path="a.py", content="y\n"))
    with pytest.raises(EditRefused) as info:
        parse_edited_arguments(proposal, text)
    assert expected in str(info.value)
    assert "write_file" in str(info.value)


def test_a_valid_edit_decodes_to_the_same_tool(repo: Path) -> None:
    proposal = ToolExecutor(repo).propose("t1", RunCommandArgs(command="pytest"))
    args = parse_edited_arguments(proposal, '{"command": "pytest -x", "timeout_s": 5}')
    assert args == RunCommandArgs(command="pytest -x", timeout_s=5)
    # The tag may stay in the text as long as it names the same tool.
    assert parse_edited_arguments(proposal, '{"tool": "run_command", "command": "ls"}') == RunCommandArgs(command="ls")
    with pytest.raises(EditRefused, match="timeout_s"):
        parse_edited_arguments(proposal, '{"command": "ls", "timeout_s": -1}')


async def test_pass_clutch_re_diffs_an_edit_before_it_can_be_approved(repo: Path) -> None:
    executor = ToolExecutor(repo)
    first = executor.propose("t1", WriteFileArgs(path="a.py", content="x = 2\n"))
    clutch = ScriptedClutch([make_edit(WriteFileArgs(path="a.py", content="x = 3\n")), Approve()])
    rounds: list[tuple[Proposal, Decision]] = []

    async def log(proposal: Proposal, decision: Decision) -> None:
        rounds.append((proposal, decision))

    decision, final = await pass_clutch(clutch, executor, first, on_decision=log)
    assert decision == Approve()
    assert final.arguments == WriteFileArgs(path="a.py", content="x = 3\n")
    assert "+x = 3\n" in final.diff and "+x = 2" not in final.diff
    assert clutch.seen == [first, final]  # the approval was given on the re-diffed proposal
    assert final.id != first.id and final.ticket_id == "t1"
    assert [type(d) for _, d in rounds] == [Edit, Approve]
    assert (repo / "a.py").read_text() == "x = 1\n"  # deciding applies nothing


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (RunCommandArgs(command="rm -rf ~"), "an edit keeps the tool"),
        (WriteFileArgs(path="out_link", content="pwned\n"), "outside the repository"),
        (WriteFileArgs(path="../outside.txt", content="pwned\n"), "'..'"),
        (WriteFileArgs(path=".slop/state.json", content="{}"), "never written"),
    ],
)
async def test_pass_clutch_refuses_a_bad_edit_and_asks_again(
    repo: Path, bad: object, expected: str
) -> None:
    assert isinstance(bad, (RunCommandArgs, WriteFileArgs))
    executor = ToolExecutor(repo)
    before = tree_fingerprint(repo.parent)
    first = executor.propose("t1", WriteFileArgs(path="a.py", content="x = 2\n"))
    clutch = ScriptedClutch([make_edit(bad), Reject(reason="fine, no")])
    decision, final = await pass_clutch(clutch, executor, first)
    assert decision == Reject(reason="fine, no")
    shown_again = clutch.seen[1]
    assert shown_again.arguments == first.arguments and shown_again.diff == first.diff
    assert shown_again.error is not None and shown_again.error.startswith("edit refused:")
    assert expected in shown_again.error
    assert final == first  # the answer applies to the last good proposal, without the note
    assert tree_fingerprint(repo.parent) == before


async def test_an_edit_whose_old_text_is_missing_is_shown_with_its_error(repo: Path) -> None:
    executor = ToolExecutor(repo)
    first = executor.propose("t1", EditFileArgs(path="a.py", old="x = 1", new="x = 2"))
    clutch = ScriptedClutch([make_edit(EditFileArgs(path="a.py", old="zzz", new="x = 2")), Approve()])
    decision, final = await pass_clutch(clutch, executor, first)
    assert decision == Approve()
    assert final.error is not None and "does not occur" in final.error
    outcome = await executor.execute("t1", final.arguments)  # approving it applies nothing
    assert not outcome.ok and (repo / "a.py").read_text() == "x = 1\n"
