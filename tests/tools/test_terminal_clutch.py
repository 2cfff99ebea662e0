"""The terminal clutch, driven through a real pipe into a real process, with a real $EDITOR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
FAKE_EDITOR = Path(__file__).resolve().parent / "fake_editor.py"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    (root / "out_link").symlink_to(tmp_path / "outside.txt")
    return root


class Run:
    def __init__(self, stdout: str, code: int, plan: Path | None) -> None:
        self.stdout = stdout
        self.code = code
        self.plan = plan

    @property
    def result(self) -> dict[str, Any]:
        lines = [l for l in self.stdout.splitlines() if l.startswith("RESULT ")]
        assert len(lines) == 1, self.stdout
        return dict(json.loads(lines[0][len("RESULT ") :]))

    def editor_saw(self) -> list[str]:
        assert self.plan is not None
        seen = Path(str(self.plan) + ".seen")
        return [json.loads(l) for l in seen.read_text().splitlines()] if seen.exists() else []


def drive(
    repo: Path,
    kind: str,
    answers: list[str],
    *,
    editor_plan: list[str] | None = None,
    delay_s: float = 0.0,
    extra_env: dict[str, str] | None = None,
) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR")}
    env.update(extra_env or {})
    env["PYTHONPATH"] = str(PROJECT)
    plan_path: Path | None = None
    if editor_plan is not None:
        plan_path = repo.parent / "plan.json"
        plan_path.write_text(json.dumps(editor_plan))
        env["FAKE_EDITOR_PLAN"] = str(plan_path)
        env["EDITOR"] = f"{sys.executable} {FAKE_EDITOR}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tools.clutch_driver", str(repo), kind],
        cwd=PROJECT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    early = ""
    if delay_s:
        # Answer only once the driver is asking and has waited `delay_s` on its stdin (a fixed
        # sleep from the start raced the interpreter's start-up on a loaded machine).
        deadline = time.monotonic() + 30
        while "[a]pprove" not in early:
            assert time.monotonic() < deadline, early
            chunk = os.read(proc.stdout.fileno(), 4096).decode()
            assert chunk, "the driver ended before asking"
            early += chunk
        time.sleep(delay_s)
    try:
        stdout, stderr = proc.communicate("".join(answers), timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    stdout = early + stdout
    assert "Traceback" not in stderr, stderr
    return Run(stdout, proc.returncode, plan_path)


def test_a_approves_and_the_loop_keeps_running_while_waiting(repo: Path) -> None:
    run = drive(repo, "write", ["a\n"], delay_s=0.5)
    assert run.code == 0
    assert run.result["decision"] == {"type": "approve"}
    assert run.result["arguments"] == {"tool": "write_file", "path": "a.py", "content": "x = 2\n"}
    # The diff was shown before the question.
    assert "--- a/a.py" in run.stdout and "-x = 1" in run.stdout and "+x = 2" in run.stdout
    assert run.stdout.index("+x = 2") < run.stdout.index("[a]pprove")
    assert run.result["ticks"] >= 10  # a blocking read would have frozen the ticker
    assert (repo / "a.py").read_text() == "x = 1\n"


def test_r_then_a_reason_rejects_with_it(repo: Path) -> None:
    run = drive(repo, "write", ["r\n", "\n", "tests first, please\n"])
    assert run.result["decision"] == {"type": "reject", "reason": "tests first, please"}
    assert run.stdout.count("reason >") == 2  # an empty reason is asked again


def test_a_reason_may_follow_r_on_the_same_line(repo: Path) -> None:
    run = drive(repo, "command", ["what?\n", "r too risky\n"])
    assert run.result["decision"] == {"type": "reject", "reason": "too risky"}
    assert "$ pytest -q" in run.stdout
    assert f"in {repo.resolve()}" in run.stdout
    assert "answer a (approve)" in run.stdout  # the unknown answer got help


def test_e_edits_in_the_editor_and_the_new_diff_is_shown_before_approval(repo: Path) -> None:
    new = json.dumps({"path": "a.py", "content": "x = 3\n"})
    run = drive(repo, "write", ["e\n", "a\n"], editor_plan=[new])
    assert run.result["decision"] == {"type": "approve"}
    assert run.result["arguments"]["content"] == "x = 3\n"
    # The editor got the arguments only, pretty-printed, no tool tag.
    assert [json.loads(t) for t in run.editor_saw()] == [{"path": "a.py", "content": "x = 2\n"}]
    assert "tool" not in run.editor_saw()[0]
    first, _, second = run.stdout.partition("+x = 3")
    assert second and "+x = 2" in first  # old diff, then the re-diffed one, then the approval
    assert (repo / "a.py").read_text() == "x = 1\n"


def test_an_invalid_edit_is_refused_then_a_valid_one_accepted(repo: Path) -> None:
    invalid = json.dumps({"path": "a.py", "content": 42})
    unknown = json.dumps({"path": "a.py", "content": "x = 4\n", "append": True})
    valid = json.dumps({"path": "a.py", "content": "x = 4\n"})
    run = drive(repo, "write", ["e\n", "e\n", "e\n", "a\n"], editor_plan=[invalid, unknown, valid])
    assert run.code == 0
    assert "edit refused" in run.stdout
    assert "Expected `str`, got `int`" in run.stdout
    assert "unknown field `append`" in run.stdout
    assert run.result["arguments"]["content"] == "x = 4\n"
    assert run.result["decision"] == {"type": "approve"}
    # The second and third opens started from the text as it was left, not from scratch.
    assert run.editor_saw()[1] == invalid and run.editor_saw()[2] == unknown


def test_an_edit_to_another_tool_or_outside_is_refused(repo: Path) -> None:
    other_tool = json.dumps({"tool": "run_command", "command": "rm -rf ~"})
    escape = json.dumps({"path": "out_link", "content": "pwned\n"})
    run = drive(repo, "write", ["e\n", "e\n", "r\n", "no\n"], editor_plan=[other_tool, escape])
    assert "an edit keeps the tool" in run.stdout
    # The symlink escape decodes fine and is refused by the sandbox, on the re-asked proposal.
    assert "edit refused" in run.stdout and "outside the repository" in run.stdout
    assert run.result["decision"] == {"type": "reject", "reason": "no"}
    assert run.result["arguments"]["path"] == "a.py"
    assert run.result["error"] is None  # the refusal note was shown, not carried on
    assert (repo.parent / "outside.txt").read_text() == "outside\n"


def test_a_failing_editor_discards_the_edit(repo: Path) -> None:
    run = drive(repo, "edit", ["e\n", "a\n"], editor_plan=["FAIL"])
    assert "editor exited with status 1" in run.stdout
    assert run.result["arguments"] == {"tool": "edit_file", "path": "a.py", "old": "x = 1", "new": "x = 2"}


def test_closed_input_stops_with_a_clear_error(repo: Path) -> None:
    run = drive(repo, "write", [])
    assert run.code == 3
    assert "ERROR clutch: input ended before a decision" in run.stdout


def test_a_command_shows_network_off_and_a_approves_without_it(repo: Path) -> None:
    run = drive(repo, "command", ["a\n"])
    assert run.code == 0
    assert "network: off" in run.stdout and "[w] approve with network" in run.stdout
    assert run.result["decision"] == {"type": "approve"}


def test_w_approves_a_command_with_the_network_it_asked_for(repo: Path) -> None:
    run = drive(repo, "command-network", ["w\n"])
    assert run.code == 0
    assert "network: off · the model asks for network; w allows it for this command" in run.stdout
    assert "network: on (allowed for this command)" in run.stdout
    assert run.result["decision"] == {"type": "approve", "network": True}


def test_w_is_only_for_commands(repo: Path) -> None:
    run = drive(repo, "write", ["w\n", "a\n"])
    assert run.code == 0
    assert "[w]" not in run.stdout and "answer a (approve), r" in run.stdout
    assert run.result["decision"] == {"type": "approve"}


def test_without_a_sandbox_the_command_is_marked_unsandboxed(repo: Path) -> None:
    run = drive(repo, "command", ["a\n"], extra_env={"SLOP_BWRAP": ""})  # S1's "no sandbox" override
    assert run.code == 0
    assert "unsandboxed" in run.stdout and "network: off" not in run.stdout
