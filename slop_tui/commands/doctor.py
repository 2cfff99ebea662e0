"""`slop doctor`: which config files are in use, each tier's model and key, and what to fix.

Keys are shown masked (first 4 characters and the length at most). Exits 1 when a tier cannot
run, so a script can check a setup before starting a session.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "doctor"
HELP = "check the configuration: files in use, each tier's model and key (masked), what is missing"
DESCRIPTION = (
    "Print the config files in use, each tier's provider and model, whether a key was found "
    "(masked), file-permission problems, and what is missing with the fix. Exits 1 when a tier "
    "cannot run."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="repository whose .slop/agents.toml is checked too (default: the current directory)",
    )


def run(args: argparse.Namespace) -> int:
    import os

    from slop_tui.config import (
        AGENTS_FILE,
        CONFIG_DIR_ENV,
        CREDENTIALS_FILE,
        REPO_AGENTS,
        Config,
        ConfigError,
        CredentialsPermissionError,
        config_dir,
        load_config,
    )
    from slop_tui.models import Tier

    repo: Path = args.repo
    directory = config_dir()
    problems: list[str] = []

    origin = f"from ${CONFIG_DIR_ENV}" if os.environ.get(CONFIG_DIR_ENV, "").strip() else "default"
    agents = directory / AGENTS_FILE
    credentials = directory / CREDENTIALS_FILE
    if credentials.is_file():
        credentials_state = f"found, mode {credentials.stat().st_mode & 0o777:04o}"
    else:
        credentials_state = "not found: keys from the environment only"
    local = repo.resolve() / REPO_AGENTS
    _row("config directory", directory, origin)
    _row(f"  {AGENTS_FILE}", agents, "found" if agents.is_file() else "not found: built-in defaults")
    _row(f"  {CREDENTIALS_FILE}", credentials, credentials_state)
    _row("repository", repo.resolve(), "")
    _row(f"  {REPO_AGENTS}", local, "found" if local.is_file() else "not found")
    print()

    config: Config
    try:
        config = load_config(repo)
    except CredentialsPermissionError as exc:
        # Refused as ssh refuses a readable key; carry on without it to report the rest.
        problems.append(str(exc))
        try:
            config = load_config(repo, read_credentials=False)
        except ConfigError as inner:
            return _report([*problems, str(inner)], cannot_run=True)
    except ConfigError as exc:
        return _report([f"{exc}; fix the file named above"], cannot_run=True)

    print("tiers")
    failed = False
    for tier in Tier:
        try:
            spec = config.model_for(tier)
        except ConfigError as exc:
            failed = True
            problems.append(str(exc))
            print(f"  {tier.value:<14} {config.models.get(tier.value, '(none)'):<36} CANNOT RUN")
            continue
        if spec.provider.kind == "scripted":
            what = f"offline scenario {spec.model}" if spec.model else "offline built-in demo scenario"
        elif spec.api_key is not None:
            source = config.key_sources.get(spec.provider.name, "")
            what = f"key {spec.api_key.masked()} from {source}"
        else:
            what = "no key needed"
        where = f" at {spec.provider.base_url}" if spec.provider.base_url else ""
        print(f"  {tier.value:<14} {spec.label:<36} ok: {what}{where}")
    print()
    for warning in config.warnings:
        print(f"warning: {warning}")
    if config.warnings:
        print()
    return _report(problems, cannot_run=failed or bool(problems))


def _row(label: str, path: Path, state: str) -> None:
    print(f"{label:<21}{path}" + (f"  ({state})" if state else ""))


def _report(problems: list[str], *, cannot_run: bool) -> int:
    if not problems:
        print("every tier can run")
        return 0
    print("problems")
    for problem in problems:
        print(f"  - {problem}")
    return 1 if cannot_run else 0
