"""Spend limits: a headless run stops cleanly at a limit and resumes once it is raised; with
someone to ask (the TUI), the run waits at the step gate and goes on once the limit is raised
for the run; planning holds at a limit too (no Tier 2 call after Tier 1 reached it, unless
raised); a repository may lower a limit, never raise it; a USD limit over an unpriced model
is said so."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from slop_tui.conductor.budget import Budget, BudgetReached, parse_amount
from slop_tui.conductor.session import Session
from slop_tui.conductor.spend import BudgetAnswer, BudgetAsker
from slop_tui.config import ConfigError, RunSettings, load_config
from slop_tui.demo import DEMO_PROMPT, copy_sample_repo
from slop_tui.errors import SlopError
from slop_tui.models import ErrorRaised, FilesRestored, ModelCallStarted, PlanAccepted, TicketState, Tier, Usage
from slop_tui.store import Store
from slop_tui.tools.clutch import ApproveAll
from tests.conductor.demo import DemoRun, scaled_scenario, tree, write_config


def slop(*args: str, config_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slop_tui", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        env={**os.environ, "SLOP_CONFIG_DIR": str(config_dir)},
    )


def test_a_token_limit_stops_the_run_cleanly_and_resume_after_raising_it_finishes(
    tmp_path: Path, demo: DemoRun
) -> None:
    repo = copy_sample_repo(tmp_path / "repo")
    original = tree(repo)
    scenario = scaled_scenario(tmp_path, 0.0, commands="true")
    # The demo spends ~127,000 tokens (cache reads included): 4,900 planning, 18,300 the stub,
    # then impl-config (26,200) and use-config (67,900) side by side. At 85,000, use-config
    # can never finish (its calls before the last one bring the run to 85,900) and has always
    # written app/storage.py by then (its second call starts at 54,100 at most); impl-config
    # finishes or not with the interleaving (under load it has).
    config_dir = write_config(tmp_path / "config", scenario, "[run]\nmax_run_tokens = 85000\n")
    run = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir)
    assert run.returncode == 1, run.stdout + run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("slop: budget reached: max_run_tokens 85,000 (spent "), run.stderr
    assert "raise it in your agents.toml [run] or stop)" in last
    assert "Traceback" not in run.stderr

    state = Store(repo).load_state()
    assert state is not None
    states = {t.id: t.state for _, t in state.tickets()}
    assert states["stub-config"] is TicketState.DONE
    assert states["use-config"] is TicketState.TODO and states["test-config"] is TicketState.TODO
    impl_done = states["impl-config"] is TicketState.DONE
    assert impl_done or states["impl-config"] is TicketState.TODO
    events = Store(repo).events()
    restored = {e.ticket_id for e in events if isinstance(e, FilesRestored)}
    # Every ticket stopped in flight got its files back; a finished one kept them.
    assert restored == ({"use-config"} if impl_done else {"impl-config", "use-config"})
    # No file half-changed: only app/config.py differs from the sample, as the stub left it, or
    # as impl-config finished it (the demo's final version).
    now = tree(repo)
    changed = {p for p in set(now) | set(original) if now.get(p) != original.get(p)}
    assert changed == {"app/config.py"}
    final = demo.repo.joinpath("app/config.py").read_bytes()
    assert (now["app/config.py"] == final) is impl_done

    refused = slop("resume", "--repo", str(repo), "--yes", config_dir=config_dir)
    assert refused.returncode == 1 and "budget reached: max_run_tokens" in refused.stderr

    write_config(tmp_path / "config", scenario, "[run]\nmax_run_tokens = 850000\n")
    resumed = slop("resume", "--repo", str(repo), "--yes", config_dir=config_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "run finished: 4/4 tickets done" in resumed.stdout, resumed.stdout[-2000:]
    assert tree(repo) == tree(demo.repo)


def test_a_usd_limit_over_an_unpriced_model_is_said_at_the_start(tmp_path: Path) -> None:
    repo = copy_sample_repo(tmp_path / "repo")
    scenario = scaled_scenario(tmp_path, 0.0, commands="true")
    # The token limit is reached by the first worker call (planning spends about 600): the run
    # stops there.
    limits = "[run]\nmax_run_usd = 0.01\nmax_run_tokens = 1000\n"
    config_dir = write_config(tmp_path / "config", scenario, limits)
    run = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir)
    # The scripted models have no price: the USD limit cannot count them; the token one can.
    assert run.returncode == 1, run.stdout + run.stderr
    assert "budget reached: max_run_tokens 1,000" in run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("run ") and "cannot be applied" in lines[1], run.stdout
    warnings = [line for line in run.stdout.splitlines() if "cannot be applied" in line]
    assert len(warnings) == 1, run.stdout
    assert warnings[0].startswith("budget: max_run_usd cannot be applied: no price for scripted:")
    logged = [e for e in Store(repo).events() if isinstance(e, ErrorRaised) and "cannot be applied" in e.message]
    assert len(logged) == 1


def _config(tmp_path: Path, user_run: str, repo_run: str) -> RunSettings:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".slop.toml").write_text(f"[run]\n{repo_run}\n")
    config_dir = write_config(tmp_path / "config", tmp_path / "s.json", f"[run]\n{user_run}\n")
    return load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)}).run


def test_a_repository_may_lower_a_limit(tmp_path: Path) -> None:
    run = _config(tmp_path, "max_run_usd = 5.0\nmax_ticket_tokens = 90000", "max_run_usd = 1.5\nmax_run_tokens = 200")
    assert run.max_run_usd == 1.5
    assert run.max_run_tokens == 200  # none of yours: any limit lowers it
    assert run.max_ticket_tokens == 90000


def test_a_repository_may_not_raise_a_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="above your own limit 5; a repository may only lower"):
        _config(tmp_path, "max_run_usd = 5", "max_run_usd = 50")


def test_limits_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_run_usd.*must be more than 0"):
        _config(tmp_path, "max_run_usd = 0", "")


def test_the_message_tells_the_overshoot_of_steps_in_flight() -> None:
    budget = Budget(RunSettings(max_ticket_tokens=1000))
    assert budget.observe(Usage(input_tokens=5000), Usage(input_tokens=600), "a") is None
    reached = budget.observe(Usage(input_tokens=6000), Usage(input_tokens=1100), "a")
    assert reached == BudgetReached(limit="max_ticket_tokens", value=1000, spent=1100, ticket_id="a")
    # Another worker's step in flight lands after the limit: the overshoot grows.
    budget.observe(Usage(input_tokens=7000), Usage(input_tokens=1250), "a")
    assert budget.reached is not None
    assert budget.reached.message() == (
        "budget reached: max_ticket_tokens 1,000 for ticket a (spent 1,250, 250 over from steps "
        "in flight; raise it in your agents.toml [run] or stop)"
    )
    assert budget.reached.short() == (
        "budget reached: max_ticket_tokens 1,000 (spent 1,250): raise by more than 250 in "
        "agents.toml [run] and resume, or stop"
    )
    assert Budget(RunSettings()).active is False


def test_a_limit_is_raised_only_above_its_spend() -> None:
    budget = Budget(RunSettings(max_run_tokens=1000, max_ticket_usd=0.5))
    budget.observe(Usage(input_tokens=1200), None, None)
    assert budget.reached is not None and budget.reached.limit == "max_run_tokens"
    for name, value, why in (
        ("max_run_tokens", 900, "not above the limit 1,000"),
        ("max_run_tokens", 1200, "not above the spend 1,200"),
        ("max_run_tokens", 1200.9, "not above the spend 1,200"),  # tokens are whole
        ("max_run_tokens", float("inf"), "inf is not a number"),
        ("max_ticket_tokens", 5000, "max_ticket_tokens is not set for this run"),
    ):
        with pytest.raises(SlopError, match=why):
            budget.raise_limit(name, value)  # type: ignore[arg-type]
        assert budget.limits["max_run_tokens"] == 1000 and budget.reached is not None
    assert budget.raise_limit("max_run_tokens", 2400) == 1000
    assert budget.reached is None and budget.limits["max_run_tokens"] == 2400
    assert budget.header(Usage(input_tokens=1200)) == "1,200/2,400 tok · top ticket $0.00/$0.50"


def test_the_header_shows_the_top_ticket_against_a_per_ticket_limit() -> None:
    budget = Budget(RunSettings(max_run_tokens=90_000, max_ticket_tokens=20_000, max_ticket_usd=0.5))
    tickets = [Usage(input_tokens=1_200), Usage(input_tokens=15_000, output_tokens=250, cost_usd=0.31), Usage()]
    assert budget.header(Usage(input_tokens=16_450), tickets) == (
        "16,450/90,000 tok · top ticket 15,250/20,000 tok · top ticket $0.31/$0.50"
    )
    assert budget.header(Usage()) == "0/90,000 tok · top ticket 0/20,000 tok · top ticket $0.00/$0.50"


def test_cache_reads_and_writes_count_toward_a_token_limit() -> None:
    """With prompt caching most of a ticket's input is cache reads: a token limit that skipped
    them (as it once did) let a run read many times its limit."""
    budget = Budget(RunSettings(max_run_tokens=1_000))
    first = Usage(input_tokens=50, cache_write_tokens=600, output_tokens=20)
    assert budget.observe(first, None, None) is None
    both = first + Usage(input_tokens=10, cache_read_tokens=600, output_tokens=20)
    reached = budget.observe(both, None, None)
    assert reached is not None and reached.spent == 1_300
    assert budget.header(both) == "1,300/1,000 tok"


def test_amounts_as_a_person_types_them() -> None:
    assert parse_amount("max_run_tokens", " 88,000 ") == 88000
    assert parse_amount("max_run_usd", "$2.50") == 2.5
    assert parse_amount("max_run_tokens", "1_000") == 1000
    for bad in ("", "ten", "nan", "1e999"):
        with pytest.raises(SlopError, match="is not a number"):
            parse_amount("max_run_tokens", bad)
    reached = BudgetReached(limit="max_run_usd", value=0.5, spent=0.5312)
    assert reached.suggested() == 1.04
    assert reached.question() == (
        "budget reached: max_run_usd $0.50 (spent $0.53, over by $0.03): raise by more than $0.03 or stop"
    )


_Asker = TypeVar("_Asker", bound=BudgetAsker)


async def _demo_run_asking(
    tmp_path: Path, max_run_tokens: int, asker_of: Callable[[Session], _Asker]
) -> tuple[Path, Session, _Asker]:
    """The demo run in a session whose budget questions `asker_of(session)` answers; it must
    end well. Returns the repository, the session and the asker."""
    repo = copy_sample_repo(tmp_path / "repo")
    config_dir = write_config(
        tmp_path / "config", scaled_scenario(tmp_path, 0.0, commands="true"),
        f"[run]\nmax_run_tokens = {max_run_tokens}\n",
    )
    session = Session(repo, load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)}), clutch=ApproveAll())
    asker = asker_of(session)
    session.budget_asker = asker
    try:
        summary = await session.run(DEMO_PROMPT)
    finally:
        await session.close()
    assert summary.ok, summary.message
    return repo, session, asker


class _RaiseWhenAllWait:
    """Answers like the TUI: raise, but only once every running worker waits at the gate;
    meanwhile no worker call may have started since the limit was reached."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.asked: list[BudgetReached] = []

    def worker_calls(self) -> int:
        return sum(1 for e in self.session.store.events() if isinstance(e, ModelCallStarted) and e.tier is Tier.WORKER)

    async def ask(self, reached: BudgetReached) -> BudgetAnswer:
        self.asked.append(reached)
        session = self.session
        assert session.dispatcher.paused
        started = self.worker_calls()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while session.spend.waiting < len(session.dispatcher.running()):
            assert loop.time() < deadline, "the running workers never reached the gate"
            await asyncio.sleep(0.01)
        assert session.spend.waiting >= 1
        assert self.worker_calls() == started  # the gate held every worker before its next call
        return BudgetAnswer.raise_to(1_000_000)


async def test_with_someone_to_ask_the_run_waits_at_the_gate_and_goes_on_once_raised(
    tmp_path: Path, demo: DemoRun
) -> None:
    repo, session, asker = await _demo_run_asking(tmp_path, 85_000, _RaiseWhenAllWait)
    assert [r.limit for r in asker.asked] == ["max_run_tokens"]
    assert session.budget.limits["max_run_tokens"] == 1_000_000
    assert tree(repo) == tree(demo.repo)
    events = Store(repo).events()
    assert not any(isinstance(e, FilesRestored) for e in events)  # nothing was stopped
    # In the log: asked, then raised, and no worker call started in between.
    notes = [i for i, e in enumerate(events) if isinstance(e, ErrorRaised) and e.message.startswith("budget ")]
    asked, raised = notes
    assert events[asked].message.startswith("budget reached: max_run_tokens 85,000 (spent ")
    assert events[raised].message == (
        "budget raised for this run: max_run_tokens 85,000 -> 1,000,000 (agents.toml is unchanged)"
    )
    between = events[asked:raised]
    assert not [e for e in between if isinstance(e, ModelCallStarted) and e.tier is Tier.WORKER]


def test_a_limit_reached_by_tier_1_stops_the_run_before_any_lead_call(tmp_path: Path) -> None:
    """Planning holds at a limit too: the demo's Tier 1 answer alone is over 50 tokens, so no
    Tier 2 call goes out (before, every lead call of the plan did, then the run stopped)."""
    repo = copy_sample_repo(tmp_path / "repo")
    original = tree(repo)
    config_dir = write_config(
        tmp_path / "config", scaled_scenario(tmp_path, 0.0, commands="true"), "[run]\nmax_run_tokens = 50\n"
    )
    run = slop("run", DEMO_PROMPT, "--repo", str(repo), "--yes", config_dir=config_dir)
    assert run.returncode == 1, run.stdout + run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("slop: budget reached: max_run_tokens 50 (spent "), run.stderr
    assert "Traceback" not in run.stderr
    events = Store(repo).events()
    tiers = [e.tier for e in events if isinstance(e, ModelCallStarted)]
    assert tiers == [Tier.PLANNER]
    assert not any(isinstance(e, PlanAccepted) for e in events)
    assert tree(repo) == original
    # Nothing to resume: the plan never existed; `slop run` again once the limit is raised.
    refused = slop("resume", "--repo", str(repo), "--yes", config_dir=config_dir)
    assert refused.returncode == 2 and "start it again with `slop run`" in refused.stderr


class _RaiseOnce:
    """Raises the reached limit to a million, once, and notes which calls had started then."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.asked: list[tuple[BudgetReached, list[Tier]]] = []

    async def ask(self, reached: BudgetReached) -> BudgetAnswer:
        started = [e.tier for e in self.session.store.events() if isinstance(e, ModelCallStarted)]
        self.asked.append((reached, started))
        return BudgetAnswer.raise_to(1_000_000)


async def test_with_someone_to_ask_planning_waits_at_the_limit_and_goes_on_once_raised(
    tmp_path: Path, demo: DemoRun
) -> None:
    repo, _, asker = await _demo_run_asking(tmp_path, 50, _RaiseOnce)
    # Asked once, after Tier 1 and before Tier 2: the lead call waited for the answer.
    [(reached, started)] = asker.asked
    assert reached.limit == "max_run_tokens" and reached.spent > 50
    assert started == [Tier.PLANNER]
    assert tree(repo) == tree(demo.repo)
