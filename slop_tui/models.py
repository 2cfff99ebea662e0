"""The typed payloads every layer speaks, and the ticket state machine.

Everything that crosses a boundary (model output, events, state on disk, tool payloads) is a
`msgspec.Struct` defined here. Nothing here imports anything of ours above `errors`.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

import msgspec

from slop_tui.errors import SlopError
from slop_tui.words import plural

# ---------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------


class Secret:
    """A credential that never shows itself: repr, str and encoders see a mask.

    Only `reveal()` gives the value, and only a provider adapter should call it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """First 4 characters and the length at most, as `slop doctor` shows it."""
        if len(self._value) <= 8:
            return f"*** ({len(self._value)} chars)"
        return f"{self._value[:4]}… ({len(self._value)} chars)"

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling would leak it: refuse
        raise TypeError("a Secret cannot be pickled")


MIN_SECRET_CHARS = 8  # shorter values are not keys, and masking them would maul ordinary output

# Names of slop's own environment variables whose values are masked wherever text is written or
# passed on, configured as keys or not: a token there is a secret whatever slop makes of it.
_SECRET_NAME = re.compile(r"^(?:.*_(?:KEY|TOKEN|SECRET|PASSWORD)|AWS_.*|GITHUB_TOKEN|GH_TOKEN|HF_TOKEN)$")


# `AWS_*` names that hold settings, not secrets: masking `us-east-1` or a profile name would
# maul ordinary output (every region name in a log) for nothing.
_AWS_SETTINGS = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_DEFAULT_OUTPUT",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CA_BUNDLE",
        "AWS_PAGER",
        "AWS_SDK_LOAD_CONFIG",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "AWS_ENDPOINT_URL",
    }
)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's NAME says it holds a secret (`*_KEY`, `AWS_*`, ...)."""
    upper = name.upper()
    return upper not in _AWS_SETTINGS and bool(_SECRET_NAME.match(upper))


def environment_secrets(env: Mapping[str, str]) -> list[str]:
    """The values (of `MIN_SECRET_CHARS` or more) of every variable in `env` that `looks_secret`."""
    return [v for k, v in env.items() if looks_secret(k) and len(v.strip()) >= MIN_SECRET_CHARS]


def secret_forms(value: str) -> list[str]:
    """`value` as written plain and as a repr, JSON or a URL escapes it, longest first: a key
    with a quote, backslash or control character printed by `repr()` or `json.dumps` or sent in
    a query string is still the key."""
    import json
    from urllib.parse import quote, quote_plus

    if len(value) < MIN_SECRET_CHARS:
        return []
    forms = {
        value,
        value.strip(),
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
    }
    return sorted((f for f in forms if len(f) >= MIN_SECRET_CHARS), key=len, reverse=True)


def enc_hook(obj: Any) -> Any:
    """msgspec encoder hook: a `Secret` is always written as a mask, never its value."""
    if isinstance(obj, Secret):
        return "***"
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------


class Usage(msgspec.Struct, kw_only=True):
    """Tokens spent by one call or summed over many; cost only when prices are known."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        if self.cost_usd is None and other.cost_usd is None:
            cost = None
        else:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=cost,
        )

    @property
    def total_tokens(self) -> int:
        """Every token the model read or wrote: cache reads and writes are tokens read too (a
        cheaper price is the USD side's business, not a smaller count)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens + self.output_tokens


# ---------------------------------------------------------------------------
# Tiers, archetypes, states
# ---------------------------------------------------------------------------


class Tier(enum.StrEnum):
    """The four tiers, named as in `agents.toml`'s `[models]` table."""

    PLANNER = "planner"  # Tier 1
    LEAD = "lead"  # Tier 2
    WORKER = "worker"  # Tier 3
    DEFAULT_CHEAP = "default_cheap"  # Tier 4, QA


# How the header, the log and the printer name a tier: `T1 planner`.
TIER_SHORT = {Tier.PLANNER: "T1", Tier.LEAD: "T2", Tier.WORKER: "T3", Tier.DEFAULT_CHEAP: "T4"}
TIER_ROLE = {Tier.PLANNER: "planner", Tier.LEAD: "lead", Tier.WORKER: "worker", Tier.DEFAULT_CHEAP: "QA"}


class Archetype(enum.StrEnum):
    CONTRACT_STUBBER = "contract_stubber"
    IMPLEMENTER = "implementer"
    TESTER = "tester"


class TicketState(enum.StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({TicketState.DONE, TicketState.CANCELLED})
_NON_FINAL = frozenset(TicketState) - FINAL_STATES

# The whole state machine in one table: mutator name -> (states it may start from, target).
# `done` is final for everything except `revert` (undo); `cancelled` is final for everything.
TRANSITIONS: dict[str, tuple[frozenset[TicketState], TicketState]] = {
    "start": (frozenset({TicketState.TODO}), TicketState.IN_PROGRESS),
    "await_approval": (frozenset({TicketState.IN_PROGRESS}), TicketState.AWAITING_APPROVAL),
    "resume": (frozenset({TicketState.AWAITING_APPROVAL}), TicketState.IN_PROGRESS),
    "mark_complete": (frozenset({TicketState.IN_PROGRESS}), TicketState.DONE),
    "mark_blocked": (_NON_FINAL - {TicketState.BLOCKED}, TicketState.BLOCKED),
    "retry": (frozenset({TicketState.BLOCKED}), TicketState.TODO),
    "cancel": (_NON_FINAL, TicketState.CANCELLED),
    "interrupt": (
        frozenset({TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL}),
        TicketState.TODO,
    ),
    "revert": (frozenset({TicketState.DONE}), TicketState.TODO),
}


class IllegalTransition(SlopError):
    """A ticket was asked to move where the state machine does not allow; nothing changed."""

    def __init__(self, ticket_id: str, state: TicketState, move: str) -> None:
        allowed = sorted(s.value for s in TRANSITIONS[move][0]) if move in TRANSITIONS else []
        super().__init__(
            f"ticket {ticket_id!r}: cannot {move} from state {state.value!r}"
            + (f" (allowed from: {', '.join(allowed)})" if allowed else "")
        )
        self.ticket_id = ticket_id
        self.state = state
        self.move = move


# ---------------------------------------------------------------------------
# Tracks and tickets (the domain)
# ---------------------------------------------------------------------------


class Ticket(msgspec.Struct, kw_only=True):
    """One unit of work for one Tier 3 worker. State changes only through the mutators."""

    id: str
    title: str
    description: str = ""
    archetype: Archetype = Archetype.IMPLEMENTER
    depends_on: list[str] = msgspec.field(default_factory=list)
    target_files: list[str] = msgspec.field(default_factory=list)
    state: TicketState = TicketState.TODO
    blocked_reason: str | None = None
    assigned_model: str | None = None
    usage: Usage = msgspec.field(default_factory=Usage)
    result_summary: str | None = None

    def __post_init__(self) -> None:
        # Decoding already checks the enums; this catches `Ticket(..., state="done")` built in
        # Python, where a plain string would make `state is TicketState.DONE` silently false.
        self.archetype = _coerce(Archetype, self.archetype, f"ticket {self.id!r}: archetype")
        self.state = _coerce(TicketState, self.state, f"ticket {self.id!r}: state")

    def _check(self, move: str) -> None:
        if self.state not in TRANSITIONS[move][0]:
            raise IllegalTransition(self.id, self.state, move)

    def _move(self, move: str, reason: str | None = None) -> TicketState:
        self._check(move)
        target = TRANSITIONS[move][1]
        old = self.state
        self.state = target
        self.blocked_reason = reason if target is TicketState.BLOCKED else None
        return old

    def start(self) -> TicketState:
        return self._move("start")

    def await_approval(self) -> TicketState:
        return self._move("await_approval")

    def resume(self) -> TicketState:
        return self._move("resume")

    def mark_complete(self, summary: str | None = None) -> TicketState:
        old = self._move("mark_complete")
        if summary is not None:
            self.result_summary = summary
        return old

    def mark_blocked(self, reason: str) -> TicketState:
        self._check("mark_blocked")  # an illegal move is reported as such, whatever the reason
        if not reason or not reason.strip():
            raise SlopError(f"ticket {self.id!r}: a blocked ticket needs a reason")
        return self._move("mark_blocked", reason)

    def retry(self) -> TicketState:
        return self._move("retry")

    def cancel(self) -> TicketState:
        return self._move("cancel")

    def interrupt(self) -> TicketState:
        return self._move("interrupt")

    def revert(self) -> TicketState:
        old = self._move("revert")
        self.result_summary = None
        return old

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class PlanError(SlopError):
    """A plan (tracks or tickets) is not a valid DAG or does not decode."""


_E = TypeVar("_E", bound=enum.Enum)


def _coerce(enum_cls: type[_E], value: object, where: str) -> _E:
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        known = ", ".join(m.value for m in enum_cls)
        raise PlanError(f"{where}: unknown value {value!r} (known: {known})") from None


class Track(msgspec.Struct, kw_only=True):
    """An epic: a titled group of tickets that form a dependency DAG."""

    id: str
    title: str
    description: str = ""
    tickets: list[Ticket] = msgspec.field(default_factory=list)

    def validate(self) -> None:
        """Raise `PlanError` naming the ids on a duplicate id, unknown dependency or cycle."""
        validate_dag(self.id, [(t.id, list(t.depends_on)) for t in self.tickets])

    def ticket(self, ticket_id: str) -> Ticket:
        for t in self.tickets:
            if t.id == ticket_id:
                return t
        raise KeyError(ticket_id)

    def ready_tickets(self) -> list[Ticket]:
        """Tickets in `todo` whose every dependency is `done`, in plan order."""
        done = {t.id for t in self.tickets if t.state is TicketState.DONE}
        return [
            t
            for t in self.tickets
            if t.state is TicketState.TODO and all(d in done for d in t.depends_on)
        ]


def listed(ids: list[str], *, limit: int = 12, separator: str = ", ") -> str:
    """Ids joined for a message, the middle of a long list left out (a plan may have 10,000)."""
    if len(ids) <= limit:
        return separator.join(ids)
    half = limit // 2
    return separator.join([*ids[:half], f"… {len(ids) - 2 * half} more …", *ids[-half:]])


def validate_dag(owner: str, nodes: list[tuple[str, list[str]]]) -> None:
    """Check ids are unique, dependencies exist and there is no cycle; name the ids if not."""
    seen: set[str] = set()
    duplicates: list[str] = []
    for node_id, _ in nodes:
        if node_id in seen:
            duplicates.append(node_id)
        seen.add(node_id)
    if duplicates:
        repeated = sorted(set(duplicates))
        raise PlanError(f"{owner}: duplicate {plural(len(repeated), 'ticket id')}: {listed(repeated)}")
    for node_id, deps in nodes:
        unknown = [d for d in deps if d not in seen]
        if unknown:
            raise PlanError(
                f"{owner}: ticket {node_id!r} depends on unknown "
                f"{plural(len(unknown), 'ticket')}: {listed(unknown)}"
            )
        if node_id in deps:
            raise PlanError(f"{owner}: ticket {node_id!r} depends on itself")
    # Iterative DFS with colours so a 10,000-ticket chain does not hit the recursion limit.
    graph = dict(nodes)
    colour: dict[str, int] = {}  # 1 = on the stack, 2 = finished
    for root in graph:
        if colour.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = 1
        while stack:
            node, index = stack[-1]
            deps = graph[node]
            if index < len(deps):
                stack[-1] = (node, index + 1)
                dep = deps[index]
                state = colour.get(dep)
                if state == 1:
                    cycle = path[path.index(dep) :] + [dep]
                    raise PlanError(
                        f"{owner}: dependency cycle: {listed(cycle, separator=' -> ')}"
                    )
                if state is None:
                    colour[dep] = 1
                    stack.append((dep, 0))
                    path.append(dep)
            else:
                colour[node] = 2
                stack.pop()
                path.pop()


# ---------------------------------------------------------------------------
# Plans: what Tier 1 and Tier 2 may answer (never a state, usage or model)
# ---------------------------------------------------------------------------


# A model's ids end up in event logs, on the command line (`slop undo ID`) and in messages, so
# they are short words: no spaces, no quotes. The pattern is in the JSON Schema the model sees.
PlanId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
]
# A title is one line on the board. A description goes whole into a worker's fresh context, so
# its length is capped too, by `PlanLimits.max_field_chars` (configurable, hence not here).
MAX_TITLE_CHARS = 200
PlanTitle = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TITLE_CHARS)]
PlanDescription = str
# Entries of one ticket's `depends_on` or `target_files`: no real ticket needs more.
MAX_PLAN_LIST_ITEMS = 64
# What a refusal quotes of a model's answer: msgspec names a bad enum value or field in full.
MAX_ERROR_CHARS = 400


def clip_message(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` cut to about `limit` characters, keeping its head and its tail (the JSON path)."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}…[{len(text) - head - tail} characters cut]…{text[-tail:]}"


class PlannedTrack(msgspec.Struct, forbid_unknown_fields=True):
    id: PlanId
    title: PlanTitle
    description: PlanDescription


class TrackPlan(msgspec.Struct, forbid_unknown_fields=True):
    """Tier 1's answer: `{"tracks": [...]}`."""

    tracks: list[PlannedTrack]


class PlannedTicket(msgspec.Struct, forbid_unknown_fields=True):
    id: PlanId
    title: PlanTitle
    description: PlanDescription
    archetype: Archetype
    depends_on: list[PlanId] = msgspec.field(default_factory=list)
    target_files: list[str] = msgspec.field(default_factory=list)


class TicketPlan(msgspec.Struct, forbid_unknown_fields=True):
    """Tier 2's answer for one track: `{"tickets": [...]}`."""

    tickets: list[PlannedTicket]


class PlanLimits(msgspec.Struct, kw_only=True, frozen=True):
    """How big a plan may be: each track costs a lead call and each ticket a worker, so a
    runaway answer (7,000 tracks, a 1 MB description) is refused before anything is paid.

    The defaults are `config.RunSettings`'s; `agents.planner.plan_limits` reads the run's.
    """

    max_tracks: int = 20
    max_tickets_per_track: int = 50
    max_field_chars: int = 4096  # any text field: id, title, description, a target file...
    max_list_items: int = MAX_PLAN_LIST_ITEMS  # depends_on / target_files entries per ticket


def _check_fields(what: str, where: str, item: msgspec.Struct, limits: PlanLimits) -> None:
    """Refuse a text field (or list entry) over `max_field_chars`, a list over `max_list_items`."""
    cap = limits.max_field_chars
    for name in item.__struct_fields__:
        value = getattr(item, name)
        if isinstance(value, str) and len(value) > cap:
            raise PlanError(
                f"{what}: {where}.{name}: {len(value)} characters; at most {cap}"
            )
        if isinstance(value, list):
            if len(value) > limits.max_list_items:
                raise PlanError(
                    f"{what}: {where}.{name}: {len(value)} entries; "
                    f"at most {limits.max_list_items} per ticket"
                )
            for i, entry in enumerate(value):
                if isinstance(entry, str) and len(entry) > cap:
                    raise PlanError(
                        f"{what}: {where}.{name}[{i}]: {len(entry)} characters; at most {cap}"
                    )


def check_plan_limits(plan: TrackPlan | TicketPlan, limits: PlanLimits, what: str) -> None:
    """Raise `PlanError` naming the place when `plan` is bigger than `limits` allow.

    Counts come first: a 7,000-track answer is refused as such, and cheaply.
    """
    items: list[PlannedTrack] | list[PlannedTicket]
    if isinstance(plan, TrackPlan):
        key, items, cap, per = "tracks", plan.tracks, limits.max_tracks, "plan"
    else:
        key, items, cap, per = "tickets", plan.tickets, limits.max_tickets_per_track, "track"
    if len(items) > cap:
        raise PlanError(f"{what}: {key}: {len(items)} {key}; at most {cap} per {per}")
    for index, item in enumerate(items):
        _check_fields(what, f"{key}[{index}]", item, limits)


def plan_json_schema(cls: type[TrackPlan] | type[TicketPlan]) -> dict[str, Any]:
    """The JSON Schema of a plan, from `msgspec.json.schema`, with every `$ref` inlined.

    Inlined because some structured-output APIs reject `$defs`; the plan types are not
    recursive, so inlining always terminates.
    """
    schema = msgspec.json.schema(cls)
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            # A string "title" is a schema annotation (the class name); a dict one is a property.
            return {
                k: inline(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))
            }
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result


_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)


def _plan_text(data: bytes | str) -> bytes:
    """The JSON of a model's answer: surrounding blanks and one Markdown code fence removed."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.strip()
    match = _FENCE.match(text)
    if match:
        text = match.group("body").strip()
    return text.encode()


def _decode_plan(data: bytes | str, wrapped: type[Any], bare: type[Any], what: str) -> Any:
    body = _plan_text(data)
    if not body:
        raise PlanError(f"{what}: the answer is empty; expected a JSON object")
    try:
        return msgspec.json.decode(body, type=Union[wrapped, bare])
    except msgspec.ValidationError as exc:
        message = clip_message(str(exc))
        if "Invalid enum value" in message and "archetype" in message:
            message += f" (archetypes: {', '.join(a.value for a in Archetype)})"
        raise PlanError(f"{what}: the answer does not match the schema: {message}") from None
    except msgspec.DecodeError as exc:
        raise PlanError(f"{what}: the answer is not valid JSON: {clip_message(str(exc))}") from None


def decode_track_plan(data: bytes | str, limits: PlanLimits | None = None) -> TrackPlan:
    """Decode Tier 1's answer: `{"tracks": [...]}` or a bare array; ids unique, not empty,
    within `limits` (the defaults when None).

    Every problem raises `PlanError` with a message meant to be sent back to the model.
    """
    decoded = _decode_plan(data, TrackPlan, list[PlannedTrack], "track plan")
    plan = decoded if isinstance(decoded, TrackPlan) else TrackPlan(tracks=decoded)
    if not plan.tracks:
        raise PlanError("track plan: `tracks` is empty; give at least one track")
    check_plan_limits(plan, limits or PlanLimits(), "track plan")
    ids = [t.id for t in plan.tracks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(
            f"track plan: duplicate {plural(len(duplicates), 'track id')}: {listed(duplicates)}"
        )
    return plan


def decode_ticket_plan(
    data: bytes | str, track_id: str | None = None, limits: PlanLimits | None = None
) -> TicketPlan:
    """Decode Tier 2's answer: `{"tickets": [...]}` or a bare array, checked as a DAG.

    Ids must be unique, every dependency must name a ticket of the same plan, there must be
    no cycle, and the plan must be within `limits` (the defaults when None); each problem
    raises `PlanError` naming the ids or the place (and the track, when given).
    """
    what = f"ticket plan for track {track_id!r}" if track_id else "ticket plan"
    decoded = _decode_plan(data, TicketPlan, list[PlannedTicket], what)
    plan = decoded if isinstance(decoded, TicketPlan) else TicketPlan(tickets=decoded)
    if not plan.tickets:
        raise PlanError(f"{what}: `tickets` is empty; give at least one ticket")
    check_plan_limits(plan, limits or PlanLimits(), what)
    validate_dag(what, [(t.id, list(t.depends_on)) for t in plan.tickets])
    return plan


def plan_to_track(planned: PlannedTrack, plan: TicketPlan) -> Track:
    """The domain `Track` for a planned track and its tickets: every ticket `todo`, no usage.

    Ticket ids are kept as the model gave them (unique within the track). Raises `PlanError`
    if the tickets are not a valid DAG (a plan built in Python skips `decode_ticket_plan`).
    """
    track = Track(
        id=planned.id,
        title=planned.title,
        description=planned.description,
        tickets=[
            Ticket(
                id=t.id,
                title=t.title,
                description=t.description,
                archetype=t.archetype,
                depends_on=list(t.depends_on),
                target_files=list(t.target_files),
            )
            for t in plan.tickets
        ],
    )
    track.validate()
    return track


# ---------------------------------------------------------------------------
# Worker context
# ---------------------------------------------------------------------------


class ChatMessage(msgspec.Struct, kw_only=True):
    """One message of a conversation, provider-neutral."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = msgspec.field(default_factory=list)
    tool_call_id: str | None = None  # set on role == "tool"


class ToolCall(msgspec.Struct, kw_only=True):
    """A tool call as a model made it: the arguments are still raw JSON text."""

    id: str
    name: str
    arguments: str


class WorkerContext(msgspec.Struct, kw_only=True):
    """Everything one Tier 3 call needs; built fresh per ticket and dropped when it ends.

    `credentials` is injected for the call only; it is a `Secret`, so repr, str and the
    project's encoders (`enc_hook`) show a mask. The store never writes a WorkerContext.
    """

    ticket_id: str
    assigned_model: str
    credentials: Secret | None = None
    messages: list[ChatMessage] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"WorkerContext(ticket_id={self.ticket_id!r}, assigned_model={self.assigned_model!r}, "
            f"credentials={'***' if self.credentials else None}, messages=<{len(self.messages)}>)"
        )


# ---------------------------------------------------------------------------
# Tool arguments (public API: scenario files and scripts name these tools)
# ---------------------------------------------------------------------------

ViewName = Literal["raw", "skeleton", "curated"]


class ToolArgs(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="tool"):
    """Base of every tool's arguments; `TOOL` is the tool's public name and its tag.

    The tag lets a `Proposal` or an `Edit` carry any tool's arguments as one typed union; a
    model's arguments decode without it (the tool name arrives beside them), and
    `tool_json_schema` leaves it out of what the model is shown.
    """

    TOOL: ClassVar[str] = ""
    WRITES: ClassVar[bool] = False  # True: changes files or runs code, so the clutch asks


class ReadFileArgs(ToolArgs, tag="read_file"):
    TOOL: ClassVar[str] = "read_file"
    path: str
    view: ViewName = "raw"


class ListFilesArgs(ToolArgs, tag="list_files"):
    TOOL: ClassVar[str] = "list_files"
    path: str = "."


class WriteFileArgs(ToolArgs, tag="write_file"):
    TOOL: ClassVar[str] = "write_file"
    WRITES: ClassVar[bool] = True
    path: str
    content: str


class EditFileArgs(ToolArgs, tag="edit_file"):
    TOOL: ClassVar[str] = "edit_file"
    WRITES: ClassVar[bool] = True
    path: str
    old: str
    new: str


class RunCommandArgs(ToolArgs, tag="run_command"):
    TOOL: ClassVar[str] = "run_command"
    WRITES: ClassVar[bool] = True
    command: str
    timeout_s: float = 60.0
    # A request for the network, shown at the clutch; only the person (or `[run] network = "on"`)
    # grants it.
    network: bool = False


class FinishArgs(ToolArgs, tag="finish"):
    TOOL: ClassVar[str] = "finish"
    summary: str


class McpCallArgs(ToolArgs, tag="mcp"):
    """A call of one MCP server's tool, proposed as `mcp__<server>__<tool>`.

    `name` is the server's own tool name (`tool` is the union's tag). `auto` is decided by slop
    from the server's `readOnlyHint` and its `approve` setting, never by the model or an edit:
    it lets the default policy run the call without asking, as reads do.
    """

    TOOL: ClassVar[str] = "mcp"
    WRITES: ClassVar[bool] = True  # the server acts with its own powers
    server: str
    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    auto: bool = False


# The worker's own tools; MCP tools (`McpCallArgs`) come from the run's servers.
TOOL_ARGS: dict[str, type[ToolArgs]] = {
    cls.TOOL: cls
    for cls in (ReadFileArgs, ListFilesArgs, WriteFileArgs, EditFileArgs, RunCommandArgs, FinishArgs)
}

AnyToolArgs = Union[
    ReadFileArgs, ListFilesArgs, WriteFileArgs, EditFileArgs, RunCommandArgs, FinishArgs, McpCallArgs
]


def tool_json_schema(cls: type[ToolArgs]) -> dict[str, Any]:
    """The JSON Schema a model receives for a tool's arguments (without the union tag)."""
    schema = msgspec.json.schema(cls)
    body: dict[str, Any] = dict(schema["$defs"][cls.__name__])
    body["properties"] = {k: v for k, v in body["properties"].items() if k != "tool"}
    body["required"] = [k for k in body.get("required", []) if k != "tool"]
    body.pop("title", None)
    return body


def decode_tool_args(tool: str, payload: str | bytes) -> ToolArgs:
    """Decode JSON arguments for a named tool; `SlopError` names the tool and the problem."""
    cls = TOOL_ARGS.get(tool)
    if cls is None:
        raise SlopError(f"unknown tool {clip_message(repr(tool), 80)} (known: {', '.join(TOOL_ARGS)})")
    try:
        return msgspec.json.decode(payload, type=cls)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SlopError(f"invalid arguments for {tool}: {clip_message(str(exc))}") from None


# ---------------------------------------------------------------------------
# Proposals and clutch decisions
# ---------------------------------------------------------------------------


class ProposalContext(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Why this call: shown at the clutch so identical-looking calls can be told apart."""

    reason: str = ""  # the worker's latest text before this call (hostile: sanitize to show)
    ticket_title: str = ""
    number: int = 0  # "proposal N" of this ticket, 1-based (every proposal counts)
    model: str = ""  # the worker's model, e.g. "openai:gpt-4.1"
    tokens: int = 0  # tokens this ticket has spent so far (input + output)


class Proposal(msgspec.Struct, kw_only=True):
    """A tool call waiting at the clutch, with exactly what it would do."""

    id: str
    ticket_id: str
    tool: str
    arguments: AnyToolArgs
    diff: str = ""  # unified diff for writes and edits
    cwd: str | None = None  # working directory for commands
    error: str | None = None  # why it cannot apply as is (shown; approval still refused)
    # For commands: whether it would run in the OS sandbox, and with the network on without
    # asking (`[run] network = "on"`). Shown at the clutch.
    sandboxed: bool = True
    network: bool = False
    # Why the worker asks, and where it stands (None: proposals logged before it existed).
    context: ProposalContext | None = None


class Approve(msgspec.Struct, tag="approve", omit_defaults=True):
    # The person allows the network for this one command; `--yes` never sets it.
    network: bool = False
    # "Always allow this command for this run": the exact command, or a prefix the person
    # confirmed (`tools/clutch.AllowList`); "" = this once. Omitted when empty: old logs decode.
    always: str = ""


class Reject(msgspec.Struct, tag="reject"):
    reason: str


class Edit(msgspec.Struct, tag="edit"):
    """New arguments for the same tool."""

    arguments: AnyToolArgs


class ApproveHunks(msgspec.Struct, tag="approve_hunks"):
    """Apply only some hunks of a write's or an edit's diff; the worker is told about the rest."""

    hunks: list[int]  # 0-based indexes into `tools.hunks.split_hunks(proposal.diff)`
    reason: str  # why the others were left out


Decision = Union[Approve, Reject, Edit, ApproveHunks]


# ---------------------------------------------------------------------------
# Events: a tagged union, written ahead to the log before they are acknowledged
# ---------------------------------------------------------------------------


class Event(msgspec.Struct, tag_field="kind", kw_only=True):
    """Base of every event. The store sets `seq`; `at` is wall-clock seconds."""

    seq: int = 0
    at: float = msgspec.field(default_factory=time.time)


class RunStarted(Event, tag="run_started"):
    run_id: str
    prompt: str


class PlanAccepted(Event, tag="plan_accepted"):
    tracks: list[Track]


class TicketStateChanged(Event, tag="ticket_state"):
    ticket_id: str
    old: TicketState
    new: TicketState
    track_id: str | None = None
    reason: str | None = None  # why it is blocked (new == blocked)
    summary: str | None = None  # the worker's result summary (new == done)
    model: str | None = None  # the model assigned to the ticket, when it starts


class ProposalMade(Event, tag="proposal"):
    proposal: Proposal


class DecisionMade(Event, tag="decision"):
    proposal_id: str
    ticket_id: str
    decision: Decision


class ToolResult(Event, tag="tool_result"):
    ticket_id: str
    tool: str
    ok: bool
    output: str


class FileChanged(Event, tag="file_changed"):
    """A tool wrote `path`; its pre-image is in the store under `preimage`."""

    ticket_id: str
    path: str
    preimage: str | None  # store-relative name; None when the file did not exist before
    # sha256 (hex) of the bytes the write left in `path`: undo restores the file only while it
    # still holds exactly these bytes (None: logged by a slop that did not record it).
    after: str | None = None


class FilesRestored(Event, tag="files_restored"):
    """A ticket's files were put back from their pre-images (undo, or resume before a fresh
    start): its `FileChanged` events before this one no longer describe the repository."""

    ticket_id: str
    paths: list[str] = msgspec.field(default_factory=list)


class HintGiven(Event, tag="hint"):
    """Tier 4's answer for a failed command; the raw output is kept here, not in the worker."""

    ticket_id: str
    command: str
    exit_code: int
    hint: str
    raw_output: str


class UsageUpdated(Event, tag="usage"):
    ticket_id: str | None
    tier: Tier
    model: str
    usage: Usage
    track_id: str | None = None  # ticket ids are unique within a track only


class ModelText(Event, tag="model_text"):
    """Text a model produced (streamed in pieces to the UI; the log keeps whole replies)."""

    ticket_id: str | None
    tier: Tier
    text: str


# What a worker's first context holds: paths, views and token counts, never file text, so
# the log can carry it (`ContextBuilt`) without growing a copy of the repository.
# "related"/"map": a file's section of the repository map; "instructions": AGENTS.md;
# "tools": MCP tool definitions.
ContextRole = Literal["target", "import", "mentioned", "related", "instructions", "tools"]
ContextView = Literal["raw", "curated", "skeleton", "map", "new", "omitted"]


class ContextFile(msgspec.Struct, kw_only=True, frozen=True):
    """One file of a worker's first context: which view it got and what it cost."""

    path: str  # repository-relative
    role: ContextRole
    view: ContextView
    tokens: int
    note: str = ""  # why it was omitted, or a view's syntax warning


class ContextReport(msgspec.Struct, kw_only=True):
    """What a worker's first request holds, in tokens (the `tokens.estimate_tokens` rule)."""

    files: list[ContextFile]
    total_tokens: int  # system prompt + first user message
    budget: int
    system_tokens: int = 0


class ContextBuilt(Event, tag="context_built"):
    """The first context a worker built for its ticket, before its first model call.

    The report of it, not the context: which view of which file, at what cost. The messages
    themselves are never published (they die with the worker).
    """

    ticket_id: str
    files: list[ContextFile]
    total_tokens: int  # system prompt + first user message
    budget: int  # `RunSettings.context_tokens` when it was built
    track_id: str | None = None  # ticket ids are unique within a track only


# A tier's model call while it is under way: the TUI's spinner, elapsed time and retry line.
# `call` pairs the three; a call cancelled with its run has no `ModelCallEnded`.


class ModelCallStarted(Event, tag="model_call"):
    call: int
    tier: Tier
    model: str
    ticket_id: str | None = None


class ModelCallRetrying(Event, tag="model_retry"):
    """The last try failed (`status`: its HTTP status; None: no answer or a broken
    connection); try `attempt` of `tries` starts in `wait_s` seconds."""

    call: int
    tier: Tier
    attempt: int
    tries: int
    wait_s: float
    status: int | None = None
    ticket_id: str | None = None

    def words(self) -> str:
        """`T1 planner: 429, retrying in 4 s (2/3)`, as the TUI's log and the printer say it."""
        what = str(self.status) if self.status is not None else "no answer"
        return (
            f"{TIER_SHORT[self.tier]} {TIER_ROLE[self.tier]}: {what}, retrying in "
            f"{self.wait_s:.0f} s ({self.attempt}/{self.tries})"
        )


class ModelCallEnded(Event, tag="model_call_end"):
    call: int
    tier: Tier
    ok: bool
    ticket_id: str | None = None


class ModelTextDelta(msgspec.Struct, kw_only=True, frozen=True):
    """Text a call has streamed since its last delta, for a screen only.

    Not an `Event` and not in `AnyEvent`, so it cannot reach the write-ahead log (which
    fsyncs each event): the bus hands it to live subscribers alone (`EventBus.tell`), a few
    times a second per call, and the whole reply is logged once as `ModelText`."""

    call: int  # the `ModelCallStarted.call` it belongs to
    tier: Tier
    text: str
    ticket_id: str | None = None


class ModelToolDelta(msgspec.Struct, kw_only=True, frozen=True):
    """A tool call a call is streaming, for a screen only (like `ModelTextDelta`, never logged):
    the tool, the path its arguments name once they do (as the model wrote it: sanitise before
    showing), and how many characters of arguments have come so far."""

    call: int
    tier: Tier
    tool: str
    path: str = ""
    chars: int = 0
    ticket_id: str | None = None


LiveDelta = ModelTextDelta | ModelToolDelta  # what a call tells while it streams


class ErrorRaised(Event, tag="error"):
    message: str
    ticket_id: str | None = None


class RunFinished(Event, tag="run_finished"):
    ok: bool
    message: str = ""


AnyEvent = Union[
    RunStarted,
    PlanAccepted,
    TicketStateChanged,
    ProposalMade,
    DecisionMade,
    ToolResult,
    FileChanged,
    FilesRestored,
    HintGiven,
    UsageUpdated,
    ModelText,
    ContextBuilt,
    ErrorRaised,
    RunFinished,
    ModelCallStarted,
    ModelCallRetrying,
    ModelCallEnded,
]
