"""Tiers, archetypes and ticket states; the ticket state machine; tracks and tickets."""

from __future__ import annotations

import enum
from typing import TypeVar

import msgspec

from slop_tui.errors import SlopError
from slop_tui.models.usage import Usage
from slop_tui.words import plural

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
