"""A scripted LLM HTTP server on 127.0.0.1 for tests and benchmarks.

It speaks enough of `POST /v1/chat/completions` (OpenAI-compatible) and `POST /v1/messages`
(Anthropic), streamed (server-sent events) or not, to drive the real SDK clients over real
HTTP. Replies are queued per endpoint; faults are queued for the next requests, whichever
endpoint they hit; every request is recorded so a test can assert what a model was sent.

    with LLMServer(api_key="sk-test") as srv:
        srv.push(HTTPReply(text="hello"))
        srv.fail_next(status=429, retry_after=0.2)
        ...  # an OpenAI client on f"{srv.base_url}/v1", an Anthropic one on srv.base_url
        srv.requests[-1].body["messages"]

Everything runs in one background thread per connection (stdlib `ThreadingHTTPServer`).

With `cache=True` the server simulates both prompt caches and reports the usage a real
endpoint would (the reply's own token counts are replaced; its output tokens stay):
Anthropic's explicit `cache_control` breakpoints on `/v1/messages` (`cache_creation_input_tokens`,
`cache_read_input_tokens`; more than 4 breakpoints is a 400) and OpenAI's automatic prefix cache
on `/chat/completions` (`prompt_tokens_details.cached_tokens`, and DeepSeek's
`prompt_cache_hit_tokens`/`prompt_cache_miss_tokens`). The rules, each with its source:

- Anthropic (https://platform.claude.com/docs/en/build-with-claude/prompt-caching): prefix order
  tools, system, messages; a breakpoint caches the prefix through its block when that prefix
  reaches the minimum cacheable length (`anthropic_min_tokens`, 1,024 for Sonnet 4.x), else
  nothing, silently; each breakpoint looks for a hit at its block and up to 20 blocks before it;
  a hit is read and its lifetime refreshed; the rest up to the last cacheable breakpoint is
  written; entries live 5 minutes (`cache_ttl_s`) after their last use.
- OpenAI (https://platform.openai.com/docs/guides/prompt-caching): automatic for prompts of
  1,024 tokens or more; the longest exactly matching cached prefix is read, in 128-token steps
  from 1,024; entries live 5 minutes here (the docs say 5-10 minutes of inactivity).

Token counts are `slop_tui.tokens.estimate_tokens` of each block; `clock` (seconds, default
`time.monotonic`) is injectable, so a benchmark can model minutes without sleeping. Each
request's computed usage is kept in `RecordedRequest.cache` (the rule code is in
`providers/cache_sim.py`).
"""

from __future__ import annotations

import http.server
import itertools
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from slop_tui.providers.cache_sim import (
    ANTHROPIC_MIN_TOKENS,
    CACHE_TTL_S,
    AnthropicCache,
    CacheRuleError,
    CacheUsage,
    OpenAIPrefixCache,
)

Endpoint = Literal["chat", "messages", "any"]
FaultKind = Literal["status", "slow", "drop", "malformed", "truncated", "stall"]


class HTTPToolCall(msgspec.Struct, kw_only=True):
    """A tool call the scripted model makes; a `str` argument is sent verbatim (broken JSON
    included), a dict is encoded."""

    name: str
    arguments: dict[str, Any] | str = msgspec.field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


class HTTPReply(msgspec.Struct, kw_only=True):
    """One scripted model answer, rendered in the shape of whichever endpoint asked."""

    text: str = ""
    tool_calls: list[HTTPToolCall] = msgspec.field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    stop_reason: str | None = None  # None: tool use when there are tool calls, else end of turn
    model: str | None = None  # None: echo the request's model


class Fault(msgspec.Struct, kw_only=True):
    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    message: str = ""


class RecordedRequest(msgspec.Struct, kw_only=True):
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # the decoded JSON body, or None when it was not JSON
    raw: bytes
    at: float
    cache: CacheUsage | None = None  # the simulated split of the prompt, when `cache=True`


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LLMServer


class LLMServer:
    """The scripted server; use it as a context manager (it starts and stops itself)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        chunk_chars: int = 4,
        cache: bool = False,
        clock: Callable[[], float] | None = None,
        anthropic_min_tokens: int = ANTHROPIC_MIN_TOKENS,
        cache_ttl_s: float = CACHE_TTL_S,
        event_gap_s: float = 0.0,
    ) -> None:
        self.api_key = api_key
        # A pause before each streamed event after the first: text arrives over time, as a
        # model writes it, so a test can watch it arrive.
        self.event_gap_s = event_gap_s
        self.cache = cache
        self.anthropic_cache = AnthropicCache(clock, min_tokens=anthropic_min_tokens, ttl_s=cache_ttl_s)
        self.openai_cache = OpenAIPrefixCache(clock, ttl_s=cache_ttl_s)
        self.chunk_chars = chunk_chars  # streamed text is cut into pieces of this size
        self.requests: list[RecordedRequest] = []
        self._replies: dict[str, deque[HTTPReply]] = {
            "chat": deque(),
            "messages": deque(),
            "any": deque(),
        }
        self._faults: deque[Fault] = deque()
        self._rejected_formats: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> LLMServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not running"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`: OpenAI clients take `f"{base_url}/v1"`, Anthropic ones this."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting ------------------------------------------------------------------------

    def push(self, reply: HTTPReply, endpoint: Endpoint = "any") -> None:
        """Queue a reply for one endpoint (`any`: whichever asks when its own queue is empty)."""
        with self._lock:
            self._replies[endpoint].append(reply)

    def push_text(
        self,
        text: str,
        endpoint: Endpoint = "any",
        *,
        input_tokens: int = 11,
        output_tokens: int = 7,
        cache_read_tokens: int = 0,
    ) -> None:
        reply = HTTPReply(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
        )
        self.push(reply, endpoint)

    def push_tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | str,
        *,
        text: str = "",
        call_id: str | None = None,
        endpoint: Endpoint = "any",
    ) -> None:
        call = HTTPToolCall(name=name, arguments=arguments, id=call_id)
        self.push(HTTPReply(text=text, tool_calls=[call]), endpoint)

    def fail_next(
        self,
        status: int = 500,
        *,
        retry_after: float | None = None,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests get `status` (429 with `Retry-After`, 500, 529, 400...)."""
        text = message or f"scripted failure {status}"
        self._add(Fault(kind="status", status=status, retry_after=retry_after, message=text), times)

    def slow(self, seconds: float, *, times: int = 1) -> None:
        """The next requests get no answer for `seconds`, then the connection closes."""
        self._add(Fault(kind="slow", seconds=seconds), times)

    def drop(self, *, times: int = 1) -> None:
        """The next requests are read, then the connection is reset with no answer."""
        self._add(Fault(kind="drop"), times)

    def malformed(self, *, times: int = 1) -> None:
        """The next requests get `200` with a body that is not JSON (or an SSE event that is not)."""
        self._add(Fault(kind="malformed"), times)

    def truncated_stream(self, *, times: int = 1) -> None:
        """The next replies stop halfway: a stream without its end, or a body cut short."""
        self._add(Fault(kind="truncated"), times)

    def stall(self, seconds: float, *, times: int = 1) -> None:
        """The next replies send their first half, then nothing for `seconds`, then hang up:
        a stream (or a body) that stops mid-way with the connection still open."""
        self._add(Fault(kind="stall", seconds=seconds), times)

    def reject_response_format(self, *types: str) -> None:
        """Answer 400 to any request asking for one of these output formats (`json_schema`,
        `json_object`): an endpoint without structured output."""
        with self._lock:
            self._rejected_formats.update(types)

    def _add(self, fault: Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    # -- what the handler uses ---------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _take_reply(self, endpoint: str) -> HTTPReply | None:
        with self._lock:
            for queue in (self._replies[endpoint], self._replies["any"]):
                if queue:
                    return queue.popleft()
        return None

    def _rejects(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return None
        wanted = None
        response_format = body.get("response_format")
        if isinstance(response_format, dict):
            wanted = response_format.get("type")
        output_config = body.get("output_config")
        if isinstance(output_config, dict) and isinstance(output_config.get("format"), dict):
            wanted = output_config["format"].get("type")
        with self._lock:
            return wanted if wanted in self._rejected_formats else None

    def _simulate(
        self, endpoint: str, body: Any, reply: HTTPReply, recorded: RecordedRequest
    ) -> HTTPReply:
        """`reply` with the usage the simulated cache gives this request (`CacheRuleError`
        when the real API would refuse it)."""
        if not self.cache or not isinstance(body, dict):
            return reply
        with self._lock:
            if endpoint == "messages":
                usage = self.anthropic_cache.account(body)
            else:
                usage = self.openai_cache.account(body)
            recorded.cache = usage
        return msgspec.structs.replace(
            reply,
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]


# ---------------------------------------------------------------------------
# Rendering replies in each API's shape
# ---------------------------------------------------------------------------


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def _chat_json(server: LLMServer, reply: HTTPReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id or server._next_id("call"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for call in reply.tool_calls
        ]
    finish = reply.stop_reason or ("tool_calls" if reply.tool_calls else "stop")
    return {
        "id": server._next_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _chat_usage(reply),
    }


def _chat_usage(reply: HTTPReply) -> dict[str, Any]:
    prompt = reply.input_tokens + reply.cache_read_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": reply.output_tokens,
        "total_tokens": prompt + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens},
        # DeepSeek's own names for the same split.
        "prompt_cache_hit_tokens": reply.cache_read_tokens,
        "prompt_cache_miss_tokens": reply.input_tokens,
    }


def _chat_events(
    server: LLMServer, reply: HTTPReply, model: str, include_usage: bool
) -> list[str]:
    chunk_id = server._next_id("chatcmpl")
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in _pieces(reply.text, server.chunk_chars)]
    for index, call in enumerate(reply.tool_calls):
        head = {
            "index": index,
            "id": call.id or server._next_id("call"),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for piece in _pieces(call.arguments_json(), max(server.chunk_chars * 3, 1)):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    finish = reply.stop_reason or ("tool_calls" if reply.tool_calls else "stop")
    events.append(chunk({}, finish))
    if include_usage:
        usage_chunk = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _chat_usage(reply),
        }
        events.append(f"data: {json.dumps(usage_chunk)}\n\n")
    events.append("data: [DONE]\n\n")
    return events


def _messages_usage(reply: HTTPReply) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cache_read_input_tokens": reply.cache_read_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
    }


def _messages_json(server: LLMServer, reply: HTTPReply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        arguments: Any = call.arguments
        if isinstance(arguments, str):
            # The Messages API sends parsed input; a broken payload can only exist streamed.
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = {"raw": arguments}
        content.append(
            {"type": "tool_use", "id": call.id or server._next_id("toolu"), "name": call.name,
             "input": arguments}
        )
    return {
        "id": server._next_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn"),
        "stop_sequence": None,
        "usage": _messages_usage(reply),
    }


def _messages_events(server: LLMServer, reply: HTTPReply, model: str) -> list[str]:
    def event(name: str, body: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **body})}\n\n"

    start_usage = {**_messages_usage(reply), "output_tokens": 1}
    events = [
        event(
            "message_start",
            {
                "message": {
                    "id": server._next_id("msg"),
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                }
            },
        )
    ]
    index = 0
    if reply.text:
        events.append(
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        )
        events.append(event("ping", {}))
        for piece in _pieces(reply.text, server.chunk_chars):
            events.append(
                event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            )
        events.append(event("content_block_stop", {"index": 0}))
        index = 1
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": call.id or server._next_id("toolu"), "name": call.name,
                 "input": {}}
        events.append(event("content_block_start", {"index": index, "content_block": block}))
        for piece in _pieces(call.arguments_json(), max(server.chunk_chars * 3, 1)):
            events.append(
                event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
                )
            )
        events.append(event("content_block_stop", {"index": index}))
        index += 1
    stop = reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn")
    events.append(
        event(
            "message_delta",
            {
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
    )
    events.append(event("message_stop", {}))
    return events


def _error_body(endpoint: str, status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "invalid_request_error",
        401: "authentication_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    if endpoint == "messages":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": status}}


# ---------------------------------------------------------------------------
# The request handler
# ---------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, and the end of a stream is the connection's end.
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        return None  # tests read `srv.requests`; stderr stays clean

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        recorded = RecordedRequest(
            method="POST", path=self.path, headers=headers, body=body, raw=raw, at=time.time()
        )
        owner._record(recorded)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            endpoint = "chat"
        elif path.endswith("/v1/messages"):
            endpoint = "messages"
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        if owner.api_key is not None and not self._key_ok(headers, owner.api_key):
            self._send_json(401, _error_body(endpoint, 401, "invalid x-api-key or bearer token"))
            return
        stream = isinstance(body, dict) and bool(body.get("stream"))
        fault = owner._take_fault()
        if fault is not None and self._play_fault(fault, endpoint, stream):
            return
        rejected = owner._rejects(body)
        if rejected is not None:
            message = f"response format {rejected!r} is not supported by this model"
            self._send_json(400, _error_body(endpoint, 400, message))
            return
        reply = owner._take_reply(endpoint)
        if reply is None:
            message = f"llm_server: no scripted reply queued for {path}"
            self._send_json(418, _error_body(endpoint, 418, message))
            return
        try:
            reply = owner._simulate(endpoint, body, reply, recorded)
        except CacheRuleError as exc:
            self._send_json(400, _error_body(endpoint, 400, str(exc)))
            return
        model = reply.model or (body.get("model") if isinstance(body, dict) else None) or "scripted"
        truncated = fault is not None and fault.kind in ("truncated", "stall")
        stall_s = fault.seconds if fault is not None and fault.kind == "stall" else 0.0
        if stream:
            if endpoint == "chat":
                options = body.get("stream_options") or {}
                events = _chat_events(owner, reply, model, bool(options.get("include_usage")))
            else:
                events = _messages_events(owner, reply, model)
            if truncated:
                events = events[: max(len(events) // 2, 1)]
            self._send_events(events)
            self._stall(stall_s)
        else:
            rendered = (
                _chat_json(owner, reply, model)
                if endpoint == "chat"
                else _messages_json(owner, reply, model)
            )
            data = json.dumps(rendered).encode()
            if truncated:
                # Promise the whole body, send half, hang up: the client sees a short read.
                self._send_raw(200, data[: len(data) // 2], "application/json", length=len(data))
                self._stall(stall_s)
            else:
                self._send_raw(200, data, "application/json")

    @staticmethod
    def _key_ok(headers: dict[str, str], key: str) -> bool:
        return headers.get("authorization") == f"Bearer {key}" or headers.get("x-api-key") == key

    def _play_fault(self, fault: Fault, endpoint: str, stream: bool) -> bool:
        """Play a fault; True when the request is answered (or abandoned) by it."""
        if fault.kind == "status":
            extra = {}
            if fault.retry_after is not None:
                extra["Retry-After"] = f"{fault.retry_after:g}"
            self._send_json(fault.status, _error_body(endpoint, fault.status, fault.message), extra)
            return True
        if fault.kind == "slow":
            self.server.owner._stopping.wait(fault.seconds)
            self._hang_up()
            return True
        if fault.kind == "drop":
            self._hang_up(reset=True)
            return True
        if fault.kind == "malformed":
            if stream:
                self._send_events(["data: {\"id\": \"chatcmpl_x\", \"choices\": [ not json\n\n"]
                                  if endpoint == "chat" else
                                  ["event: message_start\ndata: {\"type\": not json\n\n"])
            else:
                self._send_raw(200, b'{"id": "broken", "choices": [ not json', "application/json")
            return True
        return False  # truncated and stall: played while the reply is written

    def _stall(self, seconds: float) -> None:
        """Keep the connection open and silent (the server's stop cuts the wait short)."""
        if seconds > 0:
            self.server.owner._stopping.wait(seconds)
            self._hang_up()

    def _hang_up(self, *, reset: bool = False) -> None:
        """Answer nothing; the server closes the socket when the handler returns."""
        self.close_connection = True
        if reset:
            # SO_LINGER 0: the close sends a reset, as a crashed proxy would.
            try:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                return

    def _send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(status, json.dumps(body).encode(), "application/json", headers=headers)

    def _send_raw(
        self,
        status: int,
        data: bytes,
        content_type: str,
        *,
        length: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data) if length is None else length))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return  # the client gave up (a timeout test): nothing to answer

    def _send_events(self, events: list[str]) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            gap = self.server.owner.event_gap_s
            for n, item in enumerate(events):
                if n and gap:
                    time.sleep(gap)
                self.wfile.write(item.encode())
                self.wfile.flush()
        except OSError:
            return
