"""Tracks as DAGs: duplicate ids, unknown dependencies and cycles; which tickets are ready."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slop_tui.models import PlanError, Ticket, TicketState, Track, validate_dag


def track_of(deps: dict[str, list[str]]) -> Track:
    return Track(
        id="tr",
        title="t",
        tickets=[Ticket(id=i, title=i, depends_on=list(d)) for i, d in deps.items()],
    )


def test_duplicate_ids_are_named() -> None:
    track = Track(
        id="tr", title="t", tickets=[Ticket(id="a", title="1"), Ticket(id="a", title="2")]
    )
    with pytest.raises(PlanError, match=r"^tr: duplicate ticket id: a$"):
        track.validate()


def test_unknown_dependencies_are_named() -> None:
    with pytest.raises(PlanError, match=r"ticket 'b' depends on unknown tickets: x, y"):
        track_of({"a": [], "b": ["a", "x", "y"]}).validate()


def test_a_self_dependency_is_named() -> None:
    with pytest.raises(PlanError, match="ticket 'a' depends on itself"):
        track_of({"a": ["a"]}).validate()


def test_a_cycle_is_named_with_its_path() -> None:
    with pytest.raises(PlanError, match=r"dependency cycle: b -> c -> d -> b"):
        track_of({"a": [], "b": ["a", "c"], "c": ["d"], "d": ["b"]}).validate()


def test_a_long_chain_does_not_recurse() -> None:
    n = 10_000
    nodes = [(f"t{i}", [f"t{i - 1}"] if i else []) for i in range(n)]
    validate_dag("chain", nodes)
    nodes[0] = ("t0", [f"t{n - 1}"])
    with pytest.raises(PlanError, match="dependency cycle"):
        validate_dag("chain", nodes)


def test_ready_tickets_wait_for_every_dependency_to_be_done() -> None:
    track = track_of({"stub": [], "a": ["stub"], "b": ["stub"], "c": ["a", "b"]})
    assert [t.id for t in track.ready_tickets()] == ["stub"]
    stub = track.ticket("stub")
    stub.start()
    assert track.ready_tickets() == []  # in progress is not done
    stub.mark_complete()
    assert [t.id for t in track.ready_tickets()] == ["a", "b"]
    track.ticket("a").start()
    track.ticket("a").mark_complete()
    track.ticket("b").mark_blocked("flaky")
    assert track.ready_tickets() == []  # c waits for b; b is blocked, not todo
    track.ticket("b").retry()
    assert [t.id for t in track.ready_tickets()] == ["b"]


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Random DAGs: each ticket depends only on tickets drawn before it, in shuffled order."""
    n = draw(st.integers(min_value=1, max_value=25))
    ids = [f"t{i}" for i in range(n)]
    deps = {
        ids[i]: draw(st.lists(st.sampled_from(ids[:i]), unique=True, max_size=4)) if i else []
        for i in range(n)
    }
    order = draw(st.permutations(ids))
    return {i: deps[i] for i in order}


@settings(max_examples=150, deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_random_dags_validate_and_run_to_completion_in_dependency_order(
    deps: dict[str, list[str]], rnd: random.Random
) -> None:
    track = track_of(deps)
    track.validate()
    finished: list[str] = []
    while True:
        ready = track.ready_tickets()
        expected_ready = [
            t.id
            for t in track.tickets
            if t.state is TicketState.TODO and all(d in finished for d in deps[t.id])
        ]
        assert [t.id for t in ready] == expected_ready
        if not ready:
            break
        ticket = rnd.choice(ready)
        ticket.start()
        ticket.mark_complete()
        finished.append(ticket.id)
    assert sorted(finished) == sorted(deps)  # a DAG always completes
    for position, ticket_id in enumerate(finished):
        assert all(d in finished[:position] for d in deps[ticket_id])


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_random_back_edges_are_cycles_that_name_their_ids(
    deps: dict[str, list[str]], data: st.DataObject
) -> None:
    ids = sorted(deps, key=lambda i: int(i[1:]))
    if len(ids) < 2:
        return
    # Make a path from `low` to `high` (high depends on low through a chain), then close it.
    pair = data.draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
    low, high = sorted(pair, key=lambda i: int(i[1:]))
    deps[high] = sorted(set(deps[high]) | {low})
    deps[low] = sorted(set(deps[low]) | {high})
    with pytest.raises(PlanError, match="dependency cycle") as info:
        track_of(deps).validate()
    cycle = str(info.value).split("dependency cycle: ")[1].split(" -> ")
    assert cycle[0] == cycle[-1] and len(cycle) >= 3
    for node, dep in zip(cycle, cycle[1:]):
        assert dep in deps[node]  # each step of the named cycle is a real dependency


@settings(max_examples=100, deadline=None)
@given(dags(), st.data())
def test_random_unknown_and_duplicate_ids_are_reported(
    deps: dict[str, list[str]], data: st.DataObject
) -> None:
    victim = data.draw(st.sampled_from(sorted(deps)))
    broken = {k: list(v) for k, v in deps.items()}
    broken[victim].append("ghost")
    unknown = f"ticket '{victim}' depends on unknown ticket: ghost"
    with pytest.raises(PlanError, match=unknown):
        track_of(broken).validate()
    track = track_of(deps)
    track.tickets.append(Ticket(id=victim, title="again"))
    with pytest.raises(PlanError, match=f"duplicate ticket id: {victim}$"):
        track.validate()
