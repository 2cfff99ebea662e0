"""`slop doctor`: which config files are in use, each tier's model and key, and what to fix.

Keys are shown masked (first 4 characters and the length at most). Exits 1 when a tier cannot
run, so a script can check a setup before starting a session. Every text that came from a file
(paths, model names, messages quoting a key name) goes through `display.sanitize`: a cloned
repository must not be able to write to the terminal through doctor.
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slop_tui.config import Config

NAME = "doctor"
HELP = "check the configuration: files in use, each tier's model and key (masked), what is missing"
DESCRIPTION = (
    "Print the config files in use, the overrides the repository's .slop.toml makes, each "
    "tier's provider and model, whether a key was found (masked), file-permission problems, and "
    "what is missing with the fix, and which bwrap runs commands with its self-test. Exits 1 "
    "when a tier cannot run or the sandbox's self-test fails."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="repository whose .slop.toml is checked too (default: the current directory)",
    )


def run(args: argparse.Namespace) -> int:
    from slop_tui.config import (
        AGENTS_FILE,
        CONFIG_DIR_ENV,
        CREDENTIALS_FILE,
        OLD_REPO_AGENTS,
        REPO_AGENTS,
        Config,
        ConfigError,
        CredentialsError,
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
    credentials_state = _state(credentials, follow=True, mode=True)
    if credentials_state == "not found":
        credentials_state = "not found: keys from the environment only"
    agents_state = _state(agents, follow=True)
    if agents_state == "not found":
        agents_state = "not found: built-in defaults"
    root = repo.resolve()
    local = root / REPO_AGENTS
    _row("config directory", directory, origin)
    _row(f"  {AGENTS_FILE}", agents, agents_state)
    _row(f"  {CREDENTIALS_FILE}", credentials, credentials_state)
    _row("repository", root, "")
    _row(f"  {REPO_AGENTS}", local, _state(local, follow=False))
    old = root / OLD_REPO_AGENTS
    if os.path.lexists(old):
        _row(f"  {OLD_REPO_AGENTS}", old, f"ignored: slop no longer reads it; move it to {REPO_AGENTS}")
    print()

    config: Config
    try:
        config = load_config(repo)
    except CredentialsError as exc:
        # Refused as ssh refuses a readable key; carry on without it to report the rest.
        problems.append(str(exc))
        try:
            config = load_config(repo, read_credentials=False)
        except ConfigError as inner:
            return _report([*problems, str(inner)], cannot_run=True)
    except ConfigError as exc:
        return _report([f"{exc}; fix the file named above"], cannot_run=True)

    if os.path.lexists(local):
        print(f"overrides by {REPO_AGENTS}")
        for line in config.repo_overrides or ["none: it changes nothing"]:
            _print(f"  {line}")
        print()

    print("tiers")
    failed = False
    for tier in Tier:
        try:
            spec = config.model_for(tier)
        except ConfigError as exc:
            failed = True
            problems.append(str(exc))
            _print(f"  {tier.value:<14} {config.models.get(tier.value, '(none)'):<36} CANNOT RUN")
            continue
        if spec.provider.kind == "scripted":
            what = f"offline scenario {spec.model}" if spec.model else "offline built-in demo scenario"
        elif spec.api_key is not None:
            source = config.key_sources.get(spec.provider.name, "")
            what = f"key {spec.api_key.masked()} from {source}"
        else:
            what = "no key needed"
        where = f" at {spec.provider.base_url}" if spec.provider.base_url else ""
        _print(f"  {tier.value:<14} {spec.label:<36} ok: {what}{where}")
    print()
    _prices(config)
    print()
    problems += _sandbox(root, config)
    print()
    for warning in config.warnings:
        _print(f"warning: {warning}")
    if config.warnings:
        print()
    return _report(problems, cannot_run=failed or bool(problems))


def _prices(config: Config) -> None:
    """The prices the ledger will charge each tier's calls at (known without a key)."""
    from slop_tui.config import DEFAULT_PRICES, PRICES_DATED
    from slop_tui.models import Tier

    print("prices (USD per million tokens: input / cache write / cache read / output)")
    for tier in Tier:
        label = config.models.get(tier.value, "")
        price = config.prices.get(label)
        if label.startswith("scripted"):
            what = "offline: no cost"
        elif price is None:
            what = f'unpriced: costs show "-" (add [prices."{label}"] to set one)'
        else:
            what = (
                f"{price.input:g} / {price.write_price():g} / {price.read_price():g} / "
                f"{price.output:g}  "
                + ("(built-in, " + PRICES_DATED + ")" if price == DEFAULT_PRICES.get(label)
                   else "(your [prices])")
            )
        _print(f"  {tier.value:<14} {label:<36} {what}")


def _sandbox(root: Path, config: Config) -> list[str]:
    """Print which bwrap commands run under and the self-test's findings; the problems."""
    from slop_tui.sandbox import detect, self_test

    print("sandbox")
    info = detect()
    if not info.available:
        # The reason names the fix (`sandbox.detect`).
        _print(f"  unavailable: {info.reason or 'no usable bwrap'}")
        if config.run.allow_unsandboxed:
            _print("  commands run unsandboxed ([run] allow_unsandboxed = true in your config)")
        else:
            _print("  commands are marked unsandboxed at the clutch, and --yes is refused "
                   "(unless [run] allow_unsandboxed = true in your own config)")
        return []
    _print(f"  bwrap              {info.bwrap} ({info.version or 'version unknown'})")
    _print(f"  network            {config.run.network} ([run] network)")
    found = self_test(root)
    if not found:
        _print("  self-test          ok: namespaces created, network off, home hidden")
        return []
    _print(f"  self-test          FAILED: {len(found)} problem{'s' if len(found) != 1 else ''}")
    return [f"sandbox self-test: {problem}" for problem in found]


def _state(path: Path, *, follow: bool, mode: bool = False) -> str:
    """What is at `path`, from `stat` alone: doctor never opens a FIFO or a device to find out."""
    try:
        info = path.stat() if follow else path.lstat()
    except FileNotFoundError:
        return "not found"
    except OSError as exc:
        return f"cannot check: {exc.strerror or exc}"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link: refused"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file: refused"
    return f"found, mode {stat.S_IMODE(info.st_mode):04o}" if mode else "found"


def _print(text: str) -> None:
    from slop_tui.display import sanitize

    print(sanitize(text, one_line=True))


def _row(label: str, path: Path, state: str) -> None:
    _print(f"{label:<21}{path}" + (f"  ({state})" if state else ""))


def _report(problems: list[str], *, cannot_run: bool) -> int:
    if not problems:
        print("every tier can run")
        return 0
    print("problems")
    for problem in problems:
        _print(f"  - {problem}")
    return 1 if cannot_run else 0
