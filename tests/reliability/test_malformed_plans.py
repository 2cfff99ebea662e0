"""Malformed plans: generated bad Tier 1/2 answers end in a precise retry or a clear stop.

Each case starts from a valid plan (drawn by hypothesis) and breaks it one way: wrong types,
missing fields, unknown archetypes, duplicate ids, cycles, dangling dependencies, truncated JSON,
prose around the JSON, huge strings, unknown fields, bad ids, empty plans, unsafe target paths,
and plans over the caps (`PlanLimits`: tracks per plan, tickets per track, characters per
field, entries per list).
Every case goes through the real planner loop (`plan_tracks` / `plan_tickets`) with the offline
scripted provider and a real event bus over a real `Store`:

- the bad answer is refused with a one-line, bounded message that names the place (the JSON
  path or the ids) and the problem, and that exact message is sent back to the model;
- followed by a good answer, the good plan comes back whole; followed by another bad one,
  `PlanningFailed` stops the run with a one-line message;
- no other exception escapes (0 crashes), and `.slop/` never holds a plan (no `PlanAccepted`
  event, no state file): 0 half plans.

One more case goes through `slop run` itself: a plan over the run's configured `max_tracks`
stops the run with one line, and no lead call is made for it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slop_tui.agents.planner import PlanningFailed, plan_tickets, plan_tracks
from slop_tui.conductor.bus import EventBus
from slop_tui.config import ModelSpec, ProviderSpec
from slop_tui.models import (
    MAX_PLAN_LIST_ITEMS,
    Archetype,
    ChatMessage,
    ErrorRaised,
    PlanAccepted,
    PlanError,
    PlanLimits,
    PlannedTrack,
    TicketPlan,
    Tier,
    TrackPlan,
    decode_ticket_plan,
    decode_track_plan,
)
from slop_tui.providers.base import ModelReply, ModelRequest
from slop_tui.providers.scripted import Scenario, ScriptedProvider, ScriptedReply
from slop_tui.providers.usage import UsageLedger
from slop_tui.store import Store
from tests.reliability.counts import tally

EXAMPLES_PER_KIND = 8  # x (19 Tier 2 + 13 Tier 1 kinds): 256 generated bad answers per run
MAX_MESSAGE = 600  # a refusal goes back to the model: bounded, whatever the answer held
HUGE = 120_000
CAPS = PlanLimits()  # the defaults, which the planner uses when given none
TRACK = PlannedTrack(id="cfg", title="Refactor config", description="split the loader")

COUNTS = tally(
    "malformed plans",
    "cases",
    "refused precisely",
    "retried then accepted",
    "stopped clearly",
    "crashes",
    "half plans",
)

ALL_KINDS = [
    "wrong type", "missing field", "unknown field", "bad id", "huge string", "empty",
    "root type", "truncated", "prose around", "duplicate ids", "many duplicates",
    "too many items", "long field",
]
LEAD_KINDS = [
    "unknown archetype", "cycle", "self dependency", "dangling dependency", "unsafe target",
    "long list",
]

SETTINGS = settings(
    max_examples=EXAMPLES_PER_KIND,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------
# Valid plans, then one defect each
# ---------------------------------------------------------------------------

IDS = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
WORDS = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
    min_size=1,
    max_size=24,
)


@st.composite
def ticket_plans(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(IDS, min_size=1, max_size=5, unique=True))
    tickets = []
    for i, tid in enumerate(ids):
        deps = draw(st.lists(st.sampled_from(ids[:i]), unique=True, max_size=3)) if i else []
        tickets.append(
            {
                "id": tid,
                "title": draw(WORDS),
                "description": draw(WORDS),
                "archetype": draw(st.sampled_from([a.value for a in Archetype])),
                "depends_on": deps,
                "target_files": [f"app/{tid}.py"],
            }
        )
    return {"tickets": tickets}


@st.composite
def track_plans(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(IDS, min_size=1, max_size=4, unique=True))
    return {
        "tracks": [
            {"id": tid, "title": draw(WORDS), "description": draw(WORDS)} for tid in ids
        ]
    }


@dataclass
class BadAnswer:
    """One broken answer and what a precise refusal of it must mention."""

    kind: str
    text: str
    fragments: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # a failing example must not print 100 KB
        shown = self.text if len(self.text) <= 300 else f"{self.text[:200]}…<{len(self.text)} chars>"
        return f"BadAnswer({self.kind!r}, {shown!r}, {self.fragments!r})"


def _wrong_value(draw: st.DrawFn, expected: str) -> Any:
    if expected == "str":
        return draw(st.sampled_from([0, 3.5, True, None, ["x"], {"a": 1}]))
    return draw(st.sampled_from(["x", 7, None, {"a": 1}, [1], [None]]))


@st.composite
def bad_answers(draw: st.DrawFn, tier: Tier, kind: str) -> BadAnswer:
    plan = draw(ticket_plans() if tier is Tier.LEAD else track_plans())
    key = "tickets" if tier is Tier.LEAD else "tracks"
    bare = draw(st.booleans())  # a bare array is accepted as well as the object
    items: list[dict[str, Any]] = plan[key]
    root = "$" if bare else f"$.{key}"

    def render(value: Any = None) -> str:
        data = plan if value is None else value
        return json.dumps(data[key] if bare and isinstance(data, dict) else data)

    k = draw(st.integers(0, len(items) - 1))
    at = f"{root}[{k}]"
    if kind == "wrong type":
        fields = {"id": "str", "title": "str", "description": "str"}
        if tier is Tier.LEAD:
            fields.update(archetype="str", depends_on="list", target_files="list")
        name = draw(st.sampled_from(sorted(fields)))
        value = _wrong_value(draw, fields[name])
        if name == "archetype" and isinstance(value, str):
            value = 5
        items[k][name] = value
        return BadAnswer(kind, render(), ["does not match the schema", "Expected", f"`{at}.{name}"])
    if kind == "missing field":
        required = ["id", "title", "description"] + (["archetype"] if tier is Tier.LEAD else [])
        name = draw(st.sampled_from(required))
        del items[k][name]
        return BadAnswer(kind, render(), [f"missing required field `{name}`", f"`{at}`"])
    if kind == "unknown field":
        name = draw(st.sampled_from(["priority", "state", "usage", "tickets", "notes"]))
        if name == key:
            name = "notes"
        items[k][name] = draw(st.sampled_from([1, "x", [], None]))
        return BadAnswer(kind, render(), [f"unknown field `{name}`", f"`{at}`"])
    if kind == "bad id":
        items[k]["id"] = draw(st.sampled_from(["has space", "quo'te", "", "-dash", "a/b", "é"]))
        want = "length >= 1" if items[k]["id"] == "" else "matching regex"
        return BadAnswer(kind, render(), [want, f"`{at}.id`"])
    if kind == "huge string":
        names = ["id", "title", "description"] + (
            ["archetype", "unknown key", "target"] if tier is Tier.LEAD else ["unknown key"]
        )
        name = draw(st.sampled_from(names))
        blob = draw(st.sampled_from("xyz")) * draw(st.integers(HUGE // 2, HUGE))
        if name == "unknown key":
            items[k][blob] = 1
            return BadAnswer(kind, render(), ["unknown field", f"`{at}`"])
        if name == "target":
            items[k]["target_files"] = [blob]
            return BadAnswer(
                kind, render(),
                [f"{key}[{k}].target_files[0]: {len(blob)} characters; at most {CAPS.max_field_chars}"],
            )
        items[k][name] = blob
        if name == "archetype":
            return BadAnswer(kind, render(), ["Invalid enum value", f"`{at}.archetype`"])
        if name == "description":
            return BadAnswer(
                kind, render(),
                [f"{key}[{k}].description: {len(blob)} characters; at most {CAPS.max_field_chars}"],
            )
        return BadAnswer(kind, render(), ["length <=", f"`{at}.{name}`"])
    if kind == "too many items":
        # Each track costs a lead call and each ticket a worker: a runaway plan is refused
        # by its count, whatever else is wrong with it (thousands of items, every one valid).
        cap = CAPS.max_tickets_per_track if tier is Tier.LEAD else CAPS.max_tracks
        n = draw(st.sampled_from([cap + 1, cap * 3, 7000 if tier is Tier.PLANNER else 5000]))
        template = {k: v for k, v in items[0].items() if k != "depends_on"}
        items[:] = [{**template, "id": f"id{i}"} for i in range(n)]
        per = "track" if tier is Tier.LEAD else "plan"
        return BadAnswer(kind, render(), [f"{key}: {n} {key}; at most {cap} per {per}"])
    if kind == "long field":
        # Just over the cap (a description a model could plausibly write), not 100 KB.
        length = draw(st.integers(CAPS.max_field_chars + 1, CAPS.max_field_chars * 3))
        items[k]["description"] = draw(st.sampled_from("abc")) * length
        return BadAnswer(
            kind, render(),
            [f"{key}[{k}].description: {length} characters; at most {CAPS.max_field_chars}"],
        )
    if kind == "empty":
        return BadAnswer(kind, render({key: []}), [f"`{key}` is empty"])
    if kind == "root type":
        value = draw(st.sampled_from([0, "plan", None, True, 2.5]))
        return BadAnswer(kind, json.dumps(value), ["Expected `object | array`"])
    if kind == "truncated":
        text = render()
        cut = draw(st.integers(1, len(text) - 1))
        fenced = draw(st.booleans())
        body = text[:cut]
        return BadAnswer(kind, f"```json\n{body}" if fenced else body, ["not valid JSON"])
    if kind == "prose around":
        before = draw(st.sampled_from(["Here is the plan:", "Sure!", "Plan", ""]))
        after = draw(st.sampled_from(["Hope this helps.", "Let me know.", ""]))
        if not before and not after:
            before = "OK:"
        return BadAnswer(kind, f"{before}\n{render()}\n{after}", ["not valid JSON"])
    if kind == "duplicate ids":
        if len(items) == 1:
            items.append(copy.deepcopy(items[0]))
            if tier is Tier.LEAD:
                items[1]["depends_on"] = []
            dup = items[0]["id"]
        else:
            j = draw(st.integers(0, len(items) - 1).filter(lambda j: j != k))
            dup = items[j]["id"]
            items[k]["id"] = dup
        what = "ticket" if tier is Tier.LEAD else "track"
        return BadAnswer(kind, render(), [f"duplicate {what} id: ", dup])
    if kind == "many duplicates":
        # As many items as the caps allow, every id twice: past a dozen duplicates (Tier 2's
        # 50 tickets) the refusal names some and counts the rest.
        n = CAPS.max_tickets_per_track if tier is Tier.LEAD else CAPS.max_tracks
        template = {k: v for k, v in items[0].items() if k != "depends_on"}
        items[:] = [{**template, "id": f"id{i % (n // 2)}"} for i in range(n)]
        what = "ticket" if tier is Tier.LEAD else "track"
        fragments = [f"duplicate {what} ids: id0, "]
        if n // 2 > 12:
            fragments.append(" more …, ")
        return BadAnswer(kind, render(), fragments)
    # Tier 2 only from here.
    if kind == "unknown archetype":
        value = draw(st.sampled_from(["wizard", "Implementer", "IMPLEMENTER", "stubber", " tester"]))
        items[k]["archetype"] = value
        return BadAnswer(
            kind, render(), ["Invalid enum value", f"`{at}.archetype`", "archetypes: contract_stubber"]
        )
    if kind == "self dependency":
        items[k]["depends_on"] = [items[k]["id"]]
        return BadAnswer(kind, render(), [f"ticket {items[k]['id']!r} depends on itself"])
    if kind == "cycle":
        if len(items) == 1:
            items.append({**copy.deepcopy(items[0]), "id": items[0]["id"] + "_b"})
        i, j = 0, len(items) - 1
        items[i]["depends_on"] = [items[j]["id"]]
        items[j]["depends_on"] = [items[i]["id"]]
        return BadAnswer(kind, render(), ["dependency cycle", items[i]["id"], items[j]["id"]])
    if kind == "dangling dependency":
        ghost = "ghost" + draw(st.from_regex(r"[0-9]{1,3}", fullmatch=True))
        items[k]["depends_on"] = items[k]["depends_on"] + [ghost]
        return BadAnswer(kind, render(), [f"depends on unknown ticket: {ghost}"])
    if kind == "long list":
        name = draw(st.sampled_from(["depends_on", "target_files"]))
        n = draw(st.integers(MAX_PLAN_LIST_ITEMS + 1, MAX_PLAN_LIST_ITEMS * 4))
        items[k][name] = [f"x{i}" for i in range(n)] if name == "depends_on" else [
            f"app/m{i}.py" for i in range(n)
        ]
        return BadAnswer(
            kind, render(),
            [f"tickets[{k}].{name}: {n} entries; at most {MAX_PLAN_LIST_ITEMS} per ticket"],
        )
    assert kind == "unsafe target"
    path = draw(st.sampled_from(["../outside.py", "/etc/passwd", "~/x.py", "a\\b.py", "a/../../b"]))
    items[k]["target_files"] = [path]
    return BadAnswer(kind, render(), ["target_files", "refused"])


def good_answer(tier: Tier) -> str:
    if tier is Tier.LEAD:
        return json.dumps(
            {"tickets": [
                {"id": "stub", "title": "Stub", "description": "", "archetype": "contract_stubber",
                 "depends_on": [], "target_files": ["app/config.py"]},
                {"id": "impl", "title": "Implement", "description": "", "archetype": "implementer",
                 "depends_on": ["stub"], "target_files": ["app/config.py"]},
            ]}
        )
    return json.dumps({"tracks": [{"id": "cfg", "title": "Config", "description": "one loader"}]})


# ---------------------------------------------------------------------------
# One case through the real planner loop
# ---------------------------------------------------------------------------


class RecordingProvider(ScriptedProvider):
    """The scripted provider, keeping every request (to see what the model was told)."""

    def __init__(self, tier: Tier, scenario: Scenario) -> None:
        spec = ModelSpec(
            tier=tier, provider=ProviderSpec(name="scripted", kind="scripted"), model="inline"
        )
        super().__init__(spec, scenario, "inline scenario")
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        self.requests.append(request)
        return await super().complete(request, ticket_id=ticket_id)


def expected_refusal(tier: Tier, text: str) -> str:
    """The message the planner must send back: the decoder's own (plus the planner's checks)."""
    try:
        if tier is Tier.LEAD:
            plan = decode_ticket_plan(text, TRACK.id)
            from slop_tui.agents.planner import check_ticket_plan

            check_ticket_plan(plan, TRACK.id)
        else:
            decode_track_plan(text)
    except PlanError as exc:
        return str(exc)
    raise AssertionError("the bad answer was accepted by the decoder")


def check_precise(message: str, tier: Tier, bad: BadAnswer) -> None:
    what = f"ticket plan for track {TRACK.id!r}" if tier is Tier.LEAD else "track plan"
    assert message.startswith(f"{what}: "), message[:200]
    assert "\n" not in message, message[:200]
    assert len(message) <= MAX_MESSAGE, f"{bad.kind}: a {len(message)}-character refusal"
    for fragment in bad.fragments:
        assert fragment in message, f"{bad.kind}: {fragment!r} not in {message!r}"


async def run_planner(tier: Tier, answers: list[str], repo: Path) -> tuple[Any, RecordingProvider, Store]:
    replies = [ScriptedReply(text=a) for a in answers]
    scenario = Scenario(lead=replies) if tier is Tier.LEAD else Scenario(planner=replies)
    provider = RecordingProvider(tier, scenario)
    store = Store(repo)
    bus = EventBus(store)
    try:
        if tier is Tier.LEAD:
            result: Any = await plan_tickets(
                provider, TRACK, skeletons="# file: app/config.py\n...", retries=1,
                ledger=UsageLedger(), emit=bus.publish,
            )
        else:
            result = await plan_tracks(
                provider, "Refactor config system", repo_summary="app/config.py (10 bytes)",
                retries=1, ledger=UsageLedger(), emit=bus.publish,
            )
    except PlanningFailed as exc:
        result = exc
    finally:
        await bus.close()
        store.close()
    return result, provider, store


def check_case(tier: Tier, bad: BadAnswer, then_good: bool) -> None:
    COUNTS.add("cases")
    refusal = expected_refusal(tier, bad.text)
    check_precise(refusal, tier, bad)
    COUNTS.add("refused precisely")
    answers = [bad.text, good_answer(tier) if then_good else bad.text]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        try:
            result, provider, store = asyncio.run(run_planner(tier, answers, repo))
        except BaseException:
            COUNTS.add("crashes")
            raise
        events = store.events()
        if any(isinstance(e, PlanAccepted) for e in events) or store.state_path.exists():
            COUNTS.add("half plans")
            raise AssertionError("a refused plan reached .slop/")
        # The exact refusal went back to the model as the next user message.
        assert len(provider.requests) == 2
        retry: ChatMessage = provider.requests[1].messages[-1]
        assert retry.role == "user" and refusal in retry.content
        errors = [e for e in events if isinstance(e, ErrorRaised)]
        assert errors and refusal in errors[0].message
        if then_good:
            assert isinstance(result, (TicketPlan, TrackPlan)), result
            assert result == (
                decode_ticket_plan(answers[1]) if tier is Tier.LEAD else decode_track_plan(answers[1])
            )
            COUNTS.add("retried then accepted")
        else:
            assert isinstance(result, PlanningFailed), result
            message = str(result)
            assert "\n" not in message and "no valid answer after 2 attempts" in message
            assert refusal in message
            assert result.__cause__ is None
            COUNTS.add("stopped clearly")


def run_kind(tier: Tier, kind: str) -> int:
    """Run the generated cases of one defect kind; returns how many ran."""
    before = COUNTS["cases"]

    @SETTINGS
    @given(bad=bad_answers(tier, kind), then_good=st.booleans())
    def case(bad: BadAnswer, then_good: bool) -> None:
        check_case(tier, bad, then_good)

    case()
    assert COUNTS["crashes"] == 0 and COUNTS["half plans"] == 0
    return COUNTS["cases"] - before


@pytest.mark.parametrize("kind", ALL_KINDS + LEAD_KINDS)
def test_tier2_bad_ticket_plans_are_refused_precisely_then_retried_or_stopped(kind: str) -> None:
    assert run_kind(Tier.LEAD, kind) >= EXAMPLES_PER_KIND - 2


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_tier1_bad_track_plans_are_refused_precisely_then_retried_or_stopped(kind: str) -> None:
    assert run_kind(Tier.PLANNER, kind) >= EXAMPLES_PER_KIND - 2


# ---------------------------------------------------------------------------
# Through the CLI: the run's own caps, and no lead call for a refused plan
# ---------------------------------------------------------------------------

PROJECT = Path(__file__).resolve().parents[2]


def test_slop_run_refuses_a_plan_over_the_configured_cap_before_any_lead_call(tmp_path: Path) -> None:
    COUNTS.add("cases")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("notes\n")
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for args in (["init", "-q"], ["add", "notes.txt"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=git_env)
    three = json.dumps({"tracks": [{"id": f"t{i}", "title": f"Track {i}", "description": ""}
                                   for i in range(3)]})
    one_ticket = json.dumps({"tickets": [{"id": "k", "title": "K", "description": "",
                                          "archetype": "implementer", "target_files": ["notes.txt"]}]})
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({
        "planner": [{"text": three}] * 3,
        "lead": [{"text": one_ticket}] * 3,  # there to be taken, if the refused plan got through
    }))
    config = tmp_path / "config"
    config.mkdir()
    models = "\n".join(f'{tier} = "scripted:{scenario}"' for tier in ("planner", "lead", "worker", "default_cheap"))
    (config / "agents.toml").write_text(f"[models]\n{models}\n[run]\nmax_tracks = 2\nplan_retries = 2\n")
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "run", "Tidy up", "--repo", str(repo), "--yes"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config), "PYTHONPATH": str(PROJECT)},
    )
    output = done.stdout + done.stderr
    if "Traceback" in output:
        COUNTS.add("crashes")
    assert "Traceback" not in output, output[-3000:]
    refusal = "track plan: tracks: 3 tracks; at most 2 per plan"
    assert done.returncode != 0
    assert f"no valid answer after 3 attempts; last problem: {refusal}" in output, output[-3000:]
    log = [json.loads(line) for line in (repo / ".slop" / "events.jsonl").read_text().splitlines()]
    usage_tiers = {e["tier"] for e in log if e["kind"] == "usage"}
    assert usage_tiers == {"planner"}, usage_tiers  # not one lead call
    if any(e["kind"] == "plan_accepted" for e in log):
        COUNTS.add("half plans")
    assert not any(e["kind"] == "plan_accepted" for e in log)
    COUNTS.add("refused precisely")
    COUNTS.add("stopped clearly")
