"""The worker's history economy as pure functions: stubs, elisions, shrunk outputs, checkpoints;
and the write/edit results the executor gives back (diff stat, the text near a failed edit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from slop_tui.agents import history
from slop_tui.agents.history import CallRecord, History, clutch_edit_note, compact, is_checkpoint
from slop_tui.models import ChatMessage, EditFileArgs, RunCommandArgs, ToolCall, WriteFileArgs
from slop_tui.tools.executor import ToolExecutor

BIG = "".join(f"line {n} of the module\n" for n in range(200))  # 4,490 characters


class Talk:
    """Builds a worker history step by step, with the records the worker would keep."""

    def __init__(self) -> None:
        self.messages = [ChatMessage(role="user", content="the ticket and its views")]
        self.records: dict[str, CallRecord] = {}
        self.step = 0

    def call(self, tool: str, result: str, record: CallRecord | None = None, **arguments: Any) -> str:
        self.step += 1
        call_id = f"c{self.step}"
        call = ToolCall(id=call_id, name=tool, arguments=json.dumps(arguments))
        self.messages.append(ChatMessage(role="assistant", content="", tool_calls=[call]))
        self.messages.append(ChatMessage(role="tool", content=result, tool_call_id=call_id))
        if record is not None:
            self.records[call_id] = record
        return call_id

    def read(self, path: str, text: str) -> str:
        return self.call("read_file", text, CallRecord(tool="read_file", path=path), path=path, view="raw")

    def write(self, path: str, content: str, *, applied: bool = True) -> str:
        record = CallRecord(tool="write_file", path=path, applied=applied, ok=applied)
        result = f"wrote {path}: +1 -1" if applied else "Rejected by the person: no"
        return self.call("write_file", result, record, path=path, content=content)

    def run(self, output: str, code: int = 0) -> str:
        record = CallRecord(tool="run_command", ok=code == 0, exit_code=code)
        return self.call("run_command", output, record, command="pytest", timeout_s=60)

    def result(self, messages: list[ChatMessage], call_id: str) -> str:
        return next(m.content for m in messages if m.tool_call_id == call_id)

    def arguments(self, messages: list[ChatMessage], call_id: str) -> dict[str, Any]:
        for message in messages:
            for call in message.tool_calls:
                if call.id == call_id:
                    value: dict[str, Any] = json.loads(call.arguments)  # must stay valid JSON
                    return value
        raise AssertionError(call_id)


def test_a_read_superseded_by_a_write_becomes_a_one_line_stub() -> None:
    talk = Talk()
    read = talk.read("app/config.py", BIG)
    talk.write("app/config.py", BIG + "x = 1\n")
    out = compact(talk.messages, talk.records, step=3)
    assert talk.result(out, read) == (
        "[app/config.py as read at step 1; changed since, read it again for the current text]"
    )
    assert talk.result(talk.messages, read) == BIG  # the worker's own list is never touched


def test_a_read_superseded_by_a_later_read_points_to_it_and_the_latest_stays_whole() -> None:
    talk = Talk()
    first = talk.read("a.py", BIG)
    second = talk.read("./a.py", BIG)  # a record carries the resolved path: "a.py"
    talk.records[second] = CallRecord(tool="read_file", path="a.py")
    out = compact(talk.messages, talk.records, step=3)
    assert talk.result(out, first).startswith("[a.py as read at step 1; read again at step 2")
    assert "read_file" in talk.result(out, first)
    assert talk.result(out, second) == BIG


def test_a_read_of_another_file_or_a_failed_read_is_kept() -> None:
    talk = Talk()
    kept = talk.read("a.py", BIG)
    failed = talk.call("read_file", "read_file failed: b.py: no such file",
                       CallRecord(tool="read_file", path="b.py", ok=False), path="b.py")
    talk.write("b.py", "x = 1\n")
    out = compact(talk.messages, talk.records, step=4)
    assert talk.result(out, kept) == BIG
    assert talk.result(out, failed).startswith("read_file failed")


def test_an_applied_write_keeps_valid_json_with_its_content_elided() -> None:
    talk = Talk()
    talk.call("list_files", "a.py")
    write = talk.write("app/storage.py", BIG)
    out = compact(talk.messages, talk.records, step=3)
    args = talk.arguments(out, write)
    assert args == {
        "path": "app/storage.py",
        "content": "[content written to app/storage.py at step 2: 4,490 characters; "
        "read_file shows the file now]",
    }


def test_a_rejected_or_short_write_keeps_its_content() -> None:
    talk = Talk()
    rejected = talk.write("a.py", BIG, applied=False)
    short = talk.write("b.py", "x = 1\n")
    out = compact(talk.messages, talk.records, step=3)
    assert talk.arguments(out, rejected)["content"] == BIG
    assert talk.arguments(out, short)["content"] == "x = 1\n"


def test_an_applied_edit_elides_its_long_texts_only() -> None:
    talk = Talk()
    record = CallRecord(tool="edit_file", path="a.py", applied=True)
    edit = talk.call("edit_file", "edited a.py: +200 -1", record, path="a.py", old="x = 1\n", new=BIG)
    args = talk.arguments(compact(talk.messages, talk.records, step=2), edit)
    assert args["old"] == "x = 1\n"
    assert args["new"].startswith("[`new` of the edit to a.py at step 1: 4,490 characters;")


def test_broken_arguments_are_left_as_sent() -> None:
    talk = Talk()
    record = CallRecord(tool="write_file", path="a.py", applied=True)
    talk.messages.append(
        ChatMessage(role="assistant", tool_calls=[ToolCall(id="x", name="write_file", arguments='{"path": ')])
    )
    talk.records["x"] = record
    out = compact(talk.messages, talk.records, step=2)
    assert out[-1].tool_calls[0].arguments == '{"path": '


def test_old_command_output_shrinks_to_its_exit_code_and_first_line() -> None:
    talk = Talk()
    output = "exit code 1\nFAILED test_a\n" + "\n".join(f"trace {n}" for n in range(300))
    old = talk.run(output, code=1)
    talk.call("list_files", ".")
    recent = talk.run(output, code=1)
    out = compact(talk.messages, talk.records, step=4)  # step 1 is older than the last two
    assert talk.result(out, old) == (
        "exit code 1\nFAILED test_a\n"
        "[300 more lines of output from step 1 cut; run the command again to see them]"
    )
    assert talk.result(out, recent) == output


def test_compacting_is_idempotent_and_deterministic() -> None:
    talk = Talk()
    talk.read("a.py", BIG)
    talk.write("a.py", BIG + "y\n")
    talk.run("exit code 0\n" + "ok\n" * 50)
    talk.read("a.py", BIG + "y\n")
    talk.run("exit code 0\n" + "ok\n" * 50)
    once = compact(talk.messages, talk.records, step=9)
    assert compact(once, talk.records, step=9) == once
    assert msgspec.json.encode(compact(talk.messages, talk.records, step=9)) == msgspec.json.encode(once)


def test_the_checkpoint_rule() -> None:
    assert not is_checkpoint(1, 1, 10**9)  # the first request has nothing to rewrite
    assert is_checkpoint(2, 1, history.CHECKPOINT_TAIL_TOKENS)
    assert not is_checkpoint(2, 1, history.CHECKPOINT_TAIL_TOKENS - 1)
    every = history.CHECKPOINT_EVERY_STEPS
    assert is_checkpoint(1 + every, 1, 0) and not is_checkpoint(every, 1, 0)


def test_between_checkpoints_a_request_only_appends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "CHECKPOINT_EVERY_STEPS", 3)
    monkeypatch.setattr(history, "CHECKPOINT_TAIL_TOKENS", 10**9)
    talk = Talk()
    book = History()
    plans = [book.request(talk.messages, 1)]
    read = talk.read("a.py", BIG)
    plans.append(book.request(talk.messages, 2))
    talk.write("a.py", BIG + "y\n")
    plans.append(book.request(talk.messages, 3))
    book.records.update(talk.records)
    plans.append(book.request(talk.messages, 4))  # 4 - 1 >= 3: a checkpoint
    assert [p.checkpoint for p in plans] == [False, False, False, True]
    for before, after in zip(plans[:3], plans[1:3]):
        size = len(before.messages)
        encoded = msgspec.json.encode(after.messages[:size])
        assert encoded == msgspec.json.encode(before.messages) and after.stable_prefix == size
    assert talk.result(plans[2].messages, read) == BIG  # not rewritten before the checkpoint
    assert talk.result(plans[3].messages, read).startswith("[a.py as read at step 1; changed since")
    assert plans[3].stable_prefix == 2  # the ticket and the read call: the result changed


def test_a_clutch_edit_is_told_as_a_diff_not_the_whole_payload() -> None:
    proposed = WriteFileArgs(path="a.py", content=BIG)
    ran = WriteFileArgs(path="a.py", content=BIG.replace("line 100 of", "line 100 (edited) of"))
    note = clutch_edit_note(proposed, ran)
    assert note.startswith("The person edited your call before it ran")
    assert "-line 100 of the module" in note and "+line 100 (edited) of the module" in note
    assert "line 10 of the module" not in note and len(note) < 500
    command = clutch_edit_note(RunCommandArgs(command="pytest"), RunCommandArgs(command="pytest -x"))
    assert 'command: "pytest" -> ran "pytest -x"' in command


async def test_write_and_edit_results_are_a_diff_stat(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a\nb\nc\n")
    executor = ToolExecutor(tmp_path)
    done = await executor.execute("t1", WriteFileArgs(path="a.py", content="a\nB\nc\nd\n"))
    assert done.output == "wrote a.py: +2 -1"
    done = await executor.execute("t1", WriteFileArgs(path="n.py", content="x\ny\n"))
    assert done.output == "wrote n.py (new file): +2 -0"
    done = await executor.execute("t1", EditFileArgs(path="a.py", old="B\n", new="b\n"))
    assert done.output == "edited a.py: +1 -1"


def test_a_failed_edit_shows_the_text_where_it_was_meant(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("".join(f"x{n} = {n}\n" for n in range(40)) + "y = 1\ny = 1\n")
    executor = ToolExecutor(tmp_path)
    near = executor.edit_context(EditFileArgs(path="a.py", old="x20 =  20\n", new="x"))
    assert near.startswith("\na.py lines 15-27 as they are now:\nx14 = 14\n") and "x20 = 20" in near
    twice = executor.edit_context(EditFileArgs(path="a.py", old="y = 1\n", new="y = 2\n"))
    assert twice == "\n`old` occurs at lines 41, 42 of a.py; include more lines to pick one."
    assert executor.edit_context(EditFileArgs(path="a.py", old="x1 = 1\n", new="z")) == ""


def test_a_checkpoint_rewrites_only_where_it_saves_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "CHECKPOINT_EVERY_STEPS", 1)
    monkeypatch.setattr(history, "CHECKPOINT_TAIL_TOKENS", 10**9)
    monkeypatch.setattr(history, "MIN_SAVING_SHARE", 1.0)
    talk = Talk()
    book = History()
    book.request(talk.messages, 1)
    small = talk.read("a.py", "x = 1\n" * 40)  # its stub saves little...
    talk.write("a.py", "x = 2\n")
    talk.run("exit code 0\n" + BIG * 3)  # ...against a big suffix to store again
    book.records.update(talk.records)
    kept = book.request(talk.messages, 2)
    assert not kept.checkpoint and kept.stable_prefix == 1  # all of the previous request
    big = talk.read("b.py", BIG)
    talk.write("b.py", "y = 1\n")  # superseding a big read late saves more than the suffix
    book.records.update(talk.records)
    cut = book.request(talk.messages, 3)
    assert cut.checkpoint
    assert talk.result(cut.messages, small) == "x = 1\n" * 40  # before the cut: as cached
    assert talk.result(cut.messages, big).startswith("[b.py as read at step 4; changed since")
    assert cut.stable_prefix == len(kept.messages)  # the cut comes after all of it
    nothing = book.request(talk.messages, 4)  # the rule fires, but nothing is worth rewriting
    assert not nothing.checkpoint and nothing.stable_prefix == len(cut.messages)


def test_an_altered_write_or_edit_is_elided_as_proposed_never_as_written() -> None:
    talk = Talk()
    write = talk.call(
        "write_file", "The person edited your call...\nwrote a.py: +1 -1",
        CallRecord(tool="write_file", path="a.py", applied=True, altered=True), path="a.py", content=BIG,
    )
    edit = talk.call(
        "edit_file", "The person applied only part...\nedited b.py: +1 -1",
        CallRecord(tool="edit_file", path="b.py", applied=True, altered=True), path="b.py", old="x\n", new=BIG,
    )
    out = compact(talk.messages, talk.records, step=3)
    assert talk.arguments(out, write)["content"] == (
        "[content you proposed for a.py at step 1: 4,490 characters; the person changed it before "
        "it ran (this call's result shows how); read_file shows the file now]"
    )
    assert talk.arguments(out, edit)["new"].startswith("[`new` you proposed for b.py at step 2: 4,490")
    assert "written" not in json.dumps([m.tool_calls for m in out if m.tool_calls], default=str)
    assert compact(out, talk.records, step=3) == out  # idempotent


def test_a_forced_checkpoint_compacts_everything_when_the_request_would_not_fit() -> None:
    talk = Talk()
    talk.read("a.py", BIG)
    talk.write("a.py", BIG + "x = 1\n")
    plans = History(records=talk.records)

    def size(messages: list[ChatMessage]) -> int:
        return sum(history._message_tokens(m) for m in messages)

    whole = plans.request(talk.messages[:1], 1)
    assert not whole.checkpoint
    roomy = History(records=talk.records)
    roomy.request(talk.messages[:1], 1)
    fits_all = roomy.request(talk.messages, 2, lambda m: True)
    assert not fits_all.checkpoint and not fits_all.forced
    limit = size(talk.messages) - 1
    forced = plans.request(talk.messages, 2, lambda m: size(m) <= limit)
    assert forced.checkpoint and forced.forced
    assert size(forced.messages) <= limit
    assert forced.messages == compact(talk.messages, talk.records, 2)
    # Nothing left to compact: the plan stays as it is, and the caller must refuse it.
    again = plans.request(talk.messages, 3, lambda m: False)
    assert not again.forced and again.messages == forced.messages


def test_what_ran_is_told_as_a_diff_of_the_file_yours_to_ran() -> None:
    note = history.ran_diff_note("a.py", BIG.replace("line 5 ", "line five "), BIG)
    assert note.startswith("What ran differs from yours:\n--- a.py (yours)\n+++ a.py (ran)\n")
    assert "-line five of the module" in note and "+line 5 of the module" in note
    assert "line 100 " not in note
    assert history.ran_diff_note("a.py", BIG, BIG) == ""
