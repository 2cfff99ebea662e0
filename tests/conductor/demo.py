"""The bundled demo as the conductor tests use it: a copied sample, a scenario, a config."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from slop_tui.conductor.session import RunSummary, Session
from slop_tui.config import Config, load_config
from slop_tui.demo import DEMO_PROMPT, copy_sample_repo, demo_paths
from slop_tui.models import AnyEvent, Tier
from slop_tui.providers.base import ModelRequest
from slop_tui.providers.scripted import Scenario, ScriptedReply, SentBack, load_scenario
from slop_tui.store.reducer import SessionState
from slop_tui.tools.clutch import ApproveAll
from tests.conductor.helpers import Recording

VENV_BIN = str(Path(sys.executable).parent)

# The exact text of the interface the stub ticket writes (a signature no file had before).
NEW_SIGNATURE = "def load_settings(env: Mapping[str, str] | None = None) -> Settings:"


def each_reply(scenario: Scenario, change: Callable[[ScriptedReply], ScriptedReply]) -> Scenario:
    """`scenario` with `change` applied to every reply: every tier's, the send-back ones, and
    each reply's alternative for a rejected call."""

    def changed(reply: ScriptedReply) -> ScriptedReply:
        alt = reply.if_rejected
        return change(msgspec.structs.replace(reply, if_rejected=changed(alt) if alt else None))

    def each(replies: list[ScriptedReply]) -> list[ScriptedReply]:
        return [changed(r) for r in replies]

    return Scenario(
        planner=each(scenario.planner),
        lead=each(scenario.lead),
        worker={k: each(v) for k, v in scenario.worker.items()},
        default_cheap={k: each(v) for k, v in scenario.default_cheap.items()},
        sent_back=SentBack(planner=each(scenario.sent_back.planner), lead=each(scenario.sent_back.lead)),
    )


def scaled_scenario(dest: Path, scale: float, *, commands: str | None = None) -> Path:
    """The demo scenario with every latency multiplied by `scale` (0: as fast as possible).

    `commands`: what every `run_command` of the workers runs instead of the demo's (`"true"`
    for the tests that play the demo for something else than its commands: the sample's
    `pytest` costs ~0.6 s of CPU a run under the sandbox, four times a demo)."""

    def scaled(reply: ScriptedReply) -> ScriptedReply:
        calls = reply.tool_calls
        if commands is not None:
            calls = [
                msgspec.structs.replace(c, arguments={**c.arguments, "command": commands})
                if c.tool == "run_command"
                else c
                for c in calls
            ]
        return msgspec.structs.replace(reply, latency_s=reply.latency_s * scale, tool_calls=calls)

    path = dest / "scenario.json"
    path.write_bytes(msgspec.json.encode(each_reply(load_scenario(demo_paths().scenario), scaled)))
    return path


def write_config(config_dir: Path, scenario: Path, extra: str = "") -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    models = "\n".join(f'{tier} = "scripted:{scenario}"' for tier in ("planner", "lead", "worker", "default_cheap"))
    (config_dir / "agents.toml").write_text(f"[models]\n{models}\n{extra}")
    return config_dir


def demo_setup(base: Path, *, scale: float = 0.0, commands: str | None = None) -> tuple[Path, Path, Config]:
    """(repository, config dir, loaded config) for a demo run under `base` (`commands`: see
    `scaled_scenario`)."""
    repo = copy_sample_repo(base / "repo")
    config_dir = write_config(base / "config", scaled_scenario(base, scale, commands=commands))
    return repo, config_dir, load_config(repo, env={"SLOP_CONFIG_DIR": str(config_dir)})


def sample_tests_pass(repo: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def tree(repo: Path) -> dict[str, bytes]:
    """Every file of the repository except tool state and caches: what a run ends in."""
    skip = {".slop", "__pycache__", ".pytest_cache", ".git"}
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and not (set(p.relative_to(repo).parts) & skip)
    }


class DemoRecord(msgspec.Struct, kw_only=True):
    """What a finished demo run leaves for the tests besides its repository (a file, so the
    xdist workers share one run: see `demo` in tests/conftest.py)."""

    summary: RunSummary
    requests: list[tuple[str | None, ModelRequest]]  # each request the worker tier was sent
    seen: list[AnyEvent]  # what a bus subscriber received
    state: SessionState  # the session's state in memory at the end
    rebuilt: list[tuple[str, list[str]]]  # the stub resolver's record


class DemoRun(DemoRecord, kw_only=True):
    """One finished demo run, shared by the tests that only look at (or copy) its result: its
    record, its repository and its config."""

    repo: Path
    config: Config

    @classmethod
    def load(cls, repo: Path, config: Config, record: bytes) -> DemoRun:
        found = msgspec.json.decode(record, type=DemoRecord)
        return cls(repo=repo, config=config, **msgspec.structs.asdict(found))


async def run_demo(repo: Path, config: Config) -> bytes:
    """Play the demo to its end in `repo`; its `DemoRecord`, encoded."""
    worker = Recording(Tier.WORKER, load_scenario(config.model_for(Tier.WORKER).model))
    session = Session(repo, config, clutch=ApproveAll(), providers={Tier.WORKER: worker})
    queue = session.bus.subscribe()
    summary = await session.run(DEMO_PROMPT)
    await session.close()
    seen: list[AnyEvent] = []
    while (event := queue.get_nowait()) is not None:
        seen.append(event)
    record = DemoRecord(
        summary=summary, requests=worker.requests, seen=seen, state=session.state,
        rebuilt=session.resolver.rebuilt,
    )
    return msgspec.json.encode(record)
