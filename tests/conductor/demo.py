"""The bundled demo as the conductor tests use it: a copied sample, a scenario, a config."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import msgspec

from slop_tui.conductor.session import RunSummary, Session
from slop_tui.config import Config, load_config
from slop_tui.demo import DEMO_PROMPT, copy_sample_repo, demo_paths
from slop_tui.models import AnyEvent, Tier
from slop_tui.providers.scripted import Scenario, ScriptedReply, load_scenario
from slop_tui.tools.clutch import ApproveAll
from tests.conductor.helpers import Recording

VENV_BIN = str(Path(sys.executable).parent)

# The exact text of the interface the stub ticket writes (a signature no file had before).
NEW_SIGNATURE = "def load_settings(env: Mapping[str, str] | None = None) -> Settings:"


def scaled_scenario(dest: Path, scale: float) -> Path:
    """The demo scenario with every latency multiplied by `scale` (0: as fast as possible)."""
    scenario = load_scenario(demo_paths().scenario)

    def scaled(replies: list[ScriptedReply]) -> list[ScriptedReply]:
        return [msgspec.structs.replace(r, latency_s=r.latency_s * scale) for r in replies]

    fast = Scenario(
        planner=scaled(scenario.planner),
        lead=scaled(scenario.lead),
        worker={k: scaled(v) for k, v in scenario.worker.items()},
        default_cheap={k: scaled(v) for k, v in scenario.default_cheap.items()},
    )
    path = dest / "scenario.json"
    path.write_bytes(msgspec.json.encode(fast))
    return path


def write_config(config_dir: Path, scenario: Path, extra: str = "") -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    models = "\n".join(f'{tier} = "scripted:{scenario}"' for tier in ("planner", "lead", "worker", "default_cheap"))
    (config_dir / "agents.toml").write_text(f"[models]\n{models}\n{extra}")
    return config_dir


def demo_setup(base: Path, *, scale: float = 0.0) -> tuple[Path, Path, Config]:
    """(repository, config dir, loaded config) for a demo run under `base`."""
    repo = copy_sample_repo(base / "repo")
    config_dir = write_config(base / "config", scaled_scenario(base, scale))
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


@dataclass
class DemoRun:
    """One finished demo run, shared by the tests that only look at (or copy) its result."""

    repo: Path
    config: Config
    summary: RunSummary
    worker: Recording  # the worker tier's provider, with every request it was sent
    seen: list[AnyEvent]  # what a bus subscriber received
    session: Session


async def run_demo(repo: Path, config: Config) -> DemoRun:
    worker = Recording(Tier.WORKER, load_scenario(config.model_for(Tier.WORKER).model))
    session = Session(repo, config, clutch=ApproveAll(), providers={Tier.WORKER: worker})
    queue = session.bus.subscribe()
    summary = await session.run(DEMO_PROMPT)
    await session.close()
    seen: list[AnyEvent] = []
    while (event := queue.get_nowait()) is not None:
        seen.append(event)
    return DemoRun(repo, config, summary, worker, seen, session)
