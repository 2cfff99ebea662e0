"""The offline scripted provider: scenario files, per-ticket cursors, clear ends."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

import msgspec

from slop_tui.config import DEFAULT_MODELS, DEFAULT_PRICES, ModelSpec, PriceSpec, ProviderSpec
from slop_tui.errors import SlopError
from slop_tui.models import ChatMessage, Tier, Usage, decode_tool_args, WriteFileArgs
from slop_tui.providers import SCRIPTED_LABEL, ModelReply, ProviderError, make_provider
from slop_tui.providers.base import request_text
from slop_tui.providers.usage import cost_of
from slop_tui.providers.scripted import ScriptedProvider, load_scenario
from slop_tui.tokens import estimate_tokens
from tests.providers.helpers import collect, user_request

SCENARIO = {
    "planner": [
        {"text": '{"tracks": [{"id": "t1", "title": "A", "description": "a"}]}'},
        {"text": "second plan"},
    ],
    "lead": [{"text": '{"tickets": []}', "usage": {"input_tokens": 100, "output_tokens": 10}}],
    "worker": {
        "T1": [
            {"text": "Reading.", "tool_calls": [{"tool": "read_file", "arguments": {"path": "a.py"}}]},
            {"tool_calls": [{"tool": "write_file", "arguments": {"path": "a.py", "content": "x = 1\n"}, "id": "w1"}]},
            {"tool_calls": [{"tool": "finish", "arguments": {"summary": "done"}}]},
        ],
        "T2": [
            {"tool_calls": [{"tool": "edit_file", "raw_arguments": "{\"path\": \"b.py\", \"old\": "}]},
            {"text": "T2 slow", "latency_s": 0.3},
        ],
    },
    "default_cheap": {"T1": [{"text": "Import os before using it."}]},
}

TOML_SCENARIO = """
[[planner]]
text = "from toml"

[[worker.T7]]
text = "toml worker"
latency_s = 0.01

[[worker.T7.tool_calls]]
tool = "finish"
arguments = { summary = "ok" }
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    return path


def scripted(path: Path, tier: Tier, price: PriceSpec | None = None) -> ScriptedProvider:
    spec = ModelSpec(
        tier=tier,
        provider=ProviderSpec(name="scripted", kind="scripted"),
        model=str(path),
        price=price,
    )
    provider = make_provider(spec)
    assert isinstance(provider, ScriptedProvider)
    return provider


async def test_planner_plays_replies_in_order_then_stops_clearly(scenario_file: Path) -> None:
    planner = scripted(scenario_file, Tier.PLANNER)
    assert planner.label == SCRIPTED_LABEL == "scripted (offline)"
    first = await planner.complete(user_request())
    assert first.text.startswith('{"tracks"')
    assert first.model == SCRIPTED_LABEL
    assert first.stop_reason == "end_turn"
    assert (await planner.complete(user_request())).text == "second plan"
    with pytest.raises(ProviderError) as caught:
        await planner.complete(user_request())
    assert str(caught.value) == (
        f"provider 'scripted': scripted scenario {scenario_file}: no more planner replies (played 2)"
    )


async def test_worker_replies_are_keyed_by_ticket_each_with_its_own_cursor(scenario_file: Path) -> None:
    worker = scripted(scenario_file, Tier.WORKER)
    a1 = await worker.complete(user_request(), ticket_id="T1")
    b1 = await worker.complete(user_request(), ticket_id="T2")
    a2 = await worker.complete(user_request(), ticket_id="T1")
    assert a1.text == "Reading." and a1.stop_reason == "tool_use"
    assert decode_tool_args(a1.tool_calls[0].name, a1.tool_calls[0].arguments).path == "a.py"  # type: ignore[attr-defined]
    assert a2.tool_calls[0].id == "w1"
    assert decode_tool_args("write_file", a2.tool_calls[0].arguments) == WriteFileArgs(path="a.py", content="x = 1\n")
    # A deliberately broken payload reaches the caller verbatim.
    assert b1.tool_calls[0].arguments == '{"path": "b.py", "old": '
    with pytest.raises(SlopError, match="invalid arguments for edit_file"):
        decode_tool_args("edit_file", b1.tool_calls[0].arguments)
    await worker.complete(user_request(), ticket_id="T1")
    with pytest.raises(ProviderError, match=r"no more worker replies for ticket T1 \(played 3\)$"):
        await worker.complete(user_request(), ticket_id="T1")
    with pytest.raises(ProviderError, match="no more worker replies for ticket T9"):
        await worker.complete(user_request(), ticket_id="T9")
    with pytest.raises(ProviderError, match="worker replies are keyed by ticket"):
        await worker.complete(user_request())


async def test_parallel_workers_do_not_share_replies(scenario_file: Path) -> None:
    worker = scripted(scenario_file, Tier.WORKER)
    started = time.monotonic()
    # T2's first reply is instant, its second takes 0.3 s; T1 runs alongside.
    results = await asyncio.gather(
        worker.complete(user_request(), ticket_id="T2"),
        worker.complete(user_request(), ticket_id="T1"),
        worker.complete(user_request(), ticket_id="T2"),
        worker.complete(user_request(), ticket_id="T1"),
    )
    assert [r.text for r in results] == ["", "Reading.", "T2 slow", ""]
    assert results[3].tool_calls[0].name == "write_file"
    assert 0.28 <= time.monotonic() - started < 1.5


async def test_a_fresh_provider_replays_a_ticket_from_its_start(scenario_file: Path) -> None:
    # A resumed run makes new providers: each ticket starts over at its first reply.
    await scripted(scenario_file, Tier.WORKER).complete(user_request(), ticket_id="T1")
    again = await scripted(scenario_file, Tier.WORKER).complete(user_request(), ticket_id="T1")
    assert again.text == "Reading."


async def test_qa_tier_is_keyed_by_ticket(scenario_file: Path) -> None:
    qa = scripted(scenario_file, Tier.DEFAULT_CHEAP)
    assert (await qa.complete(user_request(), ticket_id="T1")).text == "Import os before using it."
    with pytest.raises(ProviderError, match="no more default_cheap replies for ticket T1"):
        await qa.complete(user_request(), ticket_id="T1")


async def test_usage_is_scripted_or_estimated_and_priced(scenario_file: Path) -> None:
    lead = scripted(scenario_file, Tier.LEAD, price=PriceSpec(input=1.0, output=2.0))
    reply = await lead.complete(user_request())
    assert reply.usage == Usage(input_tokens=100, output_tokens=10, cost_usd=pytest.approx(120 / 1e6))  # type: ignore[arg-type]

    planner = scripted(scenario_file, Tier.PLANNER)
    request = user_request("x" * 400)
    estimated = (await planner.complete(request)).usage
    assert estimated.input_tokens == estimate_tokens(request_text(request)) > 0
    assert estimated.output_tokens == estimate_tokens(SCENARIO["planner"][0]["text"])  # type: ignore[index]
    # Unpriced in [prices]: priced as the model the tier stands for, and saying so.
    assert planner.priced_as == DEFAULT_MODELS[Tier.PLANNER.value]
    assert lead.priced_as is None
    unpriced = msgspec.structs.replace(estimated, cost_usd=None)
    assert estimated.cost_usd == pytest.approx(cost_of(unpriced, DEFAULT_PRICES[planner.priced_as]))
    assert estimated.cost_usd > 0


async def test_stream_yields_text_then_the_reply(scenario_file: Path) -> None:
    worker = scripted(scenario_file, Tier.WORKER)
    await worker.complete(user_request(), ticket_id="T2")
    started = time.monotonic()
    deltas, reply = await collect(worker, user_request(), ticket_id="T2")
    assert deltas == ["T2 ", "slow"]
    assert reply.text == "T2 slow"
    assert time.monotonic() - started >= 0.28  # the latency is played while streaming


async def test_toml_scenario(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(TOML_SCENARIO)
    worker = scripted(path, Tier.WORKER)
    reply = await worker.complete(user_request(), ticket_id="T7")
    assert reply.text == "toml worker"
    assert json.loads(reply.tool_calls[0].arguments) == {"summary": "ok"}
    assert (await scripted(path, Tier.PLANNER).complete(user_request())).text == "from toml"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"planner": [{"text": 5}]}', r"Expected `str`, got `int` - at `\$.planner\[0\].text`"),
        ("bad.json", '{"worker": {"T1": [{"txt": "typo"}]}}', r"unknown field `txt` - at `\$.worker\[...\]\[0\]`"),
        ("bad.json", '{"planner": [', "malformed|truncated"),
        ("bad.toml", "[[planner]]\ntext = ", "Invalid value|Expected"),
        ("bad.json", '{"lead": [{"latency_s": -1}]}', r"negative latency_s - at `\$.lead\[0\].latency_s`"),
        (
            "bad.json",
            '{"lead": [{"tool_calls": [{"tool": "finish", "arguments": {"summary": "a"}, "raw_arguments": "{}"}]}]}',
            r"not both - at `\$.lead\[0\].tool_calls\[0\]`",
        ),
    ],
)
def test_a_bad_scenario_names_the_file_and_the_place(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SlopError, match=message) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"scripted scenario {path}: ")
    assert "\n" not in str(caught.value)


def test_a_missing_scenario_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SlopError, match=r"scripted scenario .*nope.json: cannot read \(No such file or directory\)"):
        scripted(tmp_path / "nope.json", Tier.PLANNER)


def test_scenarios_are_parsed_once_per_version(scenario_file: Path) -> None:
    first = load_scenario(scenario_file)
    assert load_scenario(scenario_file) is first
    scenario_file.write_text(json.dumps({"planner": [{"text": "changed file, new size"}]}))
    changed = load_scenario(scenario_file)
    assert changed is not first and changed.planner[0].text == "changed file, new size"


async def test_replies_carry_no_shared_mutable_state(scenario_file: Path) -> None:
    worker = scripted(scenario_file, Tier.WORKER)
    reply: ModelReply = await worker.complete(
        user_request(), ticket_id="T1"
    )
    reply.tool_calls.clear()
    again = await scripted(scenario_file, Tier.WORKER).complete(user_request(), ticket_id="T1")
    assert len(again.tool_calls) == 1
    assert worker.remaining("T1") == 2
    # messages of the request are not touched
    request = user_request()
    await worker.complete(request, ticket_id="T1")
    assert request.messages == [ChatMessage(role="user", content="hello")]
