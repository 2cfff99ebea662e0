"""The network at the clutch and masking, through the real executor and the real sandbox.

A listener on 127.0.0.1 is the outside world: a command reaches it only when the person's
`Approve(network=True)` (`execute(..., network=True)`) or `[run] network = "on"` allows it; the
model's `network: true` is a request that grants nothing. Every configured key and every
secret-looking variable of slop's environment is masked in tool output and in the store, in
its plain, repr, JSON and URL forms.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from slop_tui import sandbox
from slop_tui.models import RunCommandArgs, ToolResult
from slop_tui.store import Store
from slop_tui.tools.executor import ToolExecutor
from tests.listener import Listener

needs_sandbox = pytest.mark.skipif(not sandbox.detect().available, reason="no working bwrap here")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


def connect(listener: Listener, *, ask: bool = False) -> RunCommandArgs:
    return RunCommandArgs(command=listener.probe(), timeout_s=20, network=ask)


@needs_sandbox
async def test_the_models_request_alone_grants_no_network(repo: Path, listener: Listener) -> None:
    executor = ToolExecutor(repo)
    args = connect(listener, ask=True)
    proposal = executor.propose("t1", args)
    assert proposal.sandboxed and not proposal.network
    outcome = await executor.execute("t1", args)  # approved without the network (--yes, `a`)
    assert not outcome.ok and "got hello" not in outcome.output
    assert outcome.command_result is not None and not outcome.command_result.network


@needs_sandbox
async def test_the_persons_allow_gives_this_command_the_network(repo: Path, listener: Listener) -> None:
    executor = ToolExecutor(repo)
    outcome = await executor.execute("t1", connect(listener), network=True)
    assert outcome.ok and "got hello" in outcome.output, outcome.output
    # For this command only: the next one is cut off again.
    again = await executor.execute("t1", connect(listener))
    assert not again.ok and "got hello" not in again.output


@needs_sandbox
async def test_network_on_in_the_users_config_needs_no_allow(repo: Path, listener: Listener) -> None:
    executor = ToolExecutor(repo, network=True)
    assert executor.propose("t1", connect(listener)).network
    outcome = await executor.execute("t1", connect(listener))
    assert outcome.ok and "got hello" in outcome.output, outcome.output


async def test_an_unsandboxed_executor_marks_its_proposals(repo: Path) -> None:
    proposal = ToolExecutor(repo, sandboxed=False).propose("t1", RunCommandArgs(command="true"))
    assert not proposal.sandboxed


async def test_the_users_env_reaches_the_command(repo: Path) -> None:
    executor = ToolExecutor(repo, env_extra={"SLOP_TEST_SETTING": "from-run-env"})
    outcome = await executor.execute("t1", RunCommandArgs(command="echo \"$SLOP_TEST_SETTING\""))
    assert outcome.ok and "from-run-env" in outcome.output


KEY = 'sk-conf/ig"ured\\key+1 2'
TOKEN = "ghp_notConfigured/token+value=="


def forms(value: str) -> list[str]:
    return [value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)]


async def test_keys_and_secret_looking_variables_are_masked_in_every_form(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_CUSTOM_TOKEN", TOKEN)  # slop's environment, not a configured key
    monkeypatch.setenv("EDITOR_FLAVOUR", "not-a-secret-value")
    (repo / "leak.txt").write_text("\n".join([*forms(KEY), *forms(TOKEN), "not-a-secret-value", ""]))
    store = Store(repo, secrets=[KEY])
    executor = ToolExecutor(repo, store=store)
    outcome = await executor.execute("t1", RunCommandArgs(command="cat leak.txt"))
    assert outcome.ok
    for form in [*forms(KEY), *forms(TOKEN)]:
        assert form not in outcome.output, form
    assert "not-a-secret-value" in outcome.output  # an ordinary variable is left alone
    assert outcome.output.count("***") == 10

    # The store, for text that reached an event another way (a model's reply quoting it).
    store.append(ToolResult(ticket_id="t1", tool="run_command", ok=True, output=(repo / "leak.txt").read_text()))
    written = store.events_path.read_text()
    for form in [*forms(KEY), *forms(TOKEN)]:
        assert form not in written and json.dumps(form)[1:-1] not in written, form
    assert "not-a-secret-value" in written
