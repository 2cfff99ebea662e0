"""Build the app for `slop tui` and `slop demo`: config, session factory, resume offer.

Nothing here imports a provider SDK: the session builds its providers on the first model call,
so the first frame is drawn before any SDK is loaded.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from slop_tui.conductor.planning import PlanReviewer
from slop_tui.config import Config, ConfigError, load_config
from slop_tui.errors import SlopError
from slop_tui.models import Tier
from slop_tui.tools.clutch import Clutch
from slop_tui.ui.app import SessionLike, SlopApp

DEMO_AGENTS = """# The offline demo: every tier plays the bundled scenario (no key, no network).
[models]
planner = "scripted:demo"
lead = "scripted:demo"
worker = "scripted:demo"
default_cheap = "scripted:demo"
"""


def first_config_problem(config: Config) -> str | None:
    """The first tier that cannot run, as `slop doctor` words it; None when all can."""
    for tier in Tier:
        try:
            config.model_for(tier)
        except ConfigError as exc:
            return str(exc)
    return None


def resume_offer(repo: Path) -> str | None:
    """A one-paragraph summary of an unfinished run in `repo/.slop/`, or None."""
    from slop_tui.conductor.status import run_outcome
    from slop_tui.store import Store

    store = Store(repo)
    try:
        state = store.load_state()
    except SlopError:
        return None  # a store it cannot read is reported when a run starts, not at the door
    finally:
        store.close()
    if state is None or state.finished or not state.tracks:
        return None
    return f"“{' '.join(state.prompt.split())}”: {run_outcome(state)}."


def build_app(
    repo: Path,
    *,
    env: Mapping[str, str] | None = None,
    demo: bool = False,
    initial_prompt: str = "",
    prefs_env: Mapping[str, str] | None = None,
) -> SlopApp:
    """The TUI on `repo` with the user's config (or `env`'s). A config problem is shown in the
    app with its fix (as `slop doctor` says it), never raised: the board still opens."""
    root = repo.resolve()
    if not root.is_dir():
        raise SlopError(f"repository {str(repo)!r} is not a directory")
    problem: str | None = None
    config: Config | None = None
    try:
        config = load_config(root, env=env)
        problem = first_config_problem(config)
    except ConfigError as exc:
        problem = str(exc)

    factory = None
    if config is not None and problem is None:
        runnable = config

        def factory(clutch: Clutch, reviewer: PlanReviewer, linear: bool) -> SessionLike:
            from slop_tui.conductor.session import Session
            from slop_tui.store.lock import hold_for_process

            # One writer: the board opens on a repository another slop is running (it only
            # reads), but a run or resume here takes the lock, and keeps it until the TUI
            # exits. A refusal is a SlopError, which the app shows in one line.
            hold_for_process(root)
            return Session(root, runnable, clutch=clutch, plan_reviewer=reviewer, linear=linear)

    return SlopApp(
        repo_root=root,
        session_factory=factory,
        config_problem=problem,
        demo=demo,
        initial_prompt=initial_prompt,
        resume_summary=None if demo else resume_offer(root),
        prefs_env=prefs_env,
        repo_overrides=config.repo_overrides if config is not None else None,
        config_env=env,
    )


def prepare_demo(base: Path | None = None) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the sample repository and an environment whose config plays the demo.

    Returns (repository, environment). The config lives in its own folder next to the copy,
    so the person's own `agents.toml` and keys are neither read nor touched.
    """
    from slop_tui.demo import copy_sample_repo

    workdir = Path(tempfile.mkdtemp(prefix="slop-demo-", dir=base))
    repo = copy_sample_repo(workdir / "sample_repo")
    config_dir = workdir / "config"
    config_dir.mkdir()
    (config_dir / "agents.toml").write_text(DEMO_AGENTS, encoding="utf-8")
    env = dict(os.environ)
    env["SLOP_CONFIG_DIR"] = str(config_dir)
    return repo, env
