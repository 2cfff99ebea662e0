"""The provider boundary: a lone UTF-16 surrogate from a model (`"\\udcff"` is valid JSON) never
gets past it. Text, tool-call arguments (raw or JSON-escaped) and server error messages come out
as valid Unicode, through the real SDKs over real HTTP and through the scripted provider."""

from __future__ import annotations

import json

import msgspec
import pytest

from slop_tui.config import ModelSpec, ProviderSpec
from slop_tui.models import Tier, WriteFileArgs, decode_tool_args, enc_hook
from slop_tui.providers import ModelRequest, ProviderError, make_provider, tool_specs_for
from slop_tui.providers.base import clean_arguments, clean_text
from slop_tui.providers.scripted import Scenario, ScriptedProvider, ScriptedReply, ScriptedToolCall
from slop_tui.testing import HTTPReply, HTTPToolCall, LLMServer
from tests.providers.helpers import ADAPTERS, call, collect, spec_for, user_request

LONE = "\udcff"
TOOLS = tool_specs_for([WriteFileArgs])


def utf8_clean(text: str) -> bool:
    text.encode("utf-8")  # raises on any surrogate
    return True


# ---------------------------------------------------------------------------
# The two functions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain é ✓", "plain é ✓"),
        (f"a{LONE}b", "a\ufffdb"),
        ("\ud800", "\ufffd"),
        ("\ud83d\ude00 split pair", "\U0001f600 split pair"),  # two stream chunks, one emoji
        ("\ude00\ud83d", "\ufffd\ufffd"),  # the wrong order is two lone halves
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('{"path": "a.py"}', '{"path": "a.py"}'),  # untouched, byte for byte
        ('{"path":  "a\\udcff.py"}', '{"path": "a\ufffd.py"}'),  # escaped lone half
        ('{"path": "a\\uDCFF.py"}', '{"path": "a\ufffd.py"}'),
        (f'{{"path": "a{LONE}.py"}}', '{"path": "a\ufffd.py"}'),  # raw lone half
        ('{"k\\ud800": ["\\udcff", 1]}', '{"k\ufffd": ["\ufffd", 1]}'),
        ('{"p": "\\ud83d\\ude00"}', '{"p": "\\ud83d\\ude00"}'),  # a well-formed pair stays as sent
        ('{"p": "\\\\udcff"}', '{"p": "\\\\udcff"}'),  # an escaped backslash, not a surrogate
        ('{"p": "\\udcff', '{"p": "\\udcff'),  # broken JSON: left for the decoder to refuse
    ],
)
def test_clean_arguments(raw: str, clean: str) -> None:
    assert clean_arguments(raw) == clean


# ---------------------------------------------------------------------------
# Through the real SDKs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("escaped", [False, True], ids=["dict-args", "raw-json-args"])
@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("kind", ADAPTERS)
async def test_lone_surrogates_in_text_and_arguments_decode_fine(
    kind: str, streamed: bool, escaped: bool, srv: LLMServer
) -> None:
    provider = make_provider(spec_for(kind, srv))  # type: ignore[arg-type]
    # The server writes JSON with `\udcff` escapes; a raw-JSON argument string carries its own.
    arguments: dict[str, str] | str = (
        '{"path": "notes/a\\udcff.txt", "content": "x\\udcffy"}'
        if escaped
        else {"path": f"notes/a{LONE}.txt", "content": f"x{LONE}y"}
    )
    srv.push(HTTPReply(text=f"Writing {LONE} now.", tool_calls=[HTTPToolCall(name="write_file", arguments=arguments)]))
    request = ModelRequest(system="s", messages=user_request().messages, tools=TOOLS)
    try:
        if streamed:
            deltas, reply = await collect(provider, request)
            assert all(utf8_clean(d) for d in deltas)
        else:
            reply = await call(provider, request, streamed=False)
    finally:
        await provider.aclose()
    assert reply.text == "Writing \ufffd now."
    (tool_call,) = reply.tool_calls
    args = decode_tool_args(tool_call.name, tool_call.arguments)
    assert args == WriteFileArgs(path="notes/a\ufffd.txt", content="x\ufffdy")
    msgspec.json.encode(reply, enc_hook=enc_hook)  # the event log can hold it


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_lone_surrogate_in_a_server_error_message_is_cleaned(kind: str, srv: LLMServer) -> None:
    provider = make_provider(spec_for(kind, srv, max_retries=0))  # type: ignore[arg-type]
    srv.fail_next(400, message=f"bad input {LONE} here")
    try:
        with pytest.raises(ProviderError) as failed:
            await provider.complete(user_request())
    finally:
        await provider.aclose()
    assert "bad input \ufffd here" in str(failed.value)
    assert utf8_clean(str(failed.value))


# ---------------------------------------------------------------------------
# Through the scripted provider
# ---------------------------------------------------------------------------


async def test_the_scripted_provider_cleans_its_replies_too() -> None:
    spec = ModelSpec(tier=Tier.WORKER, provider=ProviderSpec(name="scripted", kind="scripted"), model="")
    scripted = ScriptedReply(
        text=f"a {LONE} b",
        tool_calls=[
            ScriptedToolCall(tool="write_file", arguments={"path": "x.txt", "content": LONE}),
            ScriptedToolCall(tool="write_file", raw_arguments='{"path": "y\\udcff", "content": ""}'),
        ],
    )
    provider = ScriptedProvider(spec, Scenario(worker={"t1": [scripted, scripted]}), "<test>")
    reply = await provider.complete(user_request(), ticket_id="t1")
    deltas, streamed = await collect(provider, user_request(), ticket_id="t1")
    for got in (reply, streamed):
        assert got.text == "a \ufffd b"
        first, second = (decode_tool_args(c.name, c.arguments) for c in got.tool_calls)
        assert first == WriteFileArgs(path="x.txt", content="\ufffd")
        assert second == WriteFileArgs(path="y\ufffd", content="")
    assert "".join(deltas) == "a \ufffd b"
    assert json.loads(streamed.tool_calls[0].arguments)["content"] == "\ufffd"
