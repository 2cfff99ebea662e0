"""Plans: what Tier 1 and Tier 2 may answer, decoded and checked against `PlanLimits`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

import msgspec

from slop_tui.models.tickets import Archetype, PlanError, Ticket, Track, listed, validate_dag
from slop_tui.words import plural

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
