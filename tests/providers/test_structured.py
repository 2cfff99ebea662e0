"""Structured output: JSON Schema where the endpoint takes it, then JSON mode, then the prompt."""

from __future__ import annotations

import msgspec
import pytest

from slop_tui.models import TrackPlan
from slop_tui.providers import ModelRequest, ProviderError, extract_json, make_provider
from slop_tui.testing import LLMServer
from tests.providers.helpers import call, spec_for, user_request

SCHEMA = msgspec.json.schema(TrackPlan)
ANSWER = '{"tracks": [{"id": "t1", "title": "Config", "description": "Move config to TOML"}]}'


def plan_request() -> ModelRequest:
    return user_request("Refactor config system", response_schema=SCHEMA, schema_name="track plan")


def shape(body: dict) -> str:  # type: ignore[type-arg]
    """Which structured-output mode a recorded request used."""
    if "response_format" in body:
        return str(body["response_format"]["type"])
    if "output_config" in body:
        return str(body["output_config"]["format"]["type"])
    system = body.get("system") or body["messages"][0]["content"]
    if isinstance(system, list):  # Anthropic's system blocks (a cache breakpoint on the last)
        system = "".join(block["text"] for block in system)
    return "prompt" if "must validate against this JSON Schema" in system else "none"


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_openai_falls_back_schema_then_json_mode_then_prompt(streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for("openai", srv))
    srv.reject_response_format("json_schema", "json_object")
    srv.push_text(f"Here is the plan:\n```json\n{ANSWER}\n```")
    reply = await call(provider, plan_request(), streamed)

    assert [shape(r.body) for r in srv.requests] == ["json_schema", "json_object", "prompt"]
    first = srv.requests[0].body["response_format"]
    assert first["json_schema"]["name"] == "track_plan"
    assert first["json_schema"]["schema"] == SCHEMA
    # JSON mode needs the word JSON in the prompt, and the schema goes there too.
    assert "JSON Schema" in srv.requests[1].body["messages"][0]["content"]
    plan = msgspec.json.decode(extract_json(reply.text), type=TrackPlan)
    assert plan.tracks[0].id == "t1"

    # The refusals are remembered: the next structured call goes straight to the prompt.
    srv.push_text(ANSWER)
    await call(provider, plan_request(), streamed)
    assert [shape(r.body) for r in srv.requests[3:]] == ["prompt"]
    await provider.aclose()


async def test_openai_uses_json_schema_when_accepted(srv: LLMServer) -> None:
    provider = make_provider(spec_for("openai", srv))
    srv.push_text(ANSWER)
    reply = await provider.complete(plan_request())
    assert [shape(r.body) for r in srv.requests] == ["json_schema"]
    assert "JSON Schema" not in srv.requests[0].body["messages"][0]["content"]
    assert msgspec.json.decode(reply.text, type=TrackPlan).tracks[0].title == "Config"
    await provider.aclose()


async def test_openai_json_mode_when_only_schema_is_refused(srv: LLMServer) -> None:
    provider = make_provider(spec_for("openai", srv))
    srv.reject_response_format("json_schema")
    srv.push_text(ANSWER)
    await provider.complete(plan_request())
    srv.push_text(ANSWER)
    await provider.complete(plan_request())
    assert [shape(r.body) for r in srv.requests] == ["json_schema", "json_object", "json_object"]
    await provider.aclose()


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_anthropic_falls_back_from_output_config_to_prompt(streamed: bool, srv: LLMServer) -> None:
    provider = make_provider(spec_for("anthropic", srv))
    srv.reject_response_format("json_schema")
    srv.push_text(ANSWER)
    reply = await call(provider, plan_request(), streamed)
    assert [shape(r.body) for r in srv.requests] == ["json_schema", "prompt"]
    assert srv.requests[0].body["output_config"]["format"]["schema"] == SCHEMA
    assert srv.requests[1].body["system"][0]["text"].startswith("You are a test.\n\n")
    assert msgspec.json.decode(reply.text, type=TrackPlan).tracks[0].id == "t1"
    await provider.aclose()


async def test_plain_requests_carry_no_format(srv: LLMServer) -> None:
    for kind in ("openai", "anthropic"):
        provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
        srv.push_text("hi")
        await provider.complete(user_request())
        await provider.aclose()
    assert [shape(r.body) for r in srv.requests] == ["none", "none"]


async def test_a_bad_request_at_the_last_mode_is_reported(srv: LLMServer) -> None:
    provider = make_provider(spec_for("openai", srv))
    srv.fail_next(400, message="model does not exist", times=3)
    with pytest.raises(ProviderError, match=r"HTTP 400 \(bad request: model does not exist\)$"):
        await provider.complete(plan_request())
    assert len(srv.requests) == 3
    # Nothing was learnt from a request that failed in every mode.
    srv.push_text(ANSWER)
    await provider.complete(plan_request())
    assert shape(srv.requests[3].body) == "json_schema"
    await provider.aclose()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ANSWER, ANSWER),
        (f"  {ANSWER}\n", ANSWER),
        (f"```json\n{ANSWER}\n```", ANSWER),
        (f"Sure! Here it is:\n```\n{ANSWER}\n```\nAnything else?", ANSWER),
        (f"The plan is {ANSWER}. Enjoy.", ANSWER),
        ('[{"id": 1}] trailing', '[{"id": 1}]'),
        ("no json at all", "no json at all"),
    ],
)
def test_extract_json(text: str, expected: str) -> None:
    assert extract_json(text) == expected
